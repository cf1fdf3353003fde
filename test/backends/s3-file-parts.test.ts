/**
 * S3 putFile streams each part from its range of the file (s3/file-part.ts), on MinIO and moto: every part is
 * signed with the SHA-256 of its bytes (so S3 still refuses a part damaged on the way), a part whose attempt
 * fails is sent again whole from the file by the SDK's retries, and the parts' bytes are not held in memory.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { S3Backend } from "../../src/backends/s3/index.ts";
import { isOpenCrateError } from "../../src/errors.ts";
import { assertSameBytes } from "../conformance/helpers.ts";
import { deleteUnder } from "../support/bucket-factory.ts";
import { writeRandomFile } from "../support/random-file.ts";
import { ensureBucket, rawListing, s3Options } from "../support/s3.ts";
import { errorResponse, startS3Proxy, type Interceptor, type ProxiedRequest } from "../support/s3-proxy.ts";
import { minioEnv, motoEnv, skipUnless, type S3ServerEnv } from "../support/servers.ts";

const MiB = 1024 * 1024;
const PART = 5 * MiB;

/** The part number of an UploadPart request, or undefined for any other request. */
function partNumberOf(request: ProxiedRequest): number | undefined {
  if (request.method !== "PUT" || !request.url.includes("uploadId=")) return undefined;
  const number = new URL(request.url, "http://store").searchParams.get("partNumber");
  return number === null ? undefined : Number(number);
}

const isPart = (request: ProxiedRequest, number?: number): boolean =>
  partNumberOf(request) !== undefined && (number === undefined || partNumberOf(request) === number);

const sha256 = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");

function fileParts(name: string, env: S3ServerEnv | undefined, variable: string, checksPayload: boolean): void {
  describe(`S3 putFile streams its parts from the file (${name})`, { skip: skipUnless(env, name, variable) }, () => {
    const server = env as S3ServerEnv;
    const prefixes: string[] = [];
    const closers: { close(): Promise<void> }[] = [];
    let folder = "";
    let bytes: Buffer;
    let path = "";

    before(async () => {
      await ensureBucket(server);
      folder = await mkdtemp(join(tmpdir(), "oc-s3-file-parts-"));
      bytes = randomBytes(2 * PART + 123_457);
      path = join(folder, "checkpoint.bin");
      await writeFile(path, bytes);
    });
    after(async () => {
      await Promise.all(closers.map((closer) => closer.close()));
      const cleaner = new S3Backend(s3Options(server));
      await deleteUnder(cleaner, prefixes);
      await cleaner.close();
      await rm(folder, { recursive: true, force: true });
    });

    function fresh(endpoint = server.endpoint): { backend: S3Backend; prefix: string } {
      const prefix = `t-${randomUUID()}`;
      prefixes.push(prefix);
      const backend = new S3Backend(s3Options(server, { prefix, endpoint, partSize: PART }));
      closers.push(backend);
      return { backend, prefix };
    }

    async function proxied(intercept: Interceptor = (_request, forward) => forward()) {
      const proxy = await startS3Proxy(server.endpoint, intercept);
      closers.push(proxy);
      return { ...fresh(proxy.endpoint), proxy };
    }

    it("signs every part with the SHA-256 of the bytes it carries and stores the file whole", async () => {
      const { backend, proxy } = await proxied();
      const info = await backend.putFile("model.bin", path);
      assert.equal(info.size, bytes.byteLength);
      const parts = proxy.requests.filter((request) => isPart(request)).sort((a, b) => (partNumberOf(a) ?? 0) - (partNumberOf(b) ?? 0));
      assert.equal(parts.length, 3);
      parts.forEach((part, i) => {
        assert.equal(part.body.byteLength, Math.min(PART, bytes.byteLength - i * PART), `part ${i + 1} length`);
        assert.equal(part.headers["x-amz-content-sha256"], sha256(part.body), `part ${i + 1} is signed with its bytes' SHA-256`);
      });
      assertSameBytes(await backend.get("model.bin"), bytes, "stored bytes");
    });

    it("sends a part whose first attempt failed again, whole, from the file", async () => {
      let failed = false;
      const { backend, proxy, prefix } = await proxied(async (request, forward) => {
        if (!failed && isPart(request, 2)) {
          failed = true;
          return errorResponse(500, "InternalError", "try again");
        }
        return forward();
      });
      await backend.putFile("model.bin", path);
      const attempts = proxy.requests.filter((request) => isPart(request, 2));
      assert.equal(attempts.length, 2, "part 2 was sent twice");
      for (const attempt of attempts) assertSameBytes(attempt.body, bytes.subarray(PART, 2 * PART), "each attempt carries the whole part");
      assertSameBytes(await backend.get("model.bin"), bytes, "stored bytes");
      assert.deepEqual((await rawListing(server, prefix)).uploads, [], "no multipart upload left open");
    });

    if (checksPayload) {
      it("a part damaged on the way is refused by the store's payload check: nothing stored, no open upload", async () => {
        const { backend, prefix } = await proxied(async (request, forward) => {
          if (!isPart(request, 2)) return forward();
          const damaged = Buffer.from(request.body);
          damaged[1000] = (damaged[1000] ?? 0) ^ 0xff;
          return forward({ ...request, body: damaged });
        });
        await assert.rejects(backend.putFile("model.bin", path), (error: unknown) => isOpenCrateError(error, "INVALID_ARGUMENT"));
        assert.deepEqual(await rawListing(server, prefix), { keys: [], uploads: [] });
      });
    }

    it("with a client of the caller's (the SDK's default request checksums on), sends the file's bytes in parts", async () => {
      const proxy = await startS3Proxy(server.endpoint);
      closers.push(proxy);
      const { S3Client } = await import("@aws-sdk/client-s3");
      const client = new S3Client({
        endpoint: proxy.endpoint,
        region: server.region,
        forcePathStyle: true,
        credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
      });
      closers.push({ close: async () => client.destroy() });
      const prefix = `t-${randomUUID()}`;
      prefixes.push(prefix);
      const backend = new S3Backend({ bucket: server.bucket, prefix, client, partSize: PART });
      closers.push(backend);
      await backend.putFile("model.bin", path);
      assert.equal(proxy.requests.filter((request) => isPart(request)).length, 3, "three parts");
      assertSameBytes(await backend.get("model.bin"), bytes, "stored bytes");
    });

    it("holds no part in memory: array buffers grow by far less than the parts in flight", async () => {
      const big = join(folder, "big.bin");
      await writeRandomFile(big, 64 * MiB);
      const { backend } = fresh();
      const before = process.memoryUsage().arrayBuffers;
      let peak = before;
      const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().arrayBuffers)), 1);
      try {
        await backend.putFile("big.bin", big, { concurrency: 4, partSize: 8 * MiB });
      } finally {
        clearInterval(sampler);
      }
      peak = Math.max(peak, process.memoryUsage().arrayBuffers);
      // Buffered parts would hold (4 + 1) × 8 MiB = 40 MiB.
      assert.ok(peak - before < 16 * MiB, `array buffers grew by ${((peak - before) / MiB).toFixed(1)} MiB`);
      assert.equal((await backend.head("big.bin")).size, 64 * MiB);
    });
  });
}

fileParts("MinIO", minioEnv(), "TEST_MINIO_ENDPOINT", true);
fileParts("moto", motoEnv(), "TEST_MOTO_ENDPOINT", false);
