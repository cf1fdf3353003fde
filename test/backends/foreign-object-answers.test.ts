/**
 * An endpoint that answers every request 200 with an HTML page (a captive portal, a proxy's login page, a web server
 * on the wrong port) is not read as an object's content: every read of one object (get, getStream, head, a ranged
 * read into a sink) fails TRANSIENT naming the endpoint and the key, on every request path of both backends, and no
 * byte of the page reaches a caller's sink.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import type { StorageBackend } from "../../src/backends/backend.ts";
import { isForeignObjectAnswer } from "../../src/backends/foreign-answer.ts";
import { GcsBackend } from "../../src/backends/gcs/index.ts";
import { S3Backend } from "../../src/backends/s3/index.ts";
import { collectBytes } from "../../src/backends/streams.ts";
import { rejectsWithCode } from "../conformance/helpers.ts";

const PAGE = "<!DOCTYPE html><html><head><title>Sign in to the guest network</title></head><body>Sign in</body></html>";
const fixed = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" };
const KEY = "runs/v0/checkpoints/model.bin";

describe("object reads from an endpoint answering 200 text/html", () => {
  let server: Server;
  let endpoint = "";
  before(async () => {
    // As a web server serving a static page answers: a range asked for gets 206 and that part of the page.
    server = createServer((request, response) => {
      request.resume();
      const page = Buffer.from(PAGE);
      const range = /^bytes=(\d+)-(\d*)$/.exec(request.headers.range ?? "");
      const start = range === null ? 0 : Number(range[1]);
      const end = range === null || range[2] === "" ? page.byteLength - 1 : Math.min(Number(range[2]), page.byteLength - 1);
      const body = page.subarray(start, end + 1);
      const headers = { "content-type": "text/html; charset=utf-8", "content-length": body.byteLength };
      if (range === null) response.writeHead(200, headers);
      else response.writeHead(206, { ...headers, "content-range": `bytes ${start}-${end}/${page.byteLength}` });
      response.end(request.method === "HEAD" ? undefined : body);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  /** Every single-object read fails TRANSIENT naming the endpoint and the key; a ranged read hands the sink nothing. */
  async function refusesEveryRead(backend: StorageBackend, store: "S3" | "GCS"): Promise<void> {
    const where = backend.describe(KEY);
    const named = (message: string, withBody: boolean): void => {
      assert.ok(message.includes(endpoint), message);
      assert.ok(message.includes(where), message);
      assert.match(message, new RegExp(`did not answer as an? ${store} store`));
      if (withBody) assert.ok(message.includes('body "<!DOCTYPE html><html><head><title>Sign in'), message);
    };
    named((await rejectsWithCode(backend.get(KEY), "TRANSIENT", "get")).message, true);
    named((await rejectsWithCode(backend.get(KEY, { range: { offset: 10, length: 20 } }), "TRANSIENT", "ranged get")).message, false);
    named((await rejectsWithCode(async () => collectBytes(await backend.getStream(KEY)), "TRANSIENT", "getStream")).message, true);
    // A HEAD answer has no body; GCS reads an object's metadata as JSON, so its body is the page.
    named((await rejectsWithCode(backend.head(KEY), "TRANSIENT", "head")).message, store === "GCS");
    const handed: Uint8Array[] = [];
    const sink = { write: async (bytes: Uint8Array) => void handed.push(Uint8Array.from(bytes)) };
    const into = backend.readRangeInto?.(KEY, { range: { offset: 0, length: 64 } }, sink);
    // Declined (the caller reads through getStream, refused above) or refused: never the page's bytes.
    const outcome = await Promise.resolve(into).then(
      (count) => ({ count }),
      (error: unknown) => ({ error }),
    );
    if ("error" in outcome) named((await rejectsWithCode(Promise.reject(outcome.error), "TRANSIENT", "readRangeInto")).message, true);
    else assert.equal(outcome.count, undefined, "readRangeInto took the page");
    assert.deepEqual(handed, [], "no byte of the page reached the sink");
  }

  it("S3 without the SDK (plain HTTP route)", async () => {
    const backend = new S3Backend({ bucket: "bucket", prefix: "html", endpoint, region: "us-east-1", credentials: fixed });
    try {
      await refusesEveryRead(backend, "S3");
    } finally {
      await backend.close();
    }
  });

  it("S3 through the SDK's handler, signed without its stack (a credentials provider)", async () => {
    const backend = new S3Backend({ bucket: "bucket", prefix: "html", endpoint, region: "us-east-1", credentials: async () => fixed, maxAttempts: 1 });
    try {
      await refusesEveryRead(backend, "S3");
    } finally {
      await backend.close();
    }
  });

  it("S3 through the SDK's own commands (a caller's client), whole downloads in parallel ranges included", async () => {
    const { S3Client } = await import("@aws-sdk/client-s3");
    const client = new S3Client({ endpoint, region: "us-east-1", credentials: fixed, forcePathStyle: true, maxAttempts: 1 });
    // The endpoint given too, for the messages: the backend does not read it from a caller's client.
    const backend = new S3Backend({ bucket: "bucket", prefix: "html", client, endpoint, readConcurrency: 4 });
    try {
      await refusesEveryRead(backend, "S3");
    } finally {
      await backend.close();
      client.destroy();
    }
  });

  it("GCS", async () => {
    const backend = new GcsBackend({ bucket: "bucket", prefix: "html", apiEndpoint: endpoint });
    try {
      await refusesEveryRead(backend, "GCS");
    } finally {
      await backend.close();
    }
  });
});

