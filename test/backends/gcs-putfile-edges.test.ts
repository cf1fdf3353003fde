/**
 * GCS putFile at its edges (found in review):
 *
 * - an abort that lands while a resumed upload recomputes the CRC of the bytes the session kept must stop the file
 *   from being read: a stream left reading after putFile closed its handle would fail with EBADF as an unhandled
 *   'error' event and take the process down;
 * - a 0-byte file with `resumableThreshold: 0` is one simple upload (a resumable session needs at least one byte);
 * - a folder given as the local file is INVALID_ARGUMENT naming it, not an unreachable endpoint.
 */
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, open, rm, writeFile, type FileHandle } from "node:fs/promises";
import { Agent, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { File } from "@google-cloud/storage";
import { GcsBackend } from "../../src/backends/gcs/index.ts";
import { uploadResumableFile } from "../../src/backends/gcs/resumable.ts";
import { RetryPolicy } from "../../src/backends/retry-policy.ts";
import { rejectsWithCode } from "../conformance/helpers.ts";
import { ensureGcsBucket, gcsOptions } from "../support/gcs.ts";
import { gcsEnv, skipUnless, type GcsServerEnv } from "../support/servers.ts";

const KiB = 1024;

describe("GCS putFile: abort during a resume", () => {
  let folder = "";
  before(async () => {
    folder = await mkdtemp(join(tmpdir(), "oc-gcs-review-"));
  });
  after(() => rm(folder, { recursive: true, force: true }));

  it("stops reading the file when the signal aborts while a resumed upload recomputes its CRC", async () => {
    const size = 16 * 1024 * KiB;
    const kept = 256 * KiB;
    // A session endpoint: the first streamed request is cut after 300 KiB, the status query says 256 KiB were kept.
    const server = createServer((request, response) => {
      const range = String(request.headers["content-range"] ?? "");
      if (request.method === "DELETE") return void response.writeHead(499).end();
      if (range === "bytes */*") return void response.writeHead(308, { range: `bytes=0-${kept - 1}` }).end();
      let received = 0;
      request.on("data", (bytes: Buffer) => {
        received += bytes.byteLength;
        if (received > 300 * KiB) request.socket.destroy();
      });
      request.on("end", () => response.writeHead(308, { range: `bytes=0-${kept - 1}` }).end());
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const uri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/session`;
    const path = join(folder, "resumed.bin");
    await writeFile(path, randomBytes(size));
    const real = await open(path, "r");
    const controller = new AbortController();
    let settled = false;
    let readsFromZero = 0;
    let readsAfterSettled = 0;
    const handle = {
      read: async (buffer: Buffer, offset: number, length: number, position: number) => {
        if (settled) {
          // putFile has closed its handle by now; count instead of failing, so the leak shows as an assertion.
          readsAfterSettled += 1;
          return { bytesRead: length, buffer };
        }
        // The second read from offset 0 is the CRC recomputation before the resumed request: abort right then.
        if (position === 0 && ++readsFromZero === 2) controller.abort();
        return real.read(buffer, offset, length, position);
      },
    } as unknown as FileHandle;
    const file = { createResumableUpload: async () => [uri], delete: async () => undefined } as unknown as File;
    const agent = new Agent({ keepAlive: true });
    try {
      await assert.rejects(
        uploadResumableFile(
          { file, agent, metadata: {}, chunkSize: 256 * KiB, retry: new RetryPolicy({ attempts: 4 }), statusQueriesSafe: async () => true, signal: controller.signal },
          { handle, path, size },
        ),
        { name: "AbortError" },
      );
      settled = true;
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(readsFromZero, 2, "the abort came during the CRC recomputation");
      assert.equal(readsAfterSettled, 0, "the file is not read after the upload failed (a closed handle would crash the process)");
    } finally {
      settled = true;
      await real.close();
      agent.destroy();
      server.closeAllConnections();
      server.close();
    }
  });
});

const server = gcsEnv();

describe("GCS putFile edge cases on fake-gcs-server", { skip: skipUnless(server, "fake-gcs-server", "TEST_GCS_ENDPOINT") }, () => {
  const gcs = server as GcsServerEnv;
  const backends: GcsBackend[] = [];
  let folder = "";
  before(async () => {
    await ensureGcsBucket(gcs);
    folder = await mkdtemp(join(tmpdir(), "oc-gcs-review-"));
  });
  after(async () => {
    for (const backend of backends) {
      for await (const info of backend.list("")) await backend.delete(info.key);
      await backend.close();
    }
    await rm(folder, { recursive: true, force: true });
  });
  const fresh = (extra: { resumableThreshold?: number } = {}) => {
    const backend = new GcsBackend(gcsOptions(gcs, { prefix: `t-${randomUUID()}`, ...extra }));
    backends.push(backend);
    return backend;
  };

  it("uploads a 0-byte file when every upload is resumable (resumableThreshold 0)", async () => {
    const path = join(folder, "empty.bin");
    await writeFile(path, "");
    const info = await fresh({ resumableThreshold: 0 }).putFile("empty.bin", path);
    assert.equal(info.size, 0);
  });

  it("a folder given as the local file is INVALID_ARGUMENT naming it, not an unreachable endpoint", async () => {
    const error = await rejectsWithCode(fresh().putFile("folder.bin", folder), "INVALID_ARGUMENT", "a folder as the file");
    assert.ok(error.message.includes(folder), error.message);
  });
});
