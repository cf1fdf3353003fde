/**
 * Comparing two versions whose files the store gives no checksum for: the contents are hashed as streams, a few
 * files at a time for the whole process, within the comparison's limits, and the reads stop when the browser that
 * asked goes away.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { describe, it } from "node:test";
import type { ReadOptions, StorageBackend } from "../../src/backends/backend.ts";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { handleApi } from "../../src/ui/api.ts";
import { Catalog } from "../../src/ui/catalog.ts";
import { compareVersions } from "../../src/ui/compare.ts";

const PAIRS = 40;
const SIZE = 4096;

/** `train/v0` and `train/v1`, each with PAIRS files of SIZE bytes; the odd ones differ. */
async function twoVersions(label: string): Promise<MemoryBackend> {
  const backend = new MemoryBackend({ name: `ui-compare-${label}-${process.pid}` });
  for (let index = 0; index < PAIRS; index++) {
    const path = `files/f${String(index).padStart(3, "0")}.bin`;
    await backend.put(`train/v0/${path}`, new Uint8Array(SIZE).fill(1));
    await backend.put(`train/v1/${path}`, new Uint8Array(SIZE).fill(index % 2 === 0 ? 1 : 2));
  }
  return backend;
}

/**
 * `inner` counting its reads of files: `whole` (get), `streams` (getStream) and the most streams open at once. While
 * `held`, a stream's opening waits until `release()` (or until its signal fires, as a store's request would end).
 */
function counting(inner: StorageBackend, options: { held: boolean }) {
  const counts = { whole: 0, streams: 0, open: 0, mostOpen: 0, aborted: 0 };
  let held = options.held;
  const waiting: (() => void)[] = [];
  const isFile = (key: string): boolean => key.includes("/files/");
  const release = (): void => {
    held = false;
    for (const go of waiting.splice(0)) go();
  };
  const hold = (signal: AbortSignal | undefined): Promise<void> =>
    !held
      ? Promise.resolve()
      : new Promise((resolve, reject) => {
          waiting.push(resolve);
          signal?.addEventListener("abort", () => {
            counts.aborted++;
            reject(signal.reason);
          });
        });
  const backend = new Proxy(inner, {
    get(target, property, receiver) {
      if (property === "get") {
        return async (key: string, readOptions?: ReadOptions) => {
          if (isFile(key)) counts.whole++;
          await hold(readOptions?.signal);
          return target.get(key, readOptions);
        };
      }
      if (property === "getStream") {
        return async (key: string, readOptions?: ReadOptions): Promise<Readable> => {
          if (!isFile(key)) return target.getStream(key, readOptions);
          counts.streams++;
          counts.open++;
          counts.mostOpen = Math.max(counts.mostOpen, counts.open);
          try {
            await hold(readOptions?.signal);
          } catch (error) {
            counts.open--;
            throw error;
          }
          const body = await target.getStream(key, readOptions);
          // Handed out a chunk at a time, a turn of the event loop apart, as a file or a socket gives it.
          const chunks = (async function* () {
            try {
              for await (const chunk of body) {
                await new Promise((resolve) => setImmediate(resolve));
                yield chunk as Uint8Array;
              }
            } finally {
              counts.open--;
            }
          })();
          return Readable.from(chunks, { objectMode: false });
        };
      }
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { backend, counts, release, waitingCount: () => waiting.length };
}

describe("the viewer's comparison of contents", () => {
  it("hashes streamed files, a few at a time for all comparisons together, and tells same from changed", async () => {
    const { backend, counts } = counting(await twoVersions("slots"), { held: false });
    const catalog = new Catalog(backend);
    const [first, second] = await Promise.all([compareVersions(catalog, "train", "v0", "v1"), compareVersions(catalog, "train", "v1", "v0")]);
    for (const comparison of [first, second]) {
      assert.equal(comparison.files.length, PAIRS);
      comparison.files.forEach((file, index) => {
        assert.deepEqual([file.change, file.by], index % 2 === 0 ? ["same", "content"] : ["changed", "content"], file.path);
      });
    }
    assert.equal(counts.whole, 0, "no file is read whole into memory");
    assert.equal(counts.streams, PAIRS * 2 * 2);
    assert.ok(counts.mostOpen <= 4, `at most 4 files read at once in the process, not ${counts.mostOpen}`);
  });

  it("reads no more than its limits, and says why the others are unknown", async () => {
    const { backend, counts } = counting(await twoVersions("limits"), { held: false });
    const catalog = new Catalog(backend);
    const byFiles = await compareVersions(catalog, "train", "v0", "v1", { limits: { fileBytes: SIZE, files: 5, totalBytes: 1024 ** 3 } });
    assert.deepEqual(
      byFiles.files.map((file) => file.change),
      [...["same", "changed", "same", "changed", "same"], ...Array<string>(PAIRS - 5).fill("unknown")],
    );
    assert.equal(byFiles.files[5]?.reason, "contents not compared: a comparison reads at most 5 files and 1.00 GB");
    assert.equal(counts.streams, 10);
    const byBytes = await compareVersions(catalog, "train", "v0", "v1", { limits: { fileBytes: SIZE, files: 1000, totalBytes: SIZE * 2 * 3 } });
    assert.equal(byBytes.files.filter((file) => file.by === "content").length, 3);
    const bySize = await compareVersions(catalog, "train", "v0", "v1", { limits: { fileBytes: SIZE - 1, files: 1000, totalBytes: 1024 ** 3 } });
    assert.ok(bySize.files.every((file) => file.change === "unknown" && file.reason === "contents not compared: larger than 4.00 KB"));
    assert.equal(counts.streams, 10 + 6);
  });

  it("stops reading when the browser that asked goes away", async () => {
    const { backend, counts, release, waitingCount } = counting(await twoVersions("abort"), { held: true });
    const context = { catalog: new Catalog(backend), rootLabel: "memory", start: undefined };
    let handled: Promise<void> | undefined;
    let closed: Promise<unknown> | undefined;
    const server = http.createServer((request, response) => {
      closed = once(response, "close");
      const url = new URL(request.url ?? "/", "http://localhost");
      handled = handleApi(context, url.pathname.split("/").slice(2), url, request, response);
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    try {
      const client = new AbortController();
      const asked = fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/api/compare/train/v0/v1`, { signal: client.signal });
      asked.catch(() => {});
      // Until reads are waiting on the store, held there.
      while (waitingCount() === 0) await new Promise((resolve) => setImmediate(resolve));
      const startedBefore = counts.streams + counts.whole;
      client.abort();
      await closed;
      // The store answers now: whatever the comparison still wanted to read, it would read.
      release();
      await handled;
      assert.equal(counts.streams + counts.whole, startedBefore, "no read started after the browser left");
      assert.ok(startedBefore <= 4, `at most 4 reads under way, not ${startedBefore}`);
      assert.equal(counts.aborted, startedBefore, "the reads under way were ended");
    } finally {
      server.close();
    }
  });
});
