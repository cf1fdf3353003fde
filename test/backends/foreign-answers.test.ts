/**
 * An endpoint that answers 200 with an HTML page (a captive portal, a proxy's login page, a web server on the
 * wrong port) is not read as an empty store: listings and the conditional-write checks fail TRANSIENT, naming the
 * endpoint and what came back.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { CREATE_ONLY } from "../../src/backends/backend.ts";
import { GcsBackend } from "../../src/backends/gcs/index.ts";
import { S3Backend } from "../../src/backends/s3/index.ts";
import { isListingDocument } from "../../src/backends/s3/list-answer.ts";
import { rejectsWithCode } from "../conformance/helpers.ts";

const PAGE = "<html><body><h1>Welcome to nginx!</h1></body></html>";
const fixed = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" };

describe("an endpoint answering 200 text/html", () => {
  let server: Server;
  let endpoint = "";
  const seen: string[] = [];
  before(async () => {
    server = createServer((request, response) => {
      seen.push(`${request.method ?? ""} ${request.url ?? ""}`);
      request.resume();
      response.writeHead(200, { "content-type": "text/html" });
      response.end(PAGE);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const named = (message: string, withHeaders: boolean) => {
    assert.ok(message.includes(endpoint), message);
    assert.match(message, /did not answer as an? (S3|GCS) store/);
    assert.ok(message.includes('body "<html><body><h1>Welcome to nginx!'), message);
    if (withHeaders) assert.ok(message.includes("HTTP 200, content-type text/html"), message);
  };

  it("S3 without the SDK (plain HTTP route): a listing fails TRANSIENT", async () => {
    const backend = new S3Backend({ bucket: "bucket", endpoint, region: "us-east-1", credentials: fixed });
    try {
      named((await rejectsWithCode(backend.listPage(""), "TRANSIENT", "listPage")).message, true);
      named((await rejectsWithCode(toArray(backend.list("runs/")), "TRANSIENT", "list")).message, true);
    } finally {
      await backend.close();
    }
  });

  it("S3 through the SDK: a listing fails TRANSIENT, and the conditional-write check says so rather than NOT_SUPPORTED", async () => {
    // A credentials provider leaves every request to the SDK.
    const backend = new S3Backend({ bucket: "bucket", prefix: "html-sdk", endpoint, region: "us-east-1", credentials: async () => fixed, maxAttempts: 1 });
    try {
      named((await rejectsWithCode(backend.listPage(""), "TRANSIENT", "listPage")).message, true);
      named((await rejectsWithCode(backend.put("claim.json", "{}", { mode: CREATE_ONLY }), "TRANSIENT", "create-only put")).message, true);
    } finally {
      await backend.close();
    }
  });

  it("GCS: listings and the conditional-write check fail TRANSIENT (not an empty store, not a checksum mismatch)", async () => {
    const backend = new GcsBackend({ bucket: "bucket", prefix: "html", apiEndpoint: endpoint });
    try {
      named((await rejectsWithCode(backend.listPage(""), "TRANSIENT", "listPage")).message, false);
      named((await rejectsWithCode(toArray(backend.list("runs/")), "TRANSIENT", "list")).message, false);
      named((await rejectsWithCode(backend.put("claim.json", "{}", { mode: CREATE_ONLY }), "TRANSIENT", "create-only put")).message, false);
    } finally {
      await backend.close();
    }
  });

  it("takes a ListBucketResult with or without a declaration, and nothing else", () => {
    assert.ok(isListingDocument('<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name></ListBucketResult>'));
    assert.ok(isListingDocument("<ListBucketResult><Name>b</Name></ListBucketResult>"));
    assert.ok(!isListingDocument(PAGE));
    assert.ok(!isListingDocument(""));
    assert.ok(!isListingDocument('<?xml version="1.0"?><Error><Code>x</Code></Error>'));
  });
});

async function toArray<T>(items: AsyncIterable<T>): Promise<T[]> {
  const found: T[] = [];
  for await (const item of items) found.push(item);
  return found;
}