describe("which success answers to an object read are not the store's", () => {
  const lookup = (headers: Readonly<Record<string, string>>) => headers;

  it("an HTML page without the headers the store sends with every object", () => {
    assert.ok(isForeignObjectAnswer("s3", lookup({ "content-type": "text/html" })));
    assert.ok(isForeignObjectAnswer("s3", lookup({ "content-type": "Text/HTML; charset=UTF-8", "last-modified": "Sat, 05 Dec 2026 21:17:12 GMT" })));
    assert.ok(isForeignObjectAnswer("s3", lookup({ "content-type": "application/xhtml+xml" })));
    assert.ok(isForeignObjectAnswer("gcs", lookup({ "content-type": "text/html", etag: '"5e2b-61a"' })), "a web server's ETag does not make it GCS");
  });

  it("objects stored as HTML, as MinIO, moto and fake-gcs-server serve them, and answers that are not HTML", () => {
    // Header sets as these servers answer GET and HEAD of an object stored with content type text/html.
    assert.ok(!isForeignObjectAnswer("s3", lookup({ "content-type": "text/html", etag: '"528849d6251d07c74fae1f7debb858bf"', "x-amz-request-id": "18EE782C67A48F72" })));
    assert.ok(!isForeignObjectAnswer("s3", lookup({ "content-type": "text/html", etag: '"528849d6251d07c74fae1f7debb858bf"', "x-amzn-requestid": "5FuDUmmAjx" })));
    assert.ok(!isForeignObjectAnswer("gcs", lookup({ "content-type": "text/html", "x-goog-generation": "1796505433336177", "x-goog-hash": "crc32c=n9MB9A==" })));
    assert.ok(!isForeignObjectAnswer("gcs", lookup({ "content-type": "text/html", "x-goog-stored-content-length": "14" })));
    assert.ok(!isForeignObjectAnswer("s3", lookup({})));
    assert.ok(!isForeignObjectAnswer("s3", lookup({ "content-type": "application/octet-stream" })));
    assert.ok(!isForeignObjectAnswer("gcs", lookup({ "content-type": "application/json" })));
  });

  it("S3: an HTML object answered without an ETag, as some stores answer, but with an x-amz-* or x-amzn-* header", () => {
    // SeaweedFS after a server-side copy, s3gw for multipart objects, Alluxio's proxy: the store's request ids remain.
    assert.ok(!isForeignObjectAnswer("s3", lookup({ "content-type": "text/html", "x-amz-request-id": "18EE782C67A48F72", "x-amz-id-2": "dd9025bab4ad464b" })));
    assert.ok(!isForeignObjectAnswer("s3", lookup({ "Content-Type": "text/html", "X-Amzn-RequestId": "5FuDUmmAjx" })));
    assert.ok(!isForeignObjectAnswer("s3", new Map([["content-type", "text/html"], ["x-amz-version-id", "null"]])));
    assert.ok(isForeignObjectAnswer("s3", lookup({ "content-type": "text/html", "x-amzfoo": "1", "x-goog-generation": "1" })), "neither is an S3 header");
  });
});
