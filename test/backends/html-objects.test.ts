/**
 * Objects stored as HTML (`text/html`, as `aws s3 cp` labels `.html` files) are the store's objects, not a web page
 * in its place: every read path gives their bytes on MinIO (with and without the AWS SDK), moto and
 * fake-gcs-server. Also through a proxy that drops the ETag from MinIO's GET and HEAD answers, as some S3 stores
 * answer for some objects: the store's own `x-amz-*` headers still mark the answer as the store's.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import type { StorageBackend } from "../../src/backends/backend.ts";
import { GcsBackend } from "../../src/backends/gcs/index.ts";
import { S3Backend } from "../../src/backends/s3/index.ts";
import { collectBytes } from "../../src/backends/streams.ts";
import { gcsOptions } from "../support/gcs.ts";
import { s3Options } from "../support/s3.ts";
import { gcsEnv, minioEnv, motoEnv, skipUnless, type S3ServerEnv } from "../support/servers.ts";

const PAGE = Buffer.from(`<!doctype html><html><body>${"report row\n".repeat(30_000)}</body></html>`);
const SMALL = Buffer.from("<html><body>index</body></html>");
const KEY = "site/index.html";
const SMALL_KEY = "site/small.html";

async function bytesIn(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  return Buffer.from(await collectBytes(stream));
}

/** Writes both pages through `writer`, then reads them through `reader` by every path it has. */
async function readsEveryWay(writer: StorageBackend, reader: StorageBackend, pinned: boolean): Promise<void> {
  await writer.put(KEY, PAGE, { contentType: "text/html; charset=utf-8" });
  await writer.put(SMALL_KEY, SMALL, { contentType: "text/html" });
  assert.deepEqual(Buffer.from(await reader.get(KEY)), PAGE, "get");
  assert.deepEqual(Buffer.from(await reader.get(SMALL_KEY)), SMALL, "get of a small object");
  assert.deepEqual(Buffer.from(await reader.get(KEY, { range: { offset: 5, length: 10 } })), PAGE.subarray(5, 15), "ranged get");
  assert.deepEqual(Buffer.from(await reader.get(KEY, { range: { suffix: 10 } })), PAGE.subarray(-10), "suffix get");
  assert.deepEqual(await bytesIn(await reader.getStream(KEY)), PAGE, "getStream");
  assert.equal((await reader.head(KEY)).size, PAGE.byteLength, "head");
  assert.equal((await reader.head(SMALL_KEY)).size, SMALL.byteLength, "head of a small object");
  if (reader.readRangeInto !== undefined) {
    const chunks: Uint8Array[] = [];
    const taken = await reader.readRangeInto(KEY, { range: { offset: 0, length: 100_000 } }, { write: async (chunk: Uint8Array) => void chunks.push(chunk) });
    // undefined: declined (the caller then reads it otherwise); a number: these bytes, in order.
    if (taken !== undefined) assert.deepEqual(Buffer.concat(chunks), PAGE.subarray(0, 100_000), "readRangeInto");
  }
  if (pinned) {
    const { revision } = await reader.head(KEY);
    assert.deepEqual(Buffer.from(await reader.get(KEY, { ifRevision: revision })), PAGE, "get pinned to a revision");
    await reader.copy(KEY, "site/copy.html");
    assert.deepEqual(Buffer.from(await reader.get("site/copy.html")), PAGE, "copy");
  }
}

function s3Suite(label: string, server: S3ServerEnv | undefined, skip: false | string, credentials: "fixed" | "provider"): void {
  describe(`objects stored as HTML on ${label}`, { skip }, () => {
    it("read as the store's objects on every read path", async () => {
      const options = s3Options(server!, { prefix: `html-${randomUUID()}` });
      const fixed = options.credentials as { accessKeyId: string; secretAccessKey: string };
      const backend = new S3Backend(credentials === "fixed" ? options : { ...options, credentials: async () => fixed });
      try {
        await readsEveryWay(backend, backend, true);
      } finally {
        await backend.deleteMany([KEY, SMALL_KEY, "site/copy.html"]);
        await backend.close();
      }
    });
  });
}

const minio = minioEnv();
const minioSkip = skipUnless(minio, "MinIO", "TEST_MINIO_ENDPOINT");
s3Suite("MinIO", minio, minioSkip, "fixed");
s3Suite("MinIO through the AWS SDK", minio, minioSkip, "provider");
const moto = motoEnv();
s3Suite("moto", moto, skipUnless(moto, "moto", "TEST_MOTO_ENDPOINT"), "fixed");

const gcs = gcsEnv();
describe("objects stored as HTML on fake-gcs-server", { skip: skipUnless(gcs, "fake-gcs-server", "TEST_GCS_ENDPOINT") }, () => {
  it("read as the store's objects on every read path", async () => {
    const backend = new GcsBackend(gcsOptions(gcs!, { prefix: `html-${randomUUID()}` }));
    try {
      await readsEveryWay(backend, backend, true);
    } finally {
      await backend.deleteMany([KEY, SMALL_KEY, "site/copy.html"]);
      await backend.close();
    }
  });
});

describe("objects stored as HTML on MinIO, answered without their ETag", { skip: minioSkip }, () => {
  let proxy: Server;
  let endpoint = "";
  before(async () => {
    const target = new URL(minio!.endpoint);
    proxy = createServer((incoming, outgoing) => {
      const upstream = httpRequest(
        { hostname: target.hostname, port: target.port, method: incoming.method, path: incoming.url, headers: incoming.headers },
        (answer) => {
          const headers = { ...answer.headers };
          if (incoming.method === "GET" || incoming.method === "HEAD") delete headers.etag;
          outgoing.writeHead(answer.statusCode ?? 502, headers);
          answer.pipe(outgoing);
        },
      );
      upstream.on("error", () => outgoing.destroy());
      incoming.pipe(upstream);
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    endpoint = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => proxy.close(() => resolve())));

  for (const credentials of ["fixed", "provider"] as const) {
    it(`read as the store's objects (${credentials === "fixed" ? "without" : "through"} the AWS SDK)`, async () => {
      const options = s3Options(minio!, { prefix: `html-${randomUUID()}` });
      const fixed = options.credentials as { accessKeyId: string; secretAccessKey: string };
      const direct = new S3Backend(options);
      const viaProxy = new S3Backend({ ...options, endpoint, ...(credentials === "fixed" ? {} : { credentials: async () => fixed }) });
      try {
        await readsEveryWay(direct, viaProxy, false);
      } finally {
        await direct.deleteMany([KEY, SMALL_KEY]);
        await direct.close();
        await viaProxy.close();
      }
    });
  }
});
