/**
 * A caller's signal that fires while a read waits on a store gone silent mid-body (a fault proxy sends half of the
 * answer, then nothing): each read fails once, with ABORTED caused by the signal's reason, and nothing is left for
 * the process to handle on its own (no uncaught exception, no unhandled rejection). The reads: getStream, get,
 * readRangeInto, and the download to a file that artifact.downloadTo and `opencrate pull` share, in one stream and
 * in parallel ranges; it leaves nothing under the target's name, and its partial file only when asked to keep it.
 * Also a getStream whose signal fires while the read is opened, as it starts or as its answer arrives (a backend
 * that does not watch the signal while it opens, as local disk's open and stat do not, hands a stream back after
 * the abort): that stream, never handed on, must not fail where no one listens. On MinIO and fake-gcs-server through
 * the proxy; the opening cases on local disk and memory too.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, realpath, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, it } from "node:test";
import type { ReadOptions, StorageBackend } from "../../src/backends/backend.ts";
import { checkedBackend } from "../../src/backends/layers/checked.ts";
import { LocalBackend } from "../../src/backends/local/index.ts";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { isOpenCrateError } from "../../src/errors.ts";
import { downloadToFile, partialEntries } from "../../src/transfer/download-file.ts";
import { SafeFolder } from "../../src/transfer/safe-folder.ts";
import { startFaultProxy, type FaultProxy } from "../support/fault-proxy.ts";
import { processFailuresDuring } from "../support/warnings.ts";
import { pseudoRandomBytes } from "./support.ts";
import { cloudTargets, MiB } from "./targets.ts";

/** Read in one stream (over the 1 MiB read whole, under the 32 MiB read in ranges). */
const ONE_STREAM_BYTES = 3 * MiB + 123;
/** Read in parallel ranges by a download to a file (three ranges of at most 16 MiB). */
const RANGED_BYTES = 32 * MiB + 321;

/** Runs `call` with a signal that fires `fire` decides, and checks it failed once, with ABORTED caused by the
 * signal's reason, and left nothing unhandled. Returns what the call gave before it failed, if anything. */
async function abortedOnce(what: string, call: (signal: AbortSignal, abort: () => void) => Promise<unknown>): Promise<void> {
  const controller = new AbortController();
  const reason = new Error(`caller stopped ${what}`);
  const { result, failures } = await processFailuresDuring(() => call(controller.signal, () => controller.abort(reason)));
  assert.deepEqual(
    failures.map((failure) => `${failure.kind}: ${String(failure.error)}`),
    [],
    `${what}: nothing is left for the process to handle`,
  );
  assert.ok(controller.signal.aborted, `${what}: the signal fired`);
  assert.equal(result.status, "rejected", `${what}: fails`);
  const error: unknown = result.reason;
  assert.ok(isOpenCrateError(error, "ABORTED"), `${what}: ABORTED, got ${String(error)}`);
  assert.equal(error.cause, reason, `${what}: the signal's reason is the cause`);
}

/**
 * `call`, aborted once the proxy holds one more answer than it did when `call` began and `ready` says so (or once
 * `call` settled).
 */
async function abortedWhenHeld<T>(proxy: FaultProxy, abort: () => void, call: () => Promise<T>, ready = (): boolean => true): Promise<T> {
  const before = proxy.counters.held;
  let settled = false;
  const running = call().finally(() => {
    settled = true;
  });
  while (!settled && (proxy.counters.held === before || !ready())) await sleep(5);
  abort();
  return running;
}

/** Reads `stream` until `abortAt` bytes came, then aborts; resolves once it closed, rejecting with each error it
 * reported (the one expected) or resolving if it ended. */
function readUntilAborted(stream: Readable, abortAt: number, abort: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const errors: unknown[] = [];
    let received = 0;
    stream.on("data", (chunk: Uint8Array) => {
      received += chunk.byteLength;
      if (received >= abortAt) abort();
    });
    stream.on("error", (error) => errors.push(error));
    stream.once("close", () => {
      if (errors.length === 0) resolve();
      else if (errors.length > 1) reject(new Error(`the stream failed ${errors.length} times: ${errors.map(String).join("; ")}`));
      else reject(errors[0]);
    });
  });
}

/** When the signal fires while a read is being opened: as the backend starts it, or as its answer comes. */
type OpeningMoment = "as the read starts" | "as its answer arrives";
const OPENING_MOMENTS: readonly OpeningMoment[] = ["as the read starts", "as its answer arrives"];

