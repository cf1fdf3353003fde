/**
 * A store that stops answering: its process is frozen (SIGSTOP) in the middle of a call, so connections are still
 * accepted and bytes still buffered by the kernel, but nothing is answered, until it is thawed (SIGCONT) and
 * works through what queued up. Each call must fail TRANSIENT within its time-outs (set short here, through the
 * documented options, to keep the run short; the test's own time-out is the only clock, and a generous one), and
 * a save that failed so must leave the old object whole, also after the thawed server has handled every request
 * that was waiting. On MinIO and fake-gcs-server, each a private process of this test.
 *
 * The defaults themselves are checked against the promise they keep (under 30 s) in the last case.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { StorageBackend, StreamWriteOptions } from "../../src/backends/backend.ts";
import { GCS_DEFAULTS, resolveGcsSettings } from "../../src/backends/gcs/options.ts";
import { resolveS3Settings } from "../../src/backends/s3/options.ts";
import { isOpenCrateError } from "../../src/errors.ts";
import { Snapshot } from "../../src/index.ts";
import {
  privateBackend,
  privateServerSkip,
  startPrivateServer,
  type PrivateServer,
  type PrivateServerKind,
  type Timeouts,
} from "../support/private-server.ts";
import { pseudoRandomBytes, sha256 } from "./support.ts";

const MiB = 1024 * 1024;
/** Short time-outs for the frozen-server cases (the options users set to change them). */
const SHORT: Timeouts = { connectMs: 2_000, idleMs: 2_000 };
/** A bound no healthy run comes near, for a call against a frozen server with SHORT time-outs. */
const GENEROUS_MS = 5 * 60_000;
/** Big enough for a multipart / resumable upload of several parts or chunks. */
const BIG = 40 * MiB;

/**
 * Wraps `backend` so that an upload freezes `server` once `afterBytes` of the body were consumed: the stall
 * comes in the middle of the transfer, wherever the backend is in it.
 */
