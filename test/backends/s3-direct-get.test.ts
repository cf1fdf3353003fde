/**
 * Reads of an S3Backend that built its own client go out as plain signed GETs, without the SDK's middleware stack
 * (src/backends/s3/direct-get.ts). On a real MinIO, and through proxies for answers MinIO will not give on demand:
 * keys that need escaping, ranges and pinned revisions, the SDK's error mapping for every answer, retries of
 * transient answers up to maxAttempts, and a caller's own client still going through the SDK.
 */
import assert from "node:assert/strict";
import { createHash, randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { CREATE_ONLY, ifRevision, type StorageBackend } from "../../src/backends/backend.ts";
import { S3Backend } from "../../src/backends/s3/index.ts";
import { isOpenCrateError } from "../../src/errors.ts";
import type { Readable } from "node:stream";
import { isCausedBy, rejectsWithCode } from "../conformance/helpers.ts";
import { deleteUnder } from "../support/bucket-factory.ts";
import { startFaultProxy, type FaultKind, type RequestLine } from "../support/fault-proxy.ts";
import { ensureBucket, rawClient, s3Options } from "../support/s3.ts";
import { errorResponse, startS3Proxy, type Interceptor } from "../support/s3-proxy.ts";
import { minioEnv, skipUnless, type S3ServerEnv } from "../support/servers.ts";

const server = minioEnv();

describe("S3 reads without the SDK's middleware, on MinIO", { skip: skipUnless(server, "MinIO", "TEST_MINIO_ENDPOINT") }, () => {
  const minio = server as S3ServerEnv;
  const prefixes: string[] = [];
  const backends: StorageBackend[] = [];
  const proxies: { close(): Promise<void> }[] = [];

  before(() => ensureBucket(minio));
  after(async () => {
    await Promise.all(backends.map((backend) => backend.close()));
    await Promise.all(proxies.map((proxy) => proxy.close()));
    const cleaner = new S3Backend(s3Options(minio));
    await deleteUnder(cleaner, prefixes);
    await cleaner.close();
  });

  function fresh(extra: Parameters<typeof s3Options>[1] = {}, prefix = `t-${randomUUID()}`): S3Backend {
    prefixes.push(prefix);
    const backend = new S3Backend(s3Options(minio, { prefix, ...extra }));
    backends.push(backend);
    return backend;
  }

  async function viaProxy(intercept: Interceptor, extra: Parameters<typeof s3Options>[1] = {}) {
    const proxy = await startS3Proxy(minio.endpoint, intercept);
    proxies.push(proxy);
    const prefix = `t-${randomUUID()}`;
    return { writer: fresh({}, prefix), reader: fresh({ endpoint: proxy.endpoint, ...extra }, prefix), proxy };
  }

  async function viaFaults(decide: (request: RequestLine) => FaultKind | "pass", extra: Parameters<typeof s3Options>[1] = {}) {
    const proxy = await startFaultProxy({ target: minio.endpoint, seed: 1, plan: { decide } });
    proxies.push(proxy);
    const prefix = `t-${randomUUID()}`;
    return { writer: fresh({}, prefix), reader: fresh({ endpoint: proxy.endpoint, ...extra }, prefix), proxy };
  }

  it("keys that need escaping read back whole, in ranges and as streams", async () => {
    const backend = fresh();
    const keys = ["a b/c+d=e&f.json", "x/!'()*~.txt", "ünï/cödé €.bin", "q?x=1#frag", "semi;colon,comma@at$dollar.txt"];
    for (const key of keys) {
      await backend.put(key, `content of ${key}`);
      assert.equal(new TextDecoder().decode(await backend.get(key)), `content of ${key}`, key);
      assert.deepEqual(Buffer.from(await backend.get(key, { range: { offset: 11, length: 4 } })), Buffer.from(key).subarray(0, 4), key);
      assert.equal(await streamText(await backend.getStream(key, { range: { offset: 11 } })), key, key);
    }
  });

  it("maps answers as the SDK path does: missing key, stale revision, range past the end, missing bucket", async () => {
    const backend = fresh();
    const info = await backend.put("a.txt", "abc");
    await rejectsWithCode(backend.get("missing.txt"), "NOT_FOUND", "get of a missing key");
    await rejectsWithCode(backend.getStream("missing.txt"), "NOT_FOUND", "getStream of a missing key");
    await rejectsWithCode(backend.get("a.txt", { ifRevision: '"0123456789abcdef0123456789abcdef"' }), "PRECONDITION_FAILED", "stale revision");
    assert.equal((await backend.get("a.txt", { ifRevision: info.revision })).byteLength, 3);
    assert.equal((await backend.get("a.txt", { range: { offset: 10, length: 5 } })).byteLength, 0, "a range past the end is empty");
    const noBucket = new S3Backend(s3Options(minio, { bucket: `missing-${randomUUID().slice(0, 8)}` }));
    backends.push(noBucket);
    const error = await rejectsWithCode(noBucket.get("a.txt"), "NOT_FOUND", "missing bucket");
    assert.match(error.message, /Bucket "missing-[0-9a-f]+" does not exist/);
  });

  it("goes out as one plain signed GET per read, while a caller's own client goes through the SDK", async () => {
    const { writer, reader, proxy } = await viaProxy((_request, forward) => forward());
    await writer.put("a.txt", "abc");
    await reader.get("a.txt");
    const gets = proxy.requests.filter((request) => request.method === "GET" && request.url.includes("/a.txt"));
    assert.equal(gets.length, 1);
    assert.match(String(gets[0]?.headers.authorization), /^AWS4-HMAC-SHA256 Credential=/);
    assert.equal(gets[0]?.headers["amz-sdk-invocation-id"], undefined, "no SDK middleware on the direct path");

    const client = await rawClient(minio, proxy.endpoint);
    const own = new S3Backend({ ...s3Options(minio, { prefix: prefixes.at(-1) ?? "" }), client });
    backends.push(own);
    proxy.requests.length = 0;
    assert.equal(new TextDecoder().decode(await own.get("a.txt")), "abc");
    const sdkGet = proxy.requests.find((request) => request.method === "GET" && request.url.includes("/a.txt"));
    assert.notEqual(sdkGet?.headers["amz-sdk-invocation-id"], undefined, "a caller's client keeps its SDK stack");
    client.destroy();
  });

  it("retries a busy or failing store's answer up to maxAttempts, then fails TRANSIENT", async () => {
    for (const fault of ["status-503", "s3-slow-down", "status-500", "reset-before"] as const) {
      let failuresLeft = 2;
      const { writer, reader, proxy } = await viaFaults(
        (request) => (request.method === "GET" && request.url.includes("/a.txt") && failuresLeft-- > 0 ? fault : "pass"),
        { maxAttempts: 3 },
      );
      await writer.put("a.txt", "abc");
      assert.equal(new TextDecoder().decode(await reader.get("a.txt")), "abc", `${fault}: third attempt succeeds`);
      assert.equal(await streamText(await reader.getStream("a.txt")), "abc", `${fault}: stream after the faults`);
      failuresLeft = 3;
      await rejectsWithCode(reader.get("a.txt"), "TRANSIENT", `${fault}: three failures in three attempts`);
      assert.ok(proxy.counters.requests > 0);
    }
  });

  it("does not retry an answer that will not change (403), and keeps the store's code in the message", async () => {
    let gets = 0;
    const { writer, reader } = await viaProxy(async (request, forward) => {
      if (request.method !== "GET" || !request.url.includes("/a.txt")) return forward();
      gets += 1;
      return errorResponse(403, "AccessDenied", "Access Denied.");
    });
    await writer.put("a.txt", "abc");
    const error = await rejectsWithCode(reader.get("a.txt"), "PERMISSION_DENIED", "403");
    assert.match(error.message, /AccessDenied, HTTP 403: Access Denied\./);
    assert.equal(gets, 1, "sent once");
  });

  it("a small write with a content type is one plain signed PUT with its Content-MD5, conditions and metadata as headers", async () => {
    const { writer, reader, proxy } = await viaProxy((_request, forward) => forward());
    const body = '{"version":3}';
    const info = await reader.put("claim.json", body, { mode: CREATE_ONLY, contentType: "application/json", metadata: { Step: "3" } });
    const puts = proxy.requests.filter((request) => request.method === "PUT" && request.url.includes("/claim.json"));
    assert.equal(puts.length, 1);
    const [put] = puts;
    assert.equal(put?.headers["amz-sdk-invocation-id"], undefined, "no SDK middleware on the direct path");
    assert.match(String(put?.headers.authorization), /^AWS4-HMAC-SHA256 Credential=/);
    assert.equal(put?.headers["content-md5"], createHash("md5").update(body).digest("base64"));
    assert.equal(put?.headers["x-amz-content-sha256"], createHash("sha256").update(body).digest("hex"));
    assert.equal(put?.headers["if-none-match"], "*");
    assert.equal(put?.headers["x-amz-meta-step"], "3");
    const stored = await writer.head("claim.json");
    assert.deepEqual([stored.revision, stored.metadata, stored.size], [info.revision, { step: "3" }, body.length]);
    assert.deepEqual(info.checksum, { algorithm: "md5", value: createHash("md5").update(body).digest("hex") });
    assert.equal(new TextDecoder().decode(await writer.get("claim.json")), body);
    await rejectsWithCode(reader.put("claim.json", "again", { mode: CREATE_ONLY, contentType: "application/json" }), "ALREADY_EXISTS", "taken");
    await rejectsWithCode(
      reader.put("claim.json", "stale", { mode: ifRevision('"0123456789abcdef0123456789abcdef"'), contentType: "text/plain" }),
      "PRECONDITION_FAILED",
      "stale revision",
    );
    const replaced = await reader.put("claim.json", "new", { mode: ifRevision(info.revision), contentType: "text/plain" });
    assert.equal(proxy.requests.filter((request) => request.method === "PUT").at(-1)?.headers["if-match"], info.revision);
    assert.equal((await writer.head("claim.json")).revision, replaced.revision);
  });

  it("a body changed on the way is refused by the store and nothing is stored; a write without a content type goes through the SDK", async () => {
    const { writer, reader, proxy } = await viaProxy(async (request, forward) => {
      if (request.method !== "PUT" || !request.url.includes("/damaged.json")) return forward();
      return forward({ ...request, body: Buffer.from(request.body.toString("utf8").replace("1", "2")) });
    });
    await rejectsWithCode(reader.put("damaged.json", '{"v":1}', { contentType: "application/json" }), "INVALID_ARGUMENT", "damaged body");
    await rejectsWithCode(writer.head("damaged.json"), "NOT_FOUND", "nothing stored");
    proxy.requests.length = 0;
    await reader.put("untyped.bin", "{}");
    const sdkPut = proxy.requests.find((request) => request.method === "PUT" && request.url.includes("/untyped.bin"));
    assert.notEqual(sdkPut?.headers["amz-sdk-invocation-id"], undefined, "no content type: the SDK's PUT, which picks one");
    assert.equal(new TextDecoder().decode(await writer.get("untyped.bin")), "{}");
  });

  it("a write retries a busy store's answer up to maxAttempts; a create-only write that met its own landed attempt succeeds", async () => {
    let failuresLeft = 2;
    const { writer, reader } = await viaFaults(
      (request) => (request.method === "PUT" && request.url.includes("/busy.json") && failuresLeft-- > 0 ? "status-503" : "pass"),
      { maxAttempts: 3 },
    );
    await reader.put("busy.json", "{}", { contentType: "application/json" });
    assert.equal(new TextDecoder().decode(await writer.get("busy.json")), "{}", "third attempt");
    let lost = false;
    const { reader: losing, writer: checker } = await viaProxy(async (request, forward) => {
      const answer = await forward();
      if (request.method !== "PUT" || !request.url.includes("/claim.json") || lost) return answer;
      lost = true; // stored, but the client is told 503 and sends it again, which meets 412
      return errorResponse(503, "ServiceUnavailable", "Please reduce your request rate.");
    });
    const info = await losing.put("claim.json", "mine", { mode: CREATE_ONLY, contentType: "application/json" });
    assert.ok(lost);
    assert.equal((await checker.head("claim.json")).revision, info.revision);
  });

  it("a ranged read into reused buffers hands the range's bytes; other answers are left to getStream", async () => {
    const { writer, reader, proxy } = await viaProxy((_request, forward) => forward());
    const bytes = Buffer.from(Array.from({ length: 3 * 1024 * 1024 + 5 }, (_, i) => (i * 31 + (i >>> 10)) & 0xff));
    const info = await writer.put("big.bin", bytes);
    const handed: Buffer[] = [];
    const sink = {
      write: async (chunk: Uint8Array) => {
        handed.push(Buffer.from(chunk));
      },
    };
    const range = { offset: 1000, length: 2 * 1024 * 1024 };
    assert.equal(await reader.readRangeInto("big.bin", { range, ifRevision: info.revision }, sink), range.length);
    assert.ok(Buffer.concat(handed).equals(bytes.subarray(range.offset, range.offset + range.length)));
    const gets = proxy.requests.filter((request) => request.method === "GET" && request.url.includes("/big.bin"));
    assert.equal(gets.length, 1, "one GET");
    assert.equal(gets[0]?.headers.range, "bytes=1000-2098151");
    assert.equal(gets[0]?.headers["if-match"], info.revision);
    assert.match(String(gets[0]?.headers.authorization), /^AWS4-HMAC-SHA256 Credential=/);

    handed.length = 0;
    const stale = '"0123456789abcdef0123456789abcdef"';
    assert.equal(await reader.readRangeInto("big.bin", { range, ifRevision: stale }, sink), undefined, "a stale revision is not taken");
    assert.equal(await reader.readRangeInto("missing.bin", { range }, sink), undefined, "a missing key is not taken");
    assert.equal(handed.length, 0, "nothing handed");
  });

  it("a ranged read into reused buffers cut mid-body fails TRANSIENT, naming the key, or hands nothing", async () => {
    let cut = true;
    const { writer, reader } = await viaFaults((request) => (request.method === "GET" && request.url.includes("/big.bin") && cut ? "cut-response" : "pass"));
    await writer.put("big.bin", new Uint8Array(8 * 1024 * 1024).fill(7));
    let handed = 0;
    const sink = {
      write: async (chunk: Uint8Array) => {
        handed += chunk.byteLength;
      },
    };
    const range = { offset: 0, length: 8 * 1024 * 1024 };
    // A reset can discard what the socket had not yet read: then nothing was handed and the read is left to getStream.
    const outcome = await reader.readRangeInto("big.bin", { range }, sink).then(
      (count) => ({ count }),
      (error: unknown) => ({ error }),
    );
    if ("error" in outcome) {
      assert.ok(isOpenCrateError(outcome.error, "TRANSIENT"), String(outcome.error));
      assert.match((outcome.error as Error).message, /big\.bin/);
      assert.ok(handed > 0 && handed < range.length, `${handed} bytes handed before the cut`);
    } else {
      assert.deepEqual(outcome, { count: undefined });
      assert.equal(handed, 0);
    }
    cut = false;
    handed = 0;
    assert.equal(await reader.readRangeInto("big.bin", { range }, sink), range.length);
    assert.equal(handed, range.length);
  });

  it("an aborted read stops at once, caused by the caller's reason", async () => {
    const { writer, reader } = await viaFaults(() => "stall");
    await writer.put("a.txt", "abc");
    const controller = new AbortController();
    const reason = new Error("stop now");
    const read = reader.get("a.txt", { signal: controller.signal });
    setImmediate(() => controller.abort(reason));
    await assert.rejects(read, (error: unknown) => isCausedBy(error, reason));
  });
});

async function streamText(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks).toString("utf8");
}