/** `inner` whose getStream calls `abort` at `moment`. */
function abortedWhileOpening(inner: StorageBackend, moment: OpeningMoment, abort: () => void): StorageBackend {
  return new Proxy(inner, {
    get(target, property) {
      if (property === "getStream") {
        return async (key: string, options?: ReadOptions): Promise<Readable> => {
          if (moment === "as the read starts") abort();
          const stream = await target.getStream(key, options);
          if (moment === "as its answer arrives") abort();
          return stream;
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

async function namesIn(folder: string): Promise<string[]> {
  return (await readdir(folder)).sort();
}

for (const target of cloudTargets()) {
  describe(`a read aborted while ${target.label} is silent mid-body`, { skip: target.skip }, () => {
    let proxy: FaultProxy;
    let prefix: string;
    let writer: StorageBackend;
    let raw: StorageBackend;
    let backend: StorageBackend;
    let scratch: string;
    let stalling = false;
    /** A GET of an object's bytes (not its metadata, not a listing). */
    const isBodyRead = (request: { method: string; url: string }): boolean =>
      request.method === "GET" && (target.kind === "gcs" ? request.url.includes("alt=media") : target.roleOf({ ...request, headers: {}, index: 0 }) === "read");

    before(async () => {
      proxy = await startFaultProxy({
        target: target.endpoint,
        seed: 1,
        plan: { decide: (request) => (stalling && isBodyRead(request) ? "stall-body" : "pass") },
      });
      prefix = await target.freshPrefix();
      writer = checkedBackend(target.backend(prefix));
      await writer.put("one-stream.bin", pseudoRandomBytes(ONE_STREAM_BYTES, 1));
      await writer.put("ranged.bin", pseudoRandomBytes(RANGED_BYTES, 2));
      raw = target.backend(prefix, proxy.endpoint);
      backend = checkedBackend(raw);
      scratch = await realpath(await mkdtemp(join(tmpdir(), "opencrate-abort-")));
    });
    after(async () => {
      await backend?.close();
      await writer?.close();
      await proxy?.close();
      await target.cleanup();
      if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
    });

    const stalled = async <T>(body: () => Promise<T>): Promise<T> => {
      stalling = true;
      try {
        return await body();
      } finally {
        stalling = false;
      }
    };

    it("getStream: the stream fails once with ABORTED", async () => {
      await stalled(() =>
        abortedOnce("getStream", async (signal, abort) => {
          const stream = await backend.getStream("one-stream.bin", { signal });
          await readUntilAborted(stream, Math.floor(ONE_STREAM_BYTES / 2), abort);
        }),
      );
    });

    it("get rejects once with ABORTED", async () => {
      await stalled(() =>
        abortedOnce("get", async (signal, abort) => {
          await abortedWhenHeld(proxy, abort, () => backend.get("one-stream.bin", { signal }));
        }),
      );
    });

    it("readRangeInto rejects once with ABORTED and hands nothing after", async () => {
      let handedAfter = 0;
      let aborted = false;
      await stalled(() =>
        abortedOnce("readRangeInto", async (signal, abort) => {
          const sink = {
            write: async (): Promise<void> => {
              if (aborted) handedAfter += 1;
            },
          };
          const stop = (): void => {
            aborted = true;
            abort();
          };
          const readRangeInto = backend.readRangeInto?.bind(backend);
          assert.ok(readRangeInto !== undefined, "the backend reads ranges into a sink");
          const count = await abortedWhenHeld(proxy, stop, () => readRangeInto("one-stream.bin", { signal, range: { offset: 0, length: ONE_STREAM_BYTES } }, sink));
          assert.notEqual(count, undefined, "the range was read into the sink (not declined)");
        }),
      );
      assert.equal(handedAfter, 0, "no byte reached the sink after the abort");
    });

    for (const [label, key, size] of [
      ["in one stream", "one-stream.bin", ONE_STREAM_BYTES],
      ["in parallel ranges", "ranged.bin", RANGED_BYTES],
    ] as const) {
      for (const [mode, resume, keep] of [
        ["not kept", false, false],
        ["kept", false, true],
        ["continued and kept", true, true],
      ] as const) {
        it(`a download to a file ${label} (${mode}) rejects once with ABORTED and places nothing`, async () => {
          const dest = join(scratch, `${key}-${resume}-${keep}`);
          await mkdir(dest);
          const folder = await SafeFolder.open(dest);
          const partialName = `.part-${key}`;
          try {
            const info = await backend.head(key);
            assert.equal(info.size, size);
            await stalled(() =>
              abortedOnce(`download ${label}`, async (signal, abort) => {
                let received = 0;
                const onBytes = (count: number): void => {
                  received += count;
                };
                // Once bytes are on disk (all but the last buffer's worth of what came), so that there is a prefix to keep.
                await abortedWhenHeld(
                  proxy,
                  abort,
                  () => downloadToFile({ backend, key, info, folder, name: key, partialName, resume, keep, signal, onBytes }),
                  () => received >= MiB,
                );
              }),
            );
          } finally {
            await folder.close();
          }
          const left = await namesIn(dest);
          assert.ok(!left.includes(key), `nothing under the target's name: ${left.join(", ")}`);
          if (!keep) {
            assert.deepEqual(left, [], "nothing is left");
            return;
          }
          // Kept for the next attempt, under the partial's names only: a prefix, or ranges and their journal.
          const [prefix = "", ranged = "", journal = ""] = partialEntries(partialName);
          assert.deepEqual(left, size === RANGED_BYTES ? [ranged, journal] : [prefix], "the partial file is kept");
          assert.ok((await stat(join(dest, left[0] ?? ""))).size <= size, "the partial holds no more than the object");
        });
      }
    }

    for (const moment of OPENING_MOMENTS) {
      it(`getStream whose signal fires ${moment} rejects with ABORTED`, async () => {
        await abortedOnce(`getStream aborted ${moment}`, (signal, abort) =>
          checkedBackend(abortedWhileOpening(raw, moment, abort)).getStream("one-stream.bin", { signal }),
        );
      });
    }
  });
}

describe("a getStream whose signal fires while it opens, on local disk and memory", () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "opencrate-abort-local-"));
  });
  after(() => rm(root, { recursive: true, force: true }));

  for (const [label, make] of [
    ["local disk", () => new LocalBackend({ root })],
    ["memory", () => new MemoryBackend()],
  ] as const) {
    for (const moment of OPENING_MOMENTS) {
      it(`${label}, ${moment}: rejects with ABORTED`, async () => {
        const raw: StorageBackend = make();
        await raw.put("one-stream.bin", pseudoRandomBytes(ONE_STREAM_BYTES, 3));
        await abortedOnce(`${label} getStream aborted ${moment}`, (signal, abort) =>
          checkedBackend(abortedWhileOpening(raw, moment, abort)).getStream("one-stream.bin", { signal }),
        );
        await raw.close();
      });
    }
  }
});
