/**
 * S3 behaviour the conformance suite cannot see, on a real MinIO (and, through a recording proxy in front of it,
 * faults MinIO will not produce on demand): multipart uploads never left open, multipart copies, the writer
 * token that settles ambiguous conditional writes (the start-up probe's too) or, when it cannot be read back,
 * makes them TRANSIENT, 409 retries, a 200 carrying an error, DeleteObjects batches
 * and per-key errors, wrong credentials and a missing bucket.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { CREATE_ONLY, ifRevision, type StorageBackend } from "../../src/backends/backend.ts";
import { S3Backend } from "../../src/backends/s3/index.ts";
import { assertSameBytes, listKeys, randomBody, readText, rejectsWithCode } from "../conformance/helpers.ts";
import { ensureBucket, rawClient, rawListing, s3Options } from "../support/s3.ts";
import { startFaultProxy, type FaultKind, type RequestLine } from "../support/fault-proxy.ts";
import { errorResponse, startS3Proxy, type Interceptor, type ProxiedRequest } from "../support/s3-proxy.ts";
import { minioEnv, motoEnv, skipUnless, type S3ServerEnv } from "../support/servers.ts";
import { deleteUnder } from "../support/bucket-factory.ts";
import { isOpenCrateError } from "../../src/errors.ts";
import { retryPolicyOf } from "../../src/backends/retry-policy.ts";

const MiB = 1024 * 1024;
const server = minioEnv();
const motoServer = motoEnv();

describe("S3 backend on MinIO", { skip: skipUnless(server, "MinIO", "TEST_MINIO_ENDPOINT") }, () => {
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

  /** A backend under a fresh prefix, optionally through a proxy in front of MinIO. */
  function fresh(extra: Parameters<typeof s3Options>[1] = {}): { backend: S3Backend; prefix: string } {
    const prefix = `t-${randomUUID()}`;
    prefixes.push(prefix);
    const backend = new S3Backend(s3Options(minio, { prefix, ...extra }));
    backends.push(backend);
    return { backend, prefix };
  }

  async function proxied(intercept: Interceptor, extra: Parameters<typeof s3Options>[1] = {}) {
    const proxy = await startS3Proxy(minio.endpoint, intercept);
    proxies.push(proxy);
    return { ...fresh({ endpoint: proxy.endpoint, ...extra }), proxy };
  }

  /** A backend through a fault proxy in front of MinIO whose faults `decide` scripts (resets, 503s). */
  async function faulty(decide: (request: RequestLine) => FaultKind | "pass") {
    const proxy = await startFaultProxy({ target: minio.endpoint, seed: 1, plan: { decide } });
    proxies.push(proxy);
    return { ...fresh({ endpoint: proxy.endpoint }), proxy };
  }

  const isObjectWrite = (request: ProxiedRequest, key: string) =>
    request.method === "PUT" && request.url.split("?")[0]?.endsWith(`/${key}`) === true && !request.url.includes("uploadId=");

  describe("multipart uploads", () => {
    it("a create-only multipart upload that loses at completion fails ALREADY_EXISTS and leaves no open upload", async () => {
      const { backend, prefix } = fresh();
      await backend.put("claims/big.bin", "taken");
      const body = randomBody(11 * MiB);
      await rejectsWithCode(
        backend.putStream("claims/big.bin", Readable.from([body.subarray(0, 6 * MiB), body.subarray(6 * MiB)]), { mode: CREATE_ONLY, partSize: 5 * MiB }),
        "ALREADY_EXISTS",
        "multipart create onto a taken key",
      );
      assert.equal(await readText(backend, "claims/big.bin"), "taken");
      const raw = await rawListing(minio, prefix);
      assert.deepEqual(raw.uploads, [], "no multipart upload left open");
    });

    it("a multipart compare-and-swap with a stale revision fails PRECONDITION_FAILED and leaves no open upload", async () => {
      const { backend, prefix } = fresh();
      const first = await backend.put("log.txt", "v1");
      const second = await backend.put("log.txt", "v2");
      await rejectsWithCode(
        backend.putStream("log.txt", Readable.from([randomBody(6 * MiB)]), { mode: ifRevision(first.revision), partSize: 5 * MiB }),
        "PRECONDITION_FAILED",
        "stale multipart swap",
      );
      const third = await backend.putStream("log.txt", Readable.from([randomBody(6 * MiB)]), { mode: ifRevision(second.revision), partSize: 5 * MiB });
      assert.equal((await backend.head("log.txt")).revision, third.revision);
      assert.match(third.revision, /-2"$/, "it went up in two parts");
      assert.deepEqual((await rawListing(minio, prefix)).uploads, []);
    });

    it("a body failing after some parts were uploaded leaves no open upload and is INVALID_ARGUMENT caused by the body's error", async () => {
      const { backend, prefix, proxy } = await proxied((_request, forward) => forward());
      const failure = new Error("disk read failed");
      async function* breaking(): AsyncGenerator<Uint8Array> {
        for (let part = 0; part < 3; part++) yield randomBody(5 * MiB);
        throw failure;
      }
      await assert.rejects(backend.putStream("big.bin", breaking(), { partSize: 5 * MiB, concurrency: 1 }), (error: unknown) => isOpenCrateError(error, "INVALID_ARGUMENT") && error.cause === failure);
      assert.ok(proxy.requests.some((request) => request.method === "PUT" && request.url.includes("partNumber=")), "parts went up");
      assert.ok(proxy.requests.some((request) => request.method === "DELETE" && request.url.includes("uploadId=")), "then an abort");
      assert.deepEqual(await rawListing(minio, prefix), { keys: [], uploads: [] });
    });

    it("an aborted putStream stops, rejects with the abort, and leaves no open upload", async () => {
      const { backend, prefix, proxy } = await proxied((_request, forward) => forward());
      const controller = new AbortController();
      async function* endless(): AsyncGenerator<Uint8Array> {
        for (let mib = 0; ; mib++) {
          if (mib === 12) controller.abort();
          yield randomBody(MiB);
        }
      }
      await assert.rejects(
        backend.putStream("endless.bin", endless(), { partSize: 5 * MiB, signal: controller.signal }),
        (error: Error) => error.name === "AbortError",
      );
      assert.ok(proxy.requests.some((request) => request.method === "POST" && request.url.includes("uploads")), "an upload began");
      assert.ok(proxy.requests.some((request) => request.method === "DELETE" && request.url.includes("uploadId=")), "and was aborted");
      assert.deepEqual(await rawListing(minio, prefix), { keys: [], uploads: [] });
    });

    it("sends a body of exactly one part as a single PutObject", async () => {
      const { backend, proxy } = await proxied((_request, forward) => forward());
      const body = randomBody(5 * MiB);
      const info = await backend.putStream("one-part.bin", Readable.from([body]), { partSize: 5 * MiB, mode: CREATE_ONLY });
      assert.equal(info.size, 5 * MiB);
      assert.ok(!proxy.requests.some((request) => request.url.includes("uploads")), "no multipart upload was started");
      assertSameBytes(await backend.get("one-part.bin"), body, "content");
    });
  });

  describe("copies", () => {
    it("copies through UploadPartCopy above the threshold, keeping bytes, content type and metadata", async () => {
      const { backend, prefix } = fresh({ multipartCopyThreshold: 5 * MiB, copyPartSize: 5 * MiB });
      const body = randomBody(11 * MiB + 5);
      await backend.put("ckpt/model.bin", body, { metadata: { step: "100" }, contentType: "application/x-safetensors" });
      const copied = await backend.copy("ckpt/model.bin", "ckpt/copy.bin");
      assert.equal(copied.size, body.byteLength);
      assert.match(copied.revision, /-3"$/, "three parts");
      assertSameBytes(await backend.get("ckpt/copy.bin"), body, "copied bytes");
      assert.deepEqual({ ...(await backend.head("ckpt/copy.bin")).metadata }, { step: "100" });
      const client = await rawClient(minio);
      const { HeadObjectCommand } = await import("@aws-sdk/client-s3");
      const head = await client.send(new HeadObjectCommand({ Bucket: minio.bucket, Key: `${prefix}/ckpt/copy.bin` }));
      client.destroy();
      assert.equal(head.ContentType, "application/x-safetensors");
      await rejectsWithCode(backend.copy("ckpt/model.bin", "ckpt/copy.bin", { mode: CREATE_ONLY }), "ALREADY_EXISTS", "big copy-create");
      assert.deepEqual((await rawListing(minio, prefix)).uploads, []);
    });

    it("a multipart copy whose part fails starts no more parts, lets those in flight settle, then aborts: no open upload", async () => {
      // Part 2 is refused at once while part 1 is held until that refusal has been answered.
      let refused: () => void = () => {};
      const partTwoRefused = new Promise<void>((resolve) => {
        refused = resolve;
      });
      const events: string[] = [];
      const partOf = (request: ProxiedRequest) => /[?&]partNumber=(\d+)/.exec(request.url)?.[1];
      const { backend, prefix } = await proxied(async (request, forward) => {
        const part = partOf(request);
        if (request.method === "DELETE" && request.url.includes("uploadId=")) events.push("abort");
        if (part === undefined || request.headers["x-amz-copy-source"] === undefined) return forward();
        events.push(`part ${part} sent`);
        if (part === "2") {
          refused();
          events.push("part 2 refused");
          return errorResponse(403, "AccessDenied", "denied by the test");
        }
        if (part === "1") await partTwoRefused;
        const response = await forward();
        events.push(`part ${part} answered`);
        return response;
      }, { multipartCopyThreshold: 5 * MiB, copyPartSize: 5 * MiB, queueSize: 2 });
      await backend.put("big.bin", randomBody(21 * MiB));
      await rejectsWithCode(backend.copy("big.bin", "copy.bin"), "PERMISSION_DENIED", "copy with a refused part");
      assert.deepEqual(events.filter((event) => event.startsWith("part") && event.endsWith("sent")).sort(), ["part 1 sent", "part 2 sent"], "no part started after the failure");
      assert.ok(events.indexOf("abort") > events.indexOf("part 1 answered"), `the abort waited for part 1: ${events.join(", ")}`);
      assert.deepEqual(await rawListing(minio, prefix), { keys: [`${prefix}/big.bin`], uploads: [] });
    });

    it("copy-create copies empty objects and keeps metadata, and fails cleanly onto a taken key", async () => {
      const { backend, prefix } = fresh();
      await backend.put("empty.txt", "", { metadata: { kind: "marker" } });
      const copied = await backend.copy("empty.txt", "empty-copy.txt", { mode: CREATE_ONLY });
      assert.equal(copied.size, 0);
      assert.equal((await backend.get("empty-copy.txt")).byteLength, 0);
      assert.deepEqual({ ...(await backend.head("empty-copy.txt")).metadata }, { kind: "marker" });
      await rejectsWithCode(backend.copy("empty.txt", "empty-copy.txt", { mode: CREATE_ONLY }), "ALREADY_EXISTS", "again");
      assert.deepEqual((await rawListing(minio, prefix)).uploads, []);
    });

    it("copy with a replace mode swaps only from the expected revision", async () => {
      const { backend } = fresh();
      await backend.put("src.txt", "new content");
      const target = await backend.put("dst.txt", "old");
      await rejectsWithCode(backend.copy("src.txt", "dst.txt", { mode: ifRevision('"0123456789abcdef0123456789abcdef"') }), "PRECONDITION_FAILED", "stale");
      await backend.copy("src.txt", "dst.txt", { mode: ifRevision(target.revision) });
      assert.equal(await readText(backend, "dst.txt"), "new content");
    });
  });

  describe("conditional writes", () => {
    it("stores the writer token only with conditional writes and never shows it in metadata", async () => {
      const { backend, prefix } = fresh();
      await backend.put("plain.txt", "x", { metadata: { owner: "a" } });
      await backend.put("claim.txt", "x", { metadata: { owner: "a" }, mode: CREATE_ONLY });
      assert.deepEqual({ ...(await backend.head("claim.txt")).metadata }, { owner: "a" });
      const client = await rawClient(minio);
      const { HeadObjectCommand } = await import("@aws-sdk/client-s3");
      const raw = async (key: string) =>
        (await client.send(new HeadObjectCommand({ Bucket: minio.bucket, Key: `${prefix}/${key}` }))).Metadata ?? {};
      assert.deepEqual(await raw("plain.txt"), { owner: "a" });
      assert.match((await raw("claim.txt"))["oc-token"] ?? "", /^[0-9a-f-]{36}$/);
      client.destroy();
    });

    it("the probe runs once and leaves no probe object behind", async () => {
      const { backend, prefix, proxy } = await proxied((_request, forward) => forward());
      await backend.put("a.json", "1", { mode: CREATE_ONLY });
      await backend.put("b.json", "2", { mode: CREATE_ONLY });
      const probeWrites = proxy.requests.filter((request) => request.method === "PUT" && request.url.includes("/.opencrate/probe/"));
      assert.equal(probeWrites.length, 3, "create, create again (rejected), If-Match with a wrong ETag (rejected)");
      assert.deepEqual((await rawListing(minio, prefix)).keys.sort(), [`${prefix}/a.json`, `${prefix}/b.json`]);
    });

    it("a lost answer to the probe's first write does not refuse the store: the probe finds its own token", async () => {
      let resets = 0;
      const { backend, prefix } = await faulty((request) => {
        if (resets > 0 || request.method !== "PUT" || !request.url.includes("/.opencrate/probe/")) return "pass";
        resets += 1;
        return "reset-after"; // the probe object is stored; the SDK's retry of the create-only write gets 412
      });
      await backend.put("a.json", "1", { mode: CREATE_ONLY });
      assert.equal(resets, 1, "the probe's first answer was lost");
      assert.equal(await readText(backend, "a.json"), "1");
      await rejectsWithCode(backend.put("a.json", "2", { mode: CREATE_ONLY }), "ALREADY_EXISTS", "create-only still enforced");
      assert.deepEqual((await rawListing(minio, prefix)).keys, [`${prefix}/a.json`], "the probe object was deleted");
    });

    it("a probe that cannot settle a lost answer fails TRANSIENT and is not remembered: the next write probes again", async () => {
      let faults = true;
      let resets = 0;
      let probeCreates = 0;
      const { backend, prefix } = await faulty((request) => {
        if (!request.url.includes("/.opencrate/probe/")) return "pass";
        if (request.method === "PUT" && request.headers["if-none-match"] === "*") probeCreates += 1;
        if (!faults) return "pass";
        if (request.method === "PUT" && resets === 0) {
          resets += 1;
          return "reset-after";
        }
        return request.method === "HEAD" ? "status-503" : "pass";
      });
      const error = await rejectsWithCode(backend.put("a.json", "1", { mode: CREATE_ONLY }), "TRANSIENT", "the probe could not tell");
      assert.ok(error.message.includes(backend.describe("")), error.message);
      const before = probeCreates;
      faults = false;
      await backend.put("a.json", "1", { mode: CREATE_ONLY });
      assert.ok(probeCreates > before, "probed again");
      assert.deepEqual((await rawListing(minio, prefix)).keys, [`${prefix}/a.json`], "both probe objects were deleted");
    });

    it("a create whose response was lost and whose retry met 412 succeeds when the object holds our token", async () => {
      let lost = false;
      const { backend } = await proxied(async (request, forward) => {
        const response = await forward();
        if (!lost && isObjectWrite(request, "claims/0001.json")) {
          lost = true; // the write landed at MinIO; the client sees a 500 and retries
          return errorResponse(500, "InternalError", "We encountered an internal error. Please try again.");
        }
        return response;
      });
      const info = await backend.put("claims/0001.json", "mine", { mode: CREATE_ONLY });
      assert.ok(lost, "the first response was dropped");
      assert.equal(await readText(backend, "claims/0001.json"), "mine");
      assert.equal((await backend.head("claims/0001.json")).revision, info.revision);
    });

    it("a retried create that meets someone else's object is ALREADY_EXISTS", async () => {
      let dropped = false;
      const { backend } = await proxied(async (request, forward) => {
        if (!dropped && isObjectWrite(request, "claims/0002.json") && request.headers["if-none-match"] === "*") {
          dropped = true; // never reaches MinIO; the client sees a 500 and retries
          return errorResponse(503, "SlowDown", "Please reduce your request rate.");
        }
        return forward();
      });
      // Same prefix as `backend`: write the competing object straight to MinIO under the proxied backend's prefix.
      const competitor = new S3Backend(s3Options(minio, { prefix: backend.prefix }));
      backends.push(competitor);
      await competitor.put("claims/0002.json", "theirs");
      await rejectsWithCode(backend.put("claims/0002.json", "mine", { mode: CREATE_ONLY }), "ALREADY_EXISTS", "lost to another writer");
      assert.ok(dropped);
      assert.equal(await readText(backend, "claims/0002.json"), "theirs");
    });

    it("a create whose answer was lost and whose read-back fails too is TRANSIENT naming the key; a retry gets a definite answer", async () => {
      let faults = true;
      let resets = 0;
      const { backend } = await faulty((request) => {
        if (!faults || request.url.split("?")[0]?.endsWith("/claims/0003.json") !== true) return "pass";
        if (request.method === "PUT" && resets === 0) {
          resets += 1;
          return "reset-after"; // lands at MinIO; the SDK's retry meets our own object: 412
        }
        return request.method === "HEAD" ? "status-503" : "pass"; // every read-back attempt fails
      });
      const error = await rejectsWithCode(backend.put("claims/0003.json", "mine", { mode: CREATE_ONLY }), "TRANSIENT", "outcome unknown");
      assert.equal(resets, 1);
      assert.ok(error.message.includes(backend.describe("claims/0003.json")), error.message);
      const unsettled = error.cause as AggregateError;
      assert.ok(unsettled instanceof AggregateError, `cause: ${String(error.cause)}`);
      assert.equal((unsettled.cause as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode, 412, "the retried write's answer");
      assert.equal(unsettled.errors.length, 2, "the write's failure and the read-back's");
      assert.equal(await readText(backend, "claims/0003.json"), "mine", "the first attempt did land");
      faults = false;
      await rejectsWithCode(backend.put("claims/0003.json", "mine", { mode: CREATE_ONLY }), "ALREADY_EXISTS", "the retry");
      assert.equal(await readText(backend, "claims/0003.json"), "mine");
    });

    it("a compare-and-swap that met another writer after a retry is TRANSIENT while unsettled, then PRECONDITION_FAILED", async () => {
      let faults = false;
      let refused = 0;
      const { backend } = await faulty((request) => {
        if (!faults || request.url.split("?")[0]?.endsWith("/counter.txt") !== true) return "pass";
        if (request.method === "PUT" && refused === 0) {
          refused += 1;
          return "status-503"; // never reaches MinIO; the SDK retries, and the retry meets the other writer's object
        }
        return request.method === "HEAD" ? "status-503" : "pass";
      });
      const first = await backend.put("counter.txt", "1");
      const competitor = new S3Backend(s3Options(minio, { prefix: backend.prefix }));
      backends.push(competitor);
      await competitor.put("counter.txt", "theirs");
      faults = true;
      await rejectsWithCode(backend.put("counter.txt", "2", { mode: ifRevision(first.revision) }), "TRANSIENT", "unsettled");
      assert.equal(refused, 1);
      faults = false;
      await rejectsWithCode(backend.put("counter.txt", "2", { mode: ifRevision(first.revision) }), "PRECONDITION_FAILED", "the retry");
      assert.equal(await readText(backend, "counter.txt"), "theirs");
    });

    it("retries 409 ConditionalRequestConflict and then succeeds", async () => {
      let conflicts = 0;
      const { backend } = await proxied(async (request, forward) => {
        if (isObjectWrite(request, "counter.txt") && request.headers["if-match"] !== undefined && conflicts < 2) {
          conflicts += 1;
          return errorResponse(409, "ConditionalRequestConflict", "A conflicting conditional operation is in progress.");
        }
        return forward();
      });
      const first = await backend.put("counter.txt", "1");
      await backend.put("counter.txt", "2", { mode: ifRevision(first.revision) });
      assert.equal(conflicts, 2);
      assert.equal(await readText(backend, "counter.txt"), "2");
    });

    it("gives up on endless 409s after a few tries with TRANSIENT", async () => {
      let conflicts = 0;
      const { backend } = await proxied(async (request, forward) => {
        if (isObjectWrite(request, "hot.txt") && request.headers["if-none-match"] === "*") {
          conflicts += 1;
          return errorResponse(409, "ConditionalRequestConflict", "A conflicting conditional operation is in progress.");
        }
        return forward();
      });
      const error = await rejectsWithCode(backend.put("hot.txt", "x", { mode: CREATE_ONLY }), "TRANSIENT", "endless conflicts");
      assert.ok(error.message.includes("hot.txt"), error.message);
      assert.equal(conflicts, retryPolicyOf(backend).attempts, "bounded retries: the policy's attempts");
    });

    it("reads a 200 CompleteMultipartUpload carrying a PreconditionFailed error as ALREADY_EXISTS, and aborts", async () => {
      const { backend, prefix } = await proxied(async (request, forward) => {
        if (request.method === "POST" && request.url.includes("uploadId=") && request.url.includes("/raced.bin")) {
          return {
            status: 200,
            headers: { "content-type": "application/xml" },
            body: Buffer.from(
              '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message><RequestId>proxy</RequestId></Error>',
            ),
          };
        }
        return forward();
      });
      await rejectsWithCode(
        backend.putStream("raced.bin", Readable.from([randomBody(6 * MiB)]), { mode: CREATE_ONLY, partSize: 5 * MiB }),
        "ALREADY_EXISTS",
        "200 with an error body",
      );
      assert.deepEqual(await rawListing(minio, prefix), { keys: [], uploads: [] }, "aborted, nothing written");
    });
  });

  describe("deleteMany", () => {
    it("deletes in batches of at most 1000 keys", async () => {
      const { backend, proxy } = await proxied((_request, forward) => forward());
      const keys = Array.from({ length: 1005 }, (_, index) => `many/${String(index).padStart(4, "0")}`);
      for (let start = 0; start < keys.length; start += 50) {
        await Promise.all(keys.slice(start, start + 50).map((key) => backend.put(key, "x")));
      }
      await backend.deleteMany((function* () {
        yield* keys;
      })());
      const batches = proxy.requests.filter((request) => request.method === "POST" && request.url.includes("delete"));
      assert.equal(batches.length, 2);
      assert.deepEqual(await listKeys(backend, ""), []);
    });

    it("reports per-key errors in a DeleteObjects response", async () => {
      const { backend } = await proxied(async (request, forward) => {
        const response = await forward();
        if (request.method !== "POST" || !request.url.includes("delete")) return response;
        const key = /<Key>([^<]*)<\/Key>/.exec(request.body.toString("utf8"))?.[1] ?? "";
        return {
          status: 200,
          headers: { "content-type": "application/xml" },
          body: Buffer.from(
            `<?xml version="1.0" encoding="UTF-8"?>\n<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Error><Key>${key}</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error></DeleteResult>`,
          ),
        };
      });
      await backend.put("locked.txt", "x");
      const error = await rejectsWithCode(backend.deleteMany(["locked.txt", "other.txt"]), "PERMISSION_DENIED", "per-key error");
      assert.ok(error.message.includes("locked.txt"), error.message);
    });
  });

  describe("bad settings", () => {
    it("wrong credentials are PERMISSION_DENIED, naming the location and never the secret", async () => {
      const secret = "not-the-right-secret-0123456789";
      for (const credentials of [
        { accessKeyId: minio.accessKeyId, secretAccessKey: secret },
        { accessKeyId: "no-such-user", secretAccessKey: secret },
      ]) {
        const { backend } = fresh({ credentials });
        for (const [name, call] of [
          ["head", () => backend.head("a.txt")],
          ["get", () => backend.get("a.txt")],
          ["put", () => backend.put("a.txt", "x")],
          ["create", () => backend.put("a.txt", "x", { mode: CREATE_ONLY })],
          ["list", () => listKeys(backend, "")],
        ] as const) {
          const error = await rejectsWithCode(call(), "PERMISSION_DENIED", `${credentials.accessKeyId}: ${name}`);
          assert.ok(error.message.includes(backend.describe("")), error.message);
          assert.ok(!error.message.includes(secret), "no secret in the message");
        }
      }
    });

    it("a missing bucket is NOT_FOUND naming the bucket and the endpoint", async () => {
      const bucket = `missing-${randomUUID().slice(0, 8)}`;
      const backend = new S3Backend(s3Options(minio, { bucket }));
      backends.push(backend);
      for (const [name, call] of [
        ["put", () => backend.put("a.txt", "x")],
        ["get", () => backend.get("a.txt")],
        ["list", () => listKeys(backend, "")],
        ["create", () => backend.put("a.txt", "x", { mode: CREATE_ONLY })],
      ] as const) {
        const error = await rejectsWithCode(call(), "NOT_FOUND", name);
        assert.ok(error.message.includes(`Bucket "${bucket}" does not exist at ${minio.endpoint}`), `${name}: ${error.message}`);
      }
      // HEAD responses carry no error body, so a missing bucket there reads as a missing object.
      await rejectsWithCode(backend.head("a.txt"), "NOT_FOUND", "head");
    });
  });
});

describe("S3 backend on moto", { skip: skipUnless(motoServer, "moto", "TEST_MOTO_ENDPOINT") }, () => {
  const moto = motoServer as S3ServerEnv;
  const prefix = `t-${randomUUID()}`;

  it("refuses a multipart compare-and-swap, because moto ignores If-Match on CompleteMultipartUpload", async (t) => {
    await ensureBucket(moto);
    const backend = new S3Backend(s3Options(moto, { prefix }));
    t.after(async () => {
      await backend.deleteMany(await listKeys(backend, ""));
      await backend.close();
    });
    const first = await backend.put("log.txt", "v1");
    const error = await rejectsWithCode(
      backend.putStream("log.txt", Readable.from([randomBody(6 * MiB)]), { mode: ifRevision(first.revision), partSize: 5 * MiB }),
      "NOT_SUPPORTED",
      "multipart swap on moto",
    );
    assert.match(error.message, /ignores If-Match on CompleteMultipartUpload/);
    assert.equal(await readText(backend, "log.txt"), "v1");
    assert.deepEqual(await rawListing(moto, prefix), { keys: [`${prefix}/log.txt`], uploads: [] });
    // Conditional writes that moto does enforce keep working.
    await backend.put("log.txt", "v2", { mode: ifRevision(first.revision) });
    await rejectsWithCode(
      backend.putStream("log.txt", Readable.from([randomBody(6 * MiB)]), { mode: CREATE_ONLY, partSize: 5 * MiB }),
      "ALREADY_EXISTS",
      "multipart create on moto",
    );
  });
});