function freezingMidUpload(backend: StorageBackend, server: PrivateServer, afterBytes: number): StorageBackend & { frozen: () => boolean } {
  let frozen = false;
  const withTrigger = (options: StreamWriteOptions = {}): StreamWriteOptions => ({
    ...options,
    onProgress: (bytes) => {
      options.onProgress?.(bytes);
      if (!frozen && bytes >= afterBytes) {
        frozen = true;
        // Not awaited: the upload goes on into a store that is stopping.
        server.freeze().catch((error: unknown) => console.error(error));
      }
    },
  });
  return new Proxy(backend, {
    get(target, property) {
      if (property === "frozen") return () => frozen;
      if (property === "putFile") return (key: string, path: string, options?: StreamWriteOptions) => target.putFile?.(key, path, withTrigger(options));
      if (property === "putStream") {
        return (key: string, body: AsyncIterable<Uint8Array>, options?: StreamWriteOptions) => target.putStream(key, body, withTrigger(options));
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  }) as StorageBackend & { frozen: () => boolean };
}

async function rejectsTransient(call: Promise<unknown>, what: string): Promise<void> {
  await assert.rejects(call, (error: unknown) => {
    assert.ok(isOpenCrateError(error, "TRANSIENT"), `${what}: expected TRANSIENT, got ${String(error)}`);
    return true;
  });
}

async function* chunked(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < bytes.byteLength; offset += MiB) yield bytes.subarray(offset, offset + MiB);
}

for (const kind of ["minio", "gcs"] as const satisfies readonly PrivateServerKind[]) {
  const skip = privateServerSkip(kind);
  describe(`a ${kind === "minio" ? "MinIO" : "fake-gcs-server"} that stops answering (SIGSTOP)`, { skip }, () => {
    let server: PrivateServer;
    let scratch: string;
    let prefixes = 0;
    before(async () => {
      server = await startPrivateServer(kind);
      scratch = await mkdtemp(join(tmpdir(), "opencrate-stall-"));
    });
    after(async () => {
      await server?.stop();
      await rm(scratch, { recursive: true, force: true });
    });

    it("small calls fail TRANSIENT and work again once it answers", { timeout: GENEROUS_MS }, async () => {
      const backend = privateBackend(kind, server, `small-${prefixes++}`, SHORT);
      try {
        await backend.put("a.json", "{}");
        await server.freeze();
        try {
          await rejectsTransient(backend.head("a.json"), "head");
          await rejectsTransient(backend.put("b.json", "{}"), "put");
          await rejectsTransient(backend.get("a.json"), "get");
        } finally {
          await server.thaw();
        }
        assert.equal((await backend.head("a.json")).size, 2, "the next call after the stall works");
      } finally {
        await backend.close();
      }
    });

    for (const how of ["saveFile", "saveStream"] as const) {
      it(`${how} of a large checkpoint over a good one fails TRANSIENT when the store stalls mid-upload, and the old one stays whole`, { timeout: GENEROUS_MS }, async () => {
        const inner = privateBackend(kind, server, `save-${prefixes++}`, SHORT);
        const backend = freezingMidUpload(inner, server, BIG / 3);
        const snapshot = await Snapshot.setup({ name: "stall", backend, console: false });
        try {
          const checkpoint = snapshot.checkpoint("model.bin");
          const old = pseudoRandomBytes(BIG - MiB, 1);
          await checkpoint.save(old);
          assert.equal(backend.frozen(), false, "the good save went through before any stall");

          const next = pseudoRandomBytes(BIG, 2);
          if (how === "saveFile") {
            const file = join(scratch, `next-${prefixes}.bin`);
            await writeFile(file, next);
            await rejectsTransient(checkpoint.saveFile(file), how);
          } else {
            await rejectsTransient(checkpoint.saveStream(chunked(next)), how);
          }
          assert.ok(backend.frozen(), "the store was frozen in the middle of the upload");
          await server.thaw();
          // The thawed server now handles whatever queued up while it was frozen (the rest of the body, any
          // question the client sent about the session, a cancellation): none of it may replace the old object.
          for (let look = 0; look < 5; look++) {
            const bytes = await inner.get(`stall/v0/checkpoints/model.bin`);
            assert.equal(sha256(bytes), sha256(old), `the old checkpoint is whole (look ${look + 1})`);
            await sleep(200);
          }
        } finally {
          await server.thaw();
          await snapshot.close();
          await inner.close();
        }
      });
    }
  });
}

describe("default time-outs", () => {
  it("are short enough that a stalled store surfaces TRANSIENT in under 30 s, and can be changed", () => {
    const s3 = resolveS3Settings({ bucket: "bkt" });
    assert.equal(s3.connectionTimeoutMs, 4_000);
    assert.equal(s3.requestTimeoutMs, 4_000);
    // Every attempt of a small call waits at most one idle time-out on a stalled store, plus the SDK's back-off
    // (under 1 s in all); a multipart save adds its abort, with the same attempts.
    assert.ok(s3.retry.attempts * s3.requestTimeoutMs + 1_000 < 30_000, "a small call");
    assert.ok(2 * (s3.retry.attempts * s3.requestTimeoutMs + 1_000) < 30_000, "a multipart save and its abort");
    const gcs = resolveGcsSettings({ bucket: "bkt" }, {});
    assert.equal(gcs.connectTimeoutMs, GCS_DEFAULTS.connectTimeoutMs);
    assert.equal(gcs.connectTimeoutMs, 4_000);
    assert.equal(gcs.requestTimeoutMs, 4_000);
    // The SDK waits 1.5 s, 2.3 s, 3.4 s … (plus up to 1 s each) between attempts.
    const backOffMs = [1.5, 2.25, 3.375].slice(0, gcs.maxRetries).reduce((sum, seconds) => sum + seconds * 1_000 + 1_000, 0);
    assert.ok((gcs.maxRetries + 1) * gcs.requestTimeoutMs + backOffMs < 30_000, "a small call");
    // A resumable chunk that gets no answer, one status query (not retried after a time-out), the cancellation.
    assert.ok(3 * gcs.requestTimeoutMs + 2_500 < 30_000, "a resumable save");
    assert.equal(resolveS3Settings({ bucket: "bkt", requestTimeoutMs: 30_000, connectionTimeoutMs: 9_000 }).requestTimeoutMs, 30_000);
    assert.equal(resolveGcsSettings({ bucket: "bkt", requestTimeoutMs: 30_000, connectTimeoutMs: 9_000 }, {}).connectTimeoutMs, 9_000);
  });
});
