/**
 * GCS behaviour the conformance suite cannot see, on a real fake-gcs-server (and, through a recording proxy in
 * front of it, faults the emulator will not produce on demand): create-only and compare-and-swap on resumable
 * uploads, the writer token that settles ambiguous conditional writes, lost responses, failing and aborted
 * bodies, downloads answered 503 or cut short, conditional copies, STORAGE_EMULATOR_HOST as the only
 * configuration, a missing bucket and deleteMany's bounded concurrency.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer, request as httpRequest, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { CRC32C } from "@google-cloud/storage";
import { CREATE_ONLY, ifRevision, type StorageBackend } from "../../src/backends/backend.ts";
import { GcsBackend, type GcsBackendOptions } from "../../src/backends/gcs/index.ts";
import { assertSameBytes, listKeys, randomBody, readText, rejectsWithCode } from "../conformance/helpers.ts";
import { startFaultProxy, type FaultKind, type FaultProxy } from "../support/fault-proxy.ts";
import { ensureGcsBucket, gcsOptions, rawDelete, rawObject, rawPut } from "../support/gcs.ts";
import { startS3Proxy, type Interceptor, type ProxiedRequest, type ProxiedResponse, type RunningServer } from "../support/s3-proxy.ts";
import { gcsEnv, skipUnless, type GcsServerEnv } from "../support/servers.ts";
import { deleteUnder } from "../support/bucket-factory.ts";
import { isOpenCrateError } from "../../src/errors.ts";
import { assertFolderMarkersListed } from "../support/assertions.ts";

const KiB = 1024;
const server = gcsEnv();

/** Small chunks so a 1 MiB body is a real multi-chunk resumable upload. */
const SMALL_CHUNKS: Partial<GcsBackendOptions> = { resumableThreshold: 256 * KiB, chunkSize: 256 * KiB };

