/**
 * S3 transfers in parts on a real MinIO: whole-object reads as parallel ranged GETs pinned to the first answer's
 * ETag (an object replaced mid-read fails TRANSIENT, never a spliced body), and putFile (single PutObject or a
 * multipart upload read from the file at offsets, conditions at completion, nothing left open on failure).
 */
import assert from "node:assert/strict";
import { createHash, randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { truncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { CREATE_ONLY, ifRevision } from "../../src/backends/backend.ts";
import { S3Backend } from "../../src/backends/s3/index.ts";
import { assertSameBytes, randomBody, readStream, rejectsWithCode } from "../conformance/helpers.ts";
import { ensureBucket, rawListing, s3Options } from "../support/s3.ts";
import { startS3Proxy, type Interceptor, type RunningServer } from "../support/s3-proxy.ts";
import { minioEnv, skipUnless, type S3ServerEnv } from "../support/servers.ts";
import { deleteUnder } from "../support/bucket-factory.ts";

const MiB = 1024 * 1024;
const server = minioEnv();

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** "bytes=a-b" of a ranged GET, or undefined. */
function rangeOf(headers: Record<string, string | string[] | undefined>): string | undefined {
  const range = headers.range;
  return typeof range === "string" ? range : undefined;
}

describe("S3 parallel reads and putFile on MinIO", { skip: skipUnless(server, "MinIO", "TEST_MINIO_ENDPOINT") }, () => {
  const minio = server as S3ServerEnv;
  const prefixes: string[] = [];
  const backends: S3Backend[] = [];
  const proxies: RunningServer[] = [];
  let scratch = "";

  before(async () => {
    await ensureBucket(minio);
    scratch = await mkdtemp(join(tmpdir(), "oc-s3-parallel-"));
  });
  after(async () => {
    await Promise.all(backends.map((backend) => backend.close()));
    await Promise.all(proxies.map((proxy) => proxy.close()));
    const cleaner = new S3Backend(s3Options(minio));
    await deleteUnder(cleaner, prefixes);
    await cleaner.close();
    await rm(scratch, { recursive: true, force: true });
  });

  function fresh(extra: Parameters<typeof s3Options>[1] = {}, prefix = `t-${randomUUID()}`): { backend: S3Backend; prefix: string } {
    prefixes.push(prefix);
    const backend = new S3Backend(s3Options(minio, { prefix, readConcurrency: 4, ...extra }));
    backends.push(backend);
    return { backend, prefix };
  }

  async function proxied(intercept: Interceptor, prefix: string, extra: Parameters<typeof s3Options>[1] = {}) {
    const proxy = await startS3Proxy(minio.endpoint, intercept);
    proxies.push(proxy);
    return { ...fresh({ endpoint: proxy.endpoint, ...extra }, prefix), proxy };
  }

  it("reads a 40 MiB object in ranged GETs and returns exactly its bytes", async () => {
    const { backend, prefix } = fresh({ partSize: 8 * MiB, queueSize: 4 });
    const body = randomBody(40 * MiB + 12345);
    await backend.putStream("big.bin", Readable.from([body]));
    const { backend: reader, proxy } = await proxied((_request, forward) => forward(), prefix, { partSize: 8 * MiB, queueSize: 4 });
    const read = await readStream(await reader.getStream("big.bin"));
    assert.equal(read.byteLength, body.byteLength);
    assert.equal(sha256(read), sha256(body));
    const ranges = proxy.requests.filter((request) => request.method === "GET").map((request) => rangeOf(request.headers));
    assert.equal(ranges.length, 6, `six ranges of 8 MiB, got ${ranges.join(", ")}`);
    assert.equal(ranges[0], `bytes=0-${8 * MiB - 1}`);
    const pinned = proxy.requests.filter((request) => request.method === "GET").slice(1);
    assert.ok(pinned.every((request) => typeof request.headers["if-match"] === "string"), "later ranges carry If-Match");
  });

  it("reads an object within one part with a single GET, and an empty object", async () => {
    const { backend, prefix } = fresh();
    const body = randomBody(3 * MiB);
    await backend.put("small.bin", body);
    await backend.put("empty.bin", new Uint8Array(0));
    const { backend: reader, proxy } = await proxied((_request, forward) => forward(), prefix);
    assertSameBytes(await readStream(await reader.getStream("small.bin")), body, "small object");
    assert.equal(proxy.requests.filter((request) => request.method === "GET").length, 1);
    assert.equal((await readStream(await reader.getStream("empty.bin"))).byteLength, 0);
    await rejectsWithCode(reader.getStream("missing.bin"), "NOT_FOUND", "missing object");
  });

  it("fails TRANSIENT, never with a spliced body, when the object is replaced during a parallel read", async () => {
    const { backend, prefix } = fresh({ partSize: 5 * MiB });
    const original = randomBody(15 * MiB + 7);
    await backend.putStream("moving.bin", Readable.from([original]));
    let replaced = false;
    const { backend: reader } = await proxied(
      async (request, forward) => {
        const range = rangeOf(request.headers);
        if (request.method === "GET" && range !== undefined && !range.startsWith("bytes=0-") && !replaced) {
          replaced = true;
          await backend.putStream("moving.bin", Readable.from([randomBody(15 * MiB + 7)]));
        }
        return forward();
      },
      prefix,
      { partSize: 5 * MiB },
    );
    const stream = await reader.getStream("moving.bin");
    const error = await rejectsWithCode(readStream(stream), "TRANSIENT", "read of a replaced object");
    assert.ok(replaced, "the object was replaced mid-read");
    assert.match(error.message, /replaced while it was being read/);
  });

  it("stops the outstanding range requests when the reader destroys the stream", async () => {
    const { backend } = fresh({ partSize: 5 * MiB, queueSize: 2 });
    await backend.putStream("drop.bin", Readable.from([randomBody(30 * MiB)]));
    const stream = await backend.getStream("drop.bin");
    await new Promise<void>((resolve) => stream.once("data", () => resolve()));
    stream.destroy();
    await new Promise<void>((resolve) => stream.once("close", () => resolve()));
    assert.equal(stream.destroyed, true);
    // The backend stays usable.
    assert.equal((await backend.head("drop.bin")).size, 30 * MiB);
  });

  it("putFile uploads a multi-part file and a small one, byte for byte", async () => {
    const { backend } = fresh({ partSize: 5 * MiB, queueSize: 3 });
    const big = randomBody(17 * MiB + 3);
    const small = randomBody(1000);
    const bigPath = join(scratch, "big.bin");
    const smallPath = join(scratch, "small.bin");
    await writeFile(bigPath, big);
    await writeFile(smallPath, small);
    const progress: number[] = [];
    const info = await backend.putFile("file/big.bin", bigPath, { onProgress: (bytes) => progress.push(bytes) });
    assert.equal(info.size, big.byteLength);
    assert.equal(progress.at(-1), big.byteLength);
    assert.equal(sha256(await backend.get("file/big.bin")), sha256(big));
    assert.equal((await backend.head("file/big.bin")).revision, info.revision);
    const smallInfo = await backend.putFile("file/small.bin", smallPath, { mode: CREATE_ONLY });
    assertSameBytes(await backend.get("file/small.bin"), small, "small file");
    const replaced = await backend.putFile("file/small.bin", bigPath, { mode: ifRevision(smallInfo.revision) });
    assert.equal(replaced.size, big.byteLength);
    await rejectsWithCode(backend.putFile("file/x.bin", join(scratch, "absent.bin")), "INVALID_ARGUMENT", "missing local file");
  });

  it("putFile refuses a folder and a file that shrinks under it with INVALID_ARGUMENT naming it, writing nothing", async () => {
    const { backend, prefix } = fresh({ partSize: 5 * MiB });
    const folderError = await rejectsWithCode(backend.putFile("file/folder.bin", scratch), "INVALID_ARGUMENT", "a folder as the file");
    assert.ok(folderError.message.includes(scratch), folderError.message);
    const path = join(scratch, "shrinking.bin");
    await writeFile(path, randomBody(12 * MiB));
    // onProgress runs after each part is read: cut the file after the first one.
    const shrinkError = await rejectsWithCode(
      backend.putFile("file/shrunk.bin", path, { onProgress: () => void truncateSync(path, 6 * MiB) }),
      "INVALID_ARGUMENT",
      "a file that shrank",
    );
    assert.match(shrinkError.message, /shrinking\.bin shrank while it was being uploaded/);
    await rejectsWithCode(backend.head("file/shrunk.bin"), "NOT_FOUND", "nothing written");
    await rejectsWithCode(backend.head("file/folder.bin"), "NOT_FOUND", "nothing written");
    assert.deepEqual((await rawListing(minio, prefix)).uploads, [], "the multipart upload was aborted");
  });

  it("putFile create-only onto an existing key fails ALREADY_EXISTS and leaves no multipart upload open", async () => {
    const { backend, prefix } = fresh({ partSize: 5 * MiB });
    const path = join(scratch, "twelve.bin");
    const body = randomBody(12 * MiB);
    await writeFile(path, body);
    await backend.put("taken.bin", "first");
    await rejectsWithCode(backend.putFile("taken.bin", path, { mode: CREATE_ONLY }), "ALREADY_EXISTS", "create-only putFile");
    await rejectsWithCode(backend.putFile("taken.bin", path, { mode: ifRevision('"stale"') }), "PRECONDITION_FAILED", "stale putFile");
    assert.equal(Buffer.from(await backend.get("taken.bin")).toString(), "first");
    assert.deepEqual((await rawListing(minio, prefix)).uploads, []);
  });
});