describe("GCS backend on fake-gcs-server", { skip: skipUnless(server, "fake-gcs-server", "TEST_GCS_ENDPOINT") }, () => {
  const gcs = server as GcsServerEnv;
  const prefixes: string[] = [];
  const backends: StorageBackend[] = [];
  const proxies: Array<Pick<RunningServer | FaultProxy, "close">> = [];

  before(() => ensureGcsBucket(gcs));
  after(async () => {
    await Promise.all(backends.map((backend) => backend.close()));
    await Promise.all(proxies.map((proxy) => proxy.close()));
    const cleaner = new GcsBackend(gcsOptions(gcs));
    await deleteUnder(cleaner, prefixes);
    await cleaner.close();
  });

  /** A backend under a fresh prefix. */
  function fresh(extra: Partial<GcsBackendOptions> = {}): { backend: GcsBackend; prefix: string } {
    const prefix = `t-${randomUUID()}`;
    prefixes.push(prefix);
    const backend = new GcsBackend(gcsOptions(gcs, { prefix, ...extra }));
    backends.push(backend);
    return { backend, prefix };
  }

  /**
   * A backend under a fresh prefix whose requests go through a recording proxy in front of the emulator. The
   * proxy points resumable session URLs (Location headers) back at itself, so chunk requests pass through too.
   */
  async function proxied(intercept: Interceptor, extra: Partial<GcsBackendOptions> = {}) {
    let self = "";
    const proxy = await startS3Proxy(gcs.endpoint, async (request, forward) => {
      const response = await intercept(request, forward);
      const location = response.headers.location;
      if (typeof location !== "string") return response;
      return { ...response, headers: { ...response.headers, location: location.replace(gcs.endpoint, self) } };
    });
    self = proxy.endpoint;
    proxies.push(proxy);
    return { ...fresh({ apiEndpoint: proxy.endpoint, ...extra }), proxy };
  }

  it("a retry policy whose longest wait is under a second still writes through the SDK's resumable upload", async () => {
    const { backend } = fresh({ ...SMALL_CHUNKS, retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 50 } });
    const body = randomBody(600 * KiB);
    await backend.put("short-waits.bin", body);
    assertSameBytes(await backend.get("short-waits.bin"), body, "written with waits capped under a second");
  });

  const objectName = (prefix: string, key: string) => `${prefix}/${key}`;
  /** The object's resource straight from the emulator's JSON API. */
  const rawResource = async (prefix: string, key: string) => {
    const response = await fetch(`${gcs.endpoint}/storage/v1/b/${gcs.bucket}/o/${encodeURIComponent(objectName(prefix, key))}`);
    return (await response.json()) as { contentType?: string; metadata?: Record<string, string> };
  };
  const uploadsOf = (requests: readonly ProxiedRequest[], name: string) =>
    requests.filter((request) => request.method === "POST" && request.url.includes(`name=${encodeURIComponent(name)}`));
  const chunkPuts = (requests: readonly ProxiedRequest[], name: string) =>
    requests.filter((request) => request.method === "PUT" && request.url.includes(`name=${encodeURIComponent(name)}`));
  const serviceUnavailable = (): ProxiedResponse => ({
    status: 503,
    headers: { "content-type": "application/json" },
    body: Buffer.from(JSON.stringify({ error: { code: 503, message: "Backend Error", errors: [{ reason: "backendError" }] } })),
  });
  const isFinalChunk = (request: ProxiedRequest) =>
    request.method === "PUT" && /^bytes \d+-\d+\/\d+$/.test(String(request.headers["content-range"]));

  /**
   * Answers resumable status queries (an empty PUT with "Content-Range: bytes *\/…") as GCS documents: 308 with
   * the persisted range, or the object once complete. fake-gcs-server 1.55.1 would instead commit whatever the
   * session holds. Chunk requests go to `inner`; what the emulator acknowledged is tracked per session.
   */
  function withGcsStatusQueries(inner: Interceptor): Interceptor {
    const sessions = new Map<string, { persisted: number; completed?: ProxiedResponse }>();
    return async (request, forward) => {
      const id = new URL(request.url, "http://proxy").searchParams.get("upload_id");
      if (request.method !== "PUT" || id === null) return inner(request, forward);
      const session = sessions.get(id) ?? { persisted: 0 };
      sessions.set(id, session);
      if (request.body.byteLength === 0 && String(request.headers["content-range"]).startsWith("bytes */")) {
        if (session.completed !== undefined) return session.completed;
        const range = session.persisted > 0 ? { range: `bytes=0-${session.persisted - 1}` } : {};
        return { status: 308, headers: range, body: Buffer.alloc(0) };
      }
      const response = await inner(request, async (replacement) => {
        const answer = await forward(replacement);
        const acknowledged = /bytes=0-(\d+)/.exec(String(answer.headers.range ?? ""));
        if (answer.status === 308 && acknowledged !== null) session.persisted = Number(acknowledged[1]) + 1;
        if (answer.status === 200) session.completed = answer;
        return answer;
      });
      return response;
    };
  }

  describe("folder markers", () => {
    it("leaves out zero-byte objects ending in \"/\" (a console's folders), as on S3, and lists one that holds bytes", async () => {
      const { backend, prefix } = fresh();
      const written: [string, string][] = [["m/full/", "a marker that holds bytes"], ["m/sub/f.txt", "in a folder with a marker"], ["m/jsons/", ""], ["m/sub/", ""]];
      try {
        for (const [key, body] of written) await rawPut(gcs, `${prefix}/${key}`, body);
        await assertFolderMarkersListed(backend);
      } finally {
        for (const [key] of written) await rawDelete(gcs, `${prefix}/${key}`);
      }
    });
  });

  describe("resumable uploads", () => {
    it("a create-only resumable upload onto an existing key fails ALREADY_EXISTS and leaves the old content", async () => {
      const { backend, prefix, proxy } = await proxied((_request, forward) => forward(), SMALL_CHUNKS);
      await backend.put("ckpt.bin", "old weights");
      const body = randomBody(1024 * KiB);
      await rejectsWithCode(backend.putStream("ckpt.bin", Readable.from([body]), { mode: CREATE_ONLY }), "ALREADY_EXISTS", "taken key");
      assert.equal(await readText(backend, "ckpt.bin"), "old weights");
      const name = objectName(prefix, "ckpt.bin");
      assert.ok(uploadsOf(proxy.requests, name).some((request) => request.url.includes("uploadType=resumable")), "resumable");
      assert.ok(chunkPuts(proxy.requests, name).length >= 4, "sent in 256 KiB chunks");

      await backend.delete("ckpt.bin");
      const created = await backend.putStream("ckpt.bin", Readable.from([body]), { mode: CREATE_ONLY });
      assert.equal(created.size, body.byteLength);
      assertSameBytes(await backend.get("ckpt.bin"), body, "created by a resumable upload");
    });

    it("a resumable compare-and-swap replaces only from the current revision", async () => {
      const { backend } = fresh(SMALL_CHUNKS);
      const first = await backend.put("log.jsonl", "line 1\n");
      const second = await backend.putStream("log.jsonl", Readable.from([randomBody(600 * KiB)]), { mode: ifRevision(first.revision) });
      assert.notEqual(second.revision, first.revision);
      await rejectsWithCode(
        backend.putStream("log.jsonl", Readable.from([randomBody(600 * KiB)]), { mode: ifRevision(first.revision) }),
        "PRECONDITION_FAILED",
        "stale revision",
      );
      assert.equal((await backend.head("log.jsonl")).revision, second.revision);
    });

    it("a body failing after some chunks is INVALID_ARGUMENT caused by the body's error and commits nothing", async () => {
      const { backend, proxy, prefix } = await proxied((_request, forward) => forward(), SMALL_CHUNKS);
      const failure = new Error("disk read failed");
      async function* failing(): AsyncGenerator<Uint8Array> {
        for (let index = 0; index < 3; index++) yield randomBody(256 * KiB);
        throw failure;
      }
      await assert.rejects(backend.putStream("new.bin", failing()), (error: unknown) => isOpenCrateError(error, "INVALID_ARGUMENT") && error.cause === failure);
      await rejectsWithCode(backend.head("new.bin"), "NOT_FOUND", "nothing at a new key");
      assert.ok(chunkPuts(proxy.requests, objectName(prefix, "new.bin")).length >= 2, "chunks had been sent");
      assert.ok(
        proxy.requests.some((request) => request.method === "DELETE" && request.url.includes("upload_id=")),
        "the session was cancelled",
      );

      await backend.put("old.bin", "kept");
      await assert.rejects(backend.putStream("old.bin", failing(), { mode: CREATE_ONLY }), (error: unknown) => isOpenCrateError(error, "INVALID_ARGUMENT") && error.cause === failure);
      assert.equal(await readText(backend, "old.bin"), "kept");
    });

    it("an aborted putStream rejects with the abort and commits nothing", async () => {
      const { backend } = fresh(SMALL_CHUNKS);
      const controller = new AbortController();
      async function* slow(): AsyncGenerator<Uint8Array> {
        for (let index = 0; index < 100; index++) {
          if (index === 3) controller.abort(new Error("stop requested"));
          yield randomBody(256 * KiB);
        }
      }
      await assert.rejects(backend.putStream("aborted.bin", slow(), { signal: controller.signal }), /stop requested/);
      await rejectsWithCode(backend.head("aborted.bin"), "NOT_FOUND", "nothing committed");
    });

    it("sends a small body as one multipart request and a large known size straight to a resumable session", async () => {
      const { backend, proxy, prefix } = await proxied((_request, forward) => forward(), SMALL_CHUNKS);
      await backend.putStream("small.txt", Readable.from([Buffer.from("tiny")]));
      const small = uploadsOf(proxy.requests, objectName(prefix, "small.txt"));
      assert.deepEqual(small.map((request) => new URL(request.url, "http://x").searchParams.get("uploadType")), ["multipart"]);
      const body = randomBody(700 * KiB);
      await backend.putStream("large.bin", Readable.from([body]), { size: body.byteLength });
      const large = uploadsOf(proxy.requests, objectName(prefix, "large.bin"));
      assert.deepEqual(large.map((request) => new URL(request.url, "http://x").searchParams.get("uploadType")), ["resumable"]);
      assertSameBytes(await backend.get("large.bin"), body, "large body");
    });
  });

  /** The X-Goog-Hash headers sent in the uploads of `name`. */
  const declaredHashes = (requests: readonly ProxiedRequest[], name: string) =>
    chunkPuts(requests, name).flatMap((request) => (request.headers["x-goog-hash"] === undefined ? [] : [String(request.headers["x-goog-hash"])]));
  /** The SDK's own CRC32C of `bytes`, as an independent check of ours. */
  const sdkCrc32c = (bytes: Uint8Array) => {
    const crc = new CRC32C();
    crc.update(Buffer.from(bytes));
    return crc.toString();
  };

  describe("uploads from a local file (putFile)", () => {
    let folder = "";
    before(async () => {
      folder = await mkdtemp(join(tmpdir(), "oc-gcs-putfile-"));
    });
    after(() => rm(folder, { recursive: true, force: true }));
    const localFile = async (name: string, bytes: Uint8Array) => {
      const path = join(folder, name);
      await writeFile(path, bytes);
      return path;
    };

    it("streams a large file in one request plus a final one, and sends a small one as one multipart request", async () => {
      const { backend, proxy, prefix } = await proxied((_request, forward) => forward(), SMALL_CHUNKS);
      const big = randomBody(1300 * KiB);
      const progress: number[] = [];
      const info = await backend.putFile("ckpt/big.bin", await localFile("big.bin", big), {
        contentType: "application/x-checkpoint",
        onProgress: (bytes) => progress.push(bytes),
      });
      assert.equal(info.size, big.byteLength);
      assertSameBytes(await backend.get("ckpt/big.bin"), big, "round trip");
      const puts = chunkPuts(proxy.requests, objectName(prefix, "ckpt/big.bin"));
      // 1300 KiB: bytes 0 to 1280 KiB (the last multiple of 256 KiB short of the end) streamed, then the rest.
      assert.deepEqual(
        puts.map((request) => request.headers["content-range"]),
        [`bytes 0-${1280 * KiB - 1}/*`, `bytes ${1280 * KiB}-${1300 * KiB - 1}/${1300 * KiB}`],
      );
      assert.equal(progress.at(-1), big.byteLength);
      assert.deepEqual(declaredHashes(proxy.requests, objectName(prefix, "ckpt/big.bin")), [`crc32c=${sdkCrc32c(big)}`]);
      assert.equal((await rawResource(prefix, "ckpt/big.bin")).contentType, "application/x-checkpoint");

      const small = randomBody(10 * KiB);
      await backend.putFile("small.bin", await localFile("small.bin", small));
      assertSameBytes(await backend.get("small.bin"), small, "small round trip");
      const uploadTypes = uploadsOf(proxy.requests, objectName(prefix, "small.bin")).map((request) =>
        new URL(request.url, "http://proxy").searchParams.get("uploadType"),
      );
      assert.deepEqual(uploadTypes, ["multipart"], "one multipart request, no resumable session");
      assert.equal(chunkPuts(proxy.requests, objectName(prefix, "small.bin")).length, 0);
    });

    it("a file of exactly one chunk multiple still ends with a final request holding bytes", async () => {
      const { backend } = fresh(SMALL_CHUNKS);
      const body = randomBody(512 * KiB);
      await backend.putFile("exact.bin", await localFile("exact.bin", body));
      assertSameBytes(await backend.get("exact.bin"), body, "round trip");
    });

    it("create-only onto a taken key fails ALREADY_EXISTS and keeps the old bytes; replace needs the current revision", async () => {
      const { backend } = fresh(SMALL_CHUNKS);
      const first = randomBody(700 * KiB);
      const second = randomBody(900 * KiB);
      const firstPath = await localFile("first.bin", first);
      const secondPath = await localFile("second.bin", second);
      const created = await backend.putFile("taken.bin", firstPath, { mode: CREATE_ONLY });
      await rejectsWithCode(backend.putFile("taken.bin", secondPath, { mode: CREATE_ONLY }), "ALREADY_EXISTS", "create-only onto a taken key");
      assertSameBytes(await backend.get("taken.bin"), first, "old bytes kept");
      await backend.put("taken.bin", "someone else");
      await rejectsWithCode(backend.putFile("taken.bin", secondPath, { mode: ifRevision(created.revision) }), "PRECONDITION_FAILED", "stale revision");
      const current = await backend.head("taken.bin");
      await backend.putFile("taken.bin", secondPath, { mode: ifRevision(current.revision) });
      assertSameBytes(await backend.get("taken.bin"), second, "replaced from the current revision");
    });

    it("after a streamed request breaks off, sends the rest from the offset the session kept, read again from the file", async () => {
      let cut = false;
      const { backend, proxy, prefix } = await proxied(
        withGcsStatusQueries(async (request, forward) => {
          const range = String(request.headers["content-range"]);
          if (!cut && range.startsWith("bytes 0-") && range.endsWith("/*")) {
            cut = true;
            // The store keeps the first 512 KiB; the answer is lost.
            await forward({ ...request, headers: { ...request.headers, "content-range": `bytes 0-${512 * KiB - 1}/*` }, body: request.body.subarray(0, 512 * KiB) });
            return serviceUnavailable();
          }
          return forward();
        }),
        SMALL_CHUNKS,
      );
      const body = randomBody(1500 * KiB);
      const info = await backend.putFile("resumed.bin", await localFile("resumed.bin", body), { mode: CREATE_ONLY });
      assert.ok(cut);
      assert.equal(info.size, body.byteLength);
      assertSameBytes(await backend.get("resumed.bin"), body, "every byte once, in order");
      const ranges = chunkPuts(proxy.requests, objectName(prefix, "resumed.bin")).map((request) => String(request.headers["content-range"]));
      assert.ok(ranges.includes(`bytes ${512 * KiB}-${1280 * KiB - 1}/*`), `continued at 512 KiB: ${ranges.join(", ")}`);
      // fake-gcs-server does not check X-Goog-Hash; GCS refuses to commit on a mismatch, so check it here.
      assert.deepEqual(declaredHashes(proxy.requests, objectName(prefix, "resumed.bin")), [`crc32c=${sdkCrc32c(body)}`]);
    });

    it("a missing local file is INVALID_ARGUMENT naming it, and nothing is written", async () => {
      const { backend } = fresh(SMALL_CHUNKS);
      const missing = join(folder, "missing.bin");
      const error = await rejectsWithCode(backend.putFile("never.bin", missing), "INVALID_ARGUMENT", "missing local file");
      assert.match(error.message, /missing\.bin/);
      await rejectsWithCode(backend.head("never.bin"), "NOT_FOUND", "nothing written");
    });

    it("a file that shrinks while it streams fails INVALID_ARGUMENT naming it, and commits nothing", async () => {
      const path = await localFile("shrinking.bin", randomBody(1500 * KiB));
      // The size is taken when the upload starts; the file is cut as the session opens, before any byte is read.
      const shrinkOnOpen = await proxied(async (request, forward) => {
        if (request.method === "POST" && request.url.includes("uploadType=resumable")) await truncate(path, 300 * KiB);
        return forward();
      }, SMALL_CHUNKS);
      const error = await rejectsWithCode(shrinkOnOpen.backend.putFile("shrunk.bin", path), "INVALID_ARGUMENT", "file shrank");
      assert.match(error.message, /shrinking\.bin shrank/);
      await rejectsWithCode(shrinkOnOpen.backend.head("shrunk.bin"), "NOT_FOUND", "nothing committed");
    });
  });

  describe("conditional writes", () => {
    it("stores the writer token only with conditional writes and resumable uploads, and never shows it in metadata", async () => {
      const { backend, prefix } = fresh(SMALL_CHUNKS);
      await backend.put("plain.json", "{}", { metadata: { owner: "team-a" } });
      await backend.put("claim.json", "{}", { mode: CREATE_ONLY, metadata: { owner: "team-a" } });
      await backend.putStream("large.bin", Readable.from([randomBody(300 * KiB)]), { metadata: { owner: "team-a" } });
      const raw = async (key: string) => (await rawResource(prefix, key)).metadata ?? {};
      assert.equal((await raw("plain.json"))["oc-token"], undefined);
      assert.match((await raw("claim.json"))["oc-token"] ?? "", /^[0-9a-f-]{36}$/);
      // An overwrite through a resumable session too: its final answer, if lost, is settled by the token.
      assert.match((await raw("large.bin"))["oc-token"] ?? "", /^[0-9a-f-]{36}$/);
      assert.deepEqual((await backend.head("claim.json")).metadata, { owner: "team-a" });
      assert.deepEqual((await backend.head("large.bin")).metadata, { owner: "team-a" });
    });

    it("probes once per endpoint and bucket and leaves no probe object behind", async () => {
      const { backend, proxy, prefix } = await proxied((_request, forward) => forward());
      await backend.put("a.json", "1", { mode: CREATE_ONLY });
      await backend.put("b.json", "2", { mode: CREATE_ONLY });
      const probeUploads = proxy.requests.filter((request) => request.method === "POST" && request.url.includes(".opencrate-probe-"));
      assert.equal(probeUploads.length, 4, "plain, create-only multipart, create-only resumable, stale generation");
      const names = (await fetch(`${gcs.endpoint}/storage/v1/b/${gcs.bucket}/o?prefix=${prefix}/`).then((response) => response.json())) as {
        items?: Array<{ name: string }>;
      };
      assert.deepEqual((names.items ?? []).map((item) => item.name).sort(), [`${prefix}/a.json`, `${prefix}/b.json`]);
    });

    it("a create whose response was lost and whose retry met 412 succeeds when the object holds our token", async () => {
      let lost = false;
      const { backend, proxy, prefix } = await proxied(async (request, forward) => {
        const response = await forward();
        if (!lost && request.method === "POST" && request.url.includes(encodeURIComponent("claims/0001.json"))) {
          lost = true; // the write landed; the client sees a 503 and retries
          return serviceUnavailable();
        }
        return response;
      });
      const info = await backend.put("claims/0001.json", "mine", { mode: CREATE_ONLY });
      assert.ok(lost, "the first response was dropped");
      assert.equal(uploadsOf(proxy.requests, objectName(prefix, "claims/0001.json")).length, 2, "retried once, and met 412");
      assert.equal(await readText(backend, "claims/0001.json"), "mine");
      assert.equal((await backend.head("claims/0001.json")).revision, info.revision);
    });

    it("a retried create that met 412 and cannot read the object back is TRANSIENT, not ALREADY_EXISTS", async () => {
      const name = encodeURIComponent("claims/0003.json");
      let lost = false;
      let readBacks = 0;
      const { backend } = await proxied(
        async (request, forward) => {
          if (request.method === "GET" && request.url.includes(`/o/${encodeURIComponent(backend.prefix)}${encodeURIComponent("/")}${name}`)) {
            readBacks += 1;
            return serviceUnavailable();
          }
          const response = await forward();
          if (!lost && request.method === "POST" && request.url.includes(name)) {
            lost = true; // the write landed; the client sees a 503, retries and meets its own object
            return serviceUnavailable();
          }
          return response;
        },
        { maxRetries: 1 },
      );
      const error = await rejectsWithCode(backend.put("claims/0003.json", "mine", { mode: CREATE_ONLY }), "TRANSIENT", "outcome unknown");
      assert.match(error.message, /Cannot tell whether the write to .*claims\/0003\.json landed/);
      assert.ok(lost && readBacks > 0, `the answer was lost and the read-back failed (${readBacks} attempts)`);
      const clean = new GcsBackend(gcsOptions(gcs, { prefix: backend.prefix }));
      backends.push(clean);
      assert.equal(await readText(clean, "claims/0003.json"), "mine", "it had landed");
    });

    it("a retried create that meets someone else's object is ALREADY_EXISTS", async () => {
      let dropped = false;
      const { backend } = await proxied(async (request, forward) => {
        if (!dropped && request.method === "POST" && request.url.includes(encodeURIComponent("claims/0002.json"))) {
          dropped = true; // never reaches the emulator; the client sees a 503 and retries
          return serviceUnavailable();
        }
        return forward();
      });
      const competitor = new GcsBackend(gcsOptions(gcs, { prefix: backend.prefix }));
      backends.push(competitor);
      await competitor.put("claims/0002.json", "theirs", { mode: CREATE_ONLY });
      await rejectsWithCode(backend.put("claims/0002.json", "mine", { mode: CREATE_ONLY }), "ALREADY_EXISTS", "lost to another writer");
      assert.ok(dropped);
      assert.equal(await readText(backend, "claims/0002.json"), "theirs");
    });

    it("a resumable create whose final response was lost is settled by the token, without crashing", async () => {
      let lost = false;
      const { backend } = await proxied(async (request, forward) => {
        const response = await forward();
        if (!lost && isFinalChunk(request) && request.url.includes(encodeURIComponent("ckpt/v3.bin"))) {
          lost = true; // committed by the emulator; the client sees a 503
          return serviceUnavailable();
        }
        return response;
      }, SMALL_CHUNKS);
      const body = randomBody(600 * KiB);
      const info = await backend.putStream("ckpt/v3.bin", Readable.from([body]), { mode: CREATE_ONLY });
      assert.ok(lost);
      assert.equal(info.size, body.byteLength);
      assertSameBytes(await backend.get("ckpt/v3.bin"), body, "committed once");
    });

    it("a resumable create whose stored bytes differ from those sent fails CORRUPT_DATA, though the object holds our token", async () => {
      // fake-gcs-server does not check the final request's X-Goog-Hash: a chunk damaged on the way is committed.
      let damaged = false;
      const { backend } = await proxied(async (request, forward) => {
        if (!damaged && request.method === "PUT" && String(request.headers["content-range"]).startsWith("bytes 262144-")) {
          damaged = true;
          const body = Buffer.from(request.body);
          body[10] = (body[10] ?? 0) ^ 0xff;
          return forward({ ...request, body });
        }
        return forward();
      }, SMALL_CHUNKS);
      await backend.put("warm.bin", "x", { mode: CREATE_ONLY });
      await rejectsWithCode(
        backend.putStream("damaged.bin", Readable.from([randomBody(700 * KiB)]), { mode: CREATE_ONLY }),
        "CORRUPT_DATA",
        "the committed bytes are not the ones sent",
      );
      assert.ok(damaged);
    });

    it("a chunk answered by 503 is resent from where the session says it got to", async () => {
      let failures = 0;
      const { backend } = await proxied(
        withGcsStatusQueries(async (request, forward) => {
          if (failures < 2 && String(request.headers["content-range"]).startsWith("bytes 262144-")) {
            failures += 1; // never reaches the emulator
            return serviceUnavailable();
          }
          return forward();
        }),
        SMALL_CHUNKS,
      );
      const body = randomBody(1024 * KiB);
      await backend.putStream("flaky.bin", Readable.from([body]), { mode: CREATE_ONLY });
      assert.equal(failures, 2);
      assertSameBytes(await backend.get("flaky.bin"), body, "every byte once");
    });

    it("a final chunk whose answer was lost completes when the session says it is complete", async () => {
      let lost = false;
      const { backend, proxy, prefix } = await proxied(
        withGcsStatusQueries(async (request, forward) => {
          const response = await forward();
          if (!lost && isFinalChunk(request) && request.url.includes(encodeURIComponent("final.bin"))) {
            lost = true; // committed; the client sees a 503 and asks the session
            return serviceUnavailable();
          }
          return response;
        }),
        SMALL_CHUNKS,
      );
      const body = randomBody(600 * KiB);
      const info = await backend.putStream("final.bin", Readable.from([body]), { mode: CREATE_ONLY });
      assert.ok(lost);
      assert.equal(info.size, body.byteLength);
      const name = encodeURIComponent(objectName(prefix, "final.bin"));
      assert.ok(!proxy.requests.some((request) => request.method === "GET" && request.url.includes(name)), "no read-back was needed");
      assertSameBytes(await backend.get("final.bin"), body, "committed once");
    });

    it("never asks fake-gcs-server how far a session got (it would commit the part): a failed chunk fails TRANSIENT and the old object stays", async () => {
      let dropped = false;
      const { backend, proxy, prefix } = await proxied(async (request, forward) => {
        if (!dropped && String(request.headers["content-range"]).startsWith("bytes 262144-")) {
          dropped = true;
          return serviceUnavailable();
        }
        return forward();
      }, SMALL_CHUNKS);
      const old = randomBody(700 * KiB);
      dropped = true;
      await backend.put("partial.bin", old);
      for (const mode of [undefined, CREATE_ONLY]) {
        dropped = false;
        await rejectsWithCode(
          backend.putStream("partial.bin", Readable.from([randomBody(1024 * KiB)]), mode === undefined ? {} : { mode }),
          "TRANSIENT",
          "a chunk failed",
        );
        assert.ok(dropped);
        assertSameBytes(await backend.get("partial.bin"), old, "the old object is intact");
      }
      const name = objectName(prefix, "partial.bin");
      const statusQueries = chunkPuts(proxy.requests, name).filter((request) => String(request.headers["content-range"]).startsWith("bytes */"));
      assert.deepEqual(statusQueries, [], "no status query reached the emulator for the real object");
    });
  });

  describe("content types", () => {
    it("stores the given content type, else application/octet-stream, whichever upload path the body takes", async () => {
      const { backend, prefix } = fresh(SMALL_CHUNKS);
      await backend.put("typed.json", "{}", { contentType: "application/json" });
      await backend.putStream("typed-large.json", Readable.from([randomBody(600 * KiB)]), { contentType: "application/json" });
      await backend.put("image.png", "not really");
      await backend.putStream("image-large.png", Readable.from([randomBody(600 * KiB)]));
      assert.equal((await rawResource(prefix, "typed.json")).contentType, "application/json");
      assert.equal((await rawResource(prefix, "typed-large.json")).contentType, "application/json");
      assert.equal((await rawResource(prefix, "image.png")).contentType, "application/octet-stream");
      assert.equal((await rawResource(prefix, "image-large.png")).contentType, "application/octet-stream");
    });
  });

  describe("copies", () => {
    it("a create-only copy keeps bytes, content type and metadata, and fails onto a taken key", async () => {
      const { backend, prefix } = fresh();
      const body = randomBody(300 * KiB);
      await backend.put("src.bin", body, { contentType: "application/x-safetensors", metadata: { step: "100" } });
      await backend.put("taken.bin", "theirs");
      await rejectsWithCode(backend.copy("src.bin", "taken.bin", { mode: CREATE_ONLY }), "ALREADY_EXISTS", "taken");
      assert.equal(await readText(backend, "taken.bin"), "theirs");
      const copied = await backend.copy("src.bin", "dst.bin", { mode: CREATE_ONLY });
      assert.equal(copied.size, body.byteLength);
      assertSameBytes(await backend.get("dst.bin"), body, "copied bytes");
      assert.deepEqual((await backend.head("dst.bin")).metadata, { step: "100" });
      assert.equal((await rawResource(prefix, "dst.bin")).contentType, "application/x-safetensors");
      await rejectsWithCode(backend.copy("missing.bin", "x.bin", { mode: CREATE_ONLY }), "NOT_FOUND", "missing source");
    });

    it("fake-gcs-server ignores preconditions on rewrite, so the probe picks the streamed conditional upload for conditional copies", async () => {
      // A proxy gives this test its own endpoint, so the once-per-process copy probe runs (and is seen) here.
      const { backend, proxy, prefix } = await proxied((_request, forward) => forward());
      const rewrites = (since: number) => proxy.requests.slice(since).filter((request) => request.url.includes("/rewriteTo/"));
      assert.equal(await backend.conditionalCopiesServerSide(), false, "the emulator let a create-only rewrite replace an object");
      assert.equal(backend.capabilities.serverSideCopy, false);
      assert.equal(backend.capabilities.copyCreateOnly, true, "the fallback is enforced by the store too");
      assert.equal(rewrites(0).length, 1, "one create-only probe rewrite; it went through, so the stale-generation one is skipped");
      assert.deepEqual(await listKeys(backend, ""), [], "the probe objects are deleted");

      await backend.put("src.bin", "new bytes", { metadata: { step: "7" } });
      await backend.put("taken.bin", "theirs");
      const before = proxy.requests.length;
      await rejectsWithCode(backend.copy("src.bin", "taken.bin", { mode: CREATE_ONLY }), "ALREADY_EXISTS", "taken");
      assert.equal(await readText(backend, "taken.bin"), "theirs", "the old content is intact");
      await backend.copy("src.bin", "dst.bin", { mode: CREATE_ONLY });
      assert.equal(await readText(backend, "dst.bin"), "new bytes");
      assert.deepEqual((await backend.head("dst.bin")).metadata, { step: "7" });
      assert.equal(rewrites(before).length, 0, "conditional copies never use the rewrite the emulator would not check");
      assert.equal(uploadsOf(proxy.requests.slice(before), objectName(prefix, "dst.bin")).length, 1, "a conditional upload instead");

      await backend.copy("src.bin", "plain-copy.bin");
      assert.equal(rewrites(before).length, 1, "overwrite copies stay server-side");
    });

    it("a copy with a replace mode swaps only from the expected revision", async () => {
      const { backend } = fresh();
      await backend.put("src.txt", "new");
      const target = await backend.put("dst.txt", "old");
      await backend.copy("src.txt", "dst.txt", { mode: ifRevision(target.revision) });
      assert.equal(await readText(backend, "dst.txt"), "new");
      await rejectsWithCode(backend.copy("src.txt", "dst.txt", { mode: ifRevision(target.revision) }), "PRECONDITION_FAILED", "stale");
    });
  });

  describe("STORAGE_EMULATOR_HOST", () => {
    for (const form of ["url", "host:port"] as const) {
      it(`works end to end with only STORAGE_EMULATOR_HOST set (${form}): JSON API, multipart and resumable uploads`, async () => {
        const saved = process.env.STORAGE_EMULATOR_HOST;
        process.env.STORAGE_EMULATOR_HOST = form === "url" ? gcs.endpoint : new URL(gcs.endpoint).host;
        try {
          const prefix = `t-${randomUUID()}`;
          prefixes.push(prefix);
          const backend = GcsBackend.fromUri(`gs://${gcs.bucket}/${prefix}`, SMALL_CHUNKS);
          backends.push(backend);
          const claim = await backend.put("v0/claim.json", '{"v":0}', { mode: CREATE_ONLY });
          await rejectsWithCode(backend.put("v0/claim.json", "again", { mode: CREATE_ONLY }), "ALREADY_EXISTS", "create-only");
          const body = randomBody(700 * KiB);
          await backend.putStream("v0/weights.bin", Readable.from([body]), { mode: CREATE_ONLY });
          assert.equal((await backend.head("v0/claim.json")).revision, claim.revision);
          assertSameBytes(await backend.get("v0/weights.bin", { range: { offset: 1000, length: 10 } }), body.subarray(1000, 1010), "range");
          assert.deepEqual(await listKeys(backend, ""), ["v0/claim.json", "v0/weights.bin"]);
          assert.deepEqual((await backend.listPage("")).prefixes, ["v0/"]);
          await backend.copy("v0/claim.json", "v0/claim-copy.json");
          await backend.delete("v0/claim-copy.json");
          assertSameBytes((await rawObject(gcs, `${prefix}/v0/weights.bin`)) ?? new Uint8Array(), body, "really at the emulator");
        } finally {
          if (saved === undefined) delete process.env.STORAGE_EMULATOR_HOST;
          else process.env.STORAGE_EMULATOR_HOST = saved;
        }
      });
    }
  });

  describe("bad settings", () => {
    it("a missing bucket is NOT_FOUND naming the bucket and the endpoint, for reads, writes, lists and deletes", async () => {
      const missing = `opencrate-missing-${randomUUID().slice(0, 8)}`;
      const backend = new GcsBackend(gcsOptions(gcs, { bucket: missing, ...SMALL_CHUNKS }));
      backends.push(backend);
      for (const [label, attempt] of [
        ["head", () => backend.head("a.json")],
        ["get", () => backend.get("a.json")],
        ["put", () => backend.put("a.json", "x")],
        ["putStream", () => backend.putStream("big.bin", Readable.from([randomBody(600 * KiB)]))],
        ["list", () => listKeys(backend, "")],
        ["listPage", () => backend.listPage("")],
        ["delete", () => backend.delete("a.json")],
      ] as const) {
        const error = await rejectsWithCode(attempt(), "NOT_FOUND", label);
        assert.ok(error.message.includes(`gs://${missing}`) && error.message.includes(gcs.endpoint), `${label}: ${error.message}`);
        assert.match(error.message, /bucket .* does not exist/, label);
      }
    });
  });

  describe("downloads under faults (read in this process: a crash fails the run)", () => {
    const isDownload = (url: string) => url.includes("alt=media");

    /**
     * A backend behind a fault proxy whose media GETs get `faults` in order and then pass (or get `faults` each
     * time, if it is one kind), with 2 attempts per call.
     */
    async function behindFaults(faults: ReadonlyArray<FaultKind | "pass"> | FaultKind) {
      const { backend, prefix } = fresh();
      const proxy = await startFaultProxy({ target: gcs.endpoint, seed: 1 });
      proxies.push(proxy);
      const pending = typeof faults === "string" ? undefined : [...faults];
      const downloads: string[] = [];
      proxy.setPlan({
        decide: (request) => {
          if (!isDownload(request.url)) return "pass";
          downloads.push(request.url);
          return pending === undefined ? (faults as FaultKind) : (pending.shift() ?? "pass");
        },
      });
      const faulty = new GcsBackend(gcsOptions(gcs, { prefix, apiEndpoint: proxy.endpoint, maxRetries: 1 }));
      backends.push(faulty);
      return { backend, faulty, downloads };
    }

    it("a download answered 503 is retried and returns the whole object: get, getStream and ranged", async () => {
      const { backend, faulty, downloads } = await behindFaults(["gcs-503", "pass", "status-503", "pass", "status-500"]);
      const body = randomBody(300 * KiB);
      await backend.put("model.bin", body);
      assertSameBytes(await faulty.get("model.bin"), body, "get after a 503");
      assertSameBytes(await collect(await faulty.getStream("model.bin")), body, "getStream after a 503");
      assertSameBytes(await faulty.get("model.bin", { range: { offset: 1000, length: 5000 } }), body.subarray(1000, 6000), "ranged get after a 500");
      assert.equal(downloads.length, 6, "each read took two attempts");
    });

    it("a download answered 503 on every attempt fails TRANSIENT", async () => {
      const { backend, faulty, downloads } = await behindFaults(["gcs-503", "gcs-503"]);
      await backend.put("model.bin", randomBody(10 * KiB));
      const error = await rejectsWithCode(faulty.get("model.bin"), "TRANSIENT", "503 twice");
      assert.match(error.message, /gs:\/\/.*model\.bin/);
      assert.equal(downloads.length, 2);
    });

    it("a download cut half-way is continued and returns the whole object", async () => {
      const { backend, faulty, downloads } = await behindFaults(["cut-response"]);
      const body = randomBody(1024 * KiB);
      await backend.put("model.bin", body);
      assertSameBytes(await faulty.get("model.bin"), body, "whole after the cut");
      assert.equal(downloads.length, 2, "one continuation");
    });

    it("a download cut on every attempt fails TRANSIENT and never returns short data", async () => {
      for (const read of ["get", "getStream"] as const) {
        const { backend, faulty } = await behindFaults("cut-response");
        await backend.put("model.bin", randomBody(1024 * KiB));
        const reading = read === "get" ? faulty.get("model.bin") : faulty.getStream("model.bin").then(collect);
        await rejectsWithCode(reading, "TRANSIENT", `${read} cut every time`);
      }
    });

    it("continues a cut download from the byte it stopped at, whole or ranged", async () => {
      const { backend, faulty, requests } = await behindCuttingProxy();
      const body = randomBody(400 * KiB);
      const info = await backend.put("model.bin", body);
      assertSameBytes(await faulty.get("model.bin"), body, "whole");
      assertSameBytes(await faulty.get("model.bin", { range: { offset: 1000, length: 200_000 } }), body.subarray(1000, 201_000), "ranged");
      assert.deepEqual(
        requests.map(({ range, generation }) => [range, generation]),
        [
          [undefined, null],
          [`bytes=${200 * KiB}-${400 * KiB - 1}`, info.revision],
          ["bytes=1000-200999", null],
          [`bytes=${1000 + 100_000}-200999`, info.revision],
        ],
      );
    });

    it("fails TRANSIENT, never splicing, when the object is replaced between the cut and the continuation", async () => {
      const { backend, faulty, requests } = await behindCuttingProxy(async () => {
        await backend.put("model.bin", randomBody(400 * KiB));
      });
      await backend.put("model.bin", randomBody(400 * KiB));
      const error = await rejectsWithCode(faulty.getStream("model.bin").then(collect), "TRANSIENT", "replaced mid-read");
      assert.match(error.message, /changed while it was being read/);
      assert.equal(requests.length, 2);
    });

    /**
     * A backend behind a proxy that ends every first media GET's answer (FIN, not a reset, so the client surely
     * gets them) after half its bytes, and lets continuations through after `beforeContinuation`.
     */
    async function behindCuttingProxy(beforeContinuation: () => Promise<void> = async () => {}) {
      const { backend, prefix } = fresh();
      const requests: Array<{ range: string | undefined; generation: string | null }> = [];
      const target = new URL(gcs.endpoint);
      const server = createServer((incoming, outgoing) => {
        const url = new URL(incoming.url ?? "/", "http://proxy");
        const media = isDownload(url.search);
        const generation = url.searchParams.get("generation");
        if (media) requests.push({ range: incoming.headers.range, generation });
        const cut = media && generation === null;
        const forward = () =>
          incoming.pipe(
            httpRequest({ host: target.hostname, port: target.port, method: incoming.method, path: incoming.url, headers: incoming.headers }, (response) => {
              const headers: IncomingHttpHeaders = response.headers;
              outgoing.writeHead(response.statusCode ?? 502, headers);
              if (!cut) {
                response.pipe(outgoing);
                return;
              }
              const half = Math.floor(Number(headers["content-length"]) / 2);
              const chunks: Buffer[] = [];
              response.on("data", (chunk: Buffer) => chunks.push(chunk));
              response.on("end", () => outgoing.write(Buffer.concat(chunks).subarray(0, half), () => outgoing.socket?.end()));
            }),
          );
        if (media && !cut) void beforeContinuation().then(forward);
        else forward();
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      proxies.push({
        close: () =>
          new Promise<void>((resolve) => {
            server.closeAllConnections();
            server.close(() => resolve());
          }),
      });
      const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const faulty = new GcsBackend(gcsOptions(gcs, { prefix, apiEndpoint: endpoint, maxRetries: 1 }));
      backends.push(faulty);
      return { backend, faulty, requests };
    }
  });

  describe("deleteMany", () => {
    it("deletes many keys with a bounded number in flight", async () => {
      let inFlight = 0;
      let peak = 0;
      const { backend } = await proxied(async (request, forward) => {
        if (request.method !== "DELETE") return forward();
        inFlight += 1;
        peak = Math.max(peak, inFlight);
        try {
          await new Promise((resolve) => setTimeout(resolve, 5));
          return await forward();
        } finally {
          inFlight -= 1;
        }
      });
      const keys = Array.from({ length: 40 }, (_, index) => `many/${String(index).padStart(3, "0")}.txt`);
      for (const key of keys) await backend.put(key, key);
      await backend.deleteMany([...keys, "many/not-there.txt"]);
      assert.deepEqual(await listKeys(backend, ""), []);
      assert.ok(peak > 1 && peak <= 16, `between 2 and 16 deletes in flight (peak ${peak})`);
    });
  });
});

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
