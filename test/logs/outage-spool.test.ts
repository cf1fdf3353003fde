/**
 * A store that stays down while a run keeps logging: memory for the lines not yet stored stays within
 * `maxBufferedBytes` (the writer's own count of what it holds), the rest waits in a spool folder on local disk, and
 * once the store is back every line reaches `.log` and `.history.log` once, in the order logged, and the folder is
 * gone. On memory, local disk, MinIO and fake-gcs-server (refusing every request behind a fault proxy). Through a
 * whole run in a child process too, stored by the log-writer thread and by the main thread, and ended while the
 * store is still down. When the spool cannot be written either, the lines lost are told by one marker line where
 * they were, and one process warning.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { after, describe, it } from "node:test";
import type { StorageBackend } from "../../src/backends/backend.ts";
import { GcsBackend } from "../../src/backends/gcs/index.ts";
import { LocalBackend } from "../../src/backends/local/index.ts";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { RetryPolicy } from "../../src/backends/retry-policy.ts";
import { S3Backend } from "../../src/backends/s3/index.ts";
import { LogObjectWriter } from "../../src/logs/log-object.ts";
import { deleteUnder } from "../support/bucket-factory.ts";
import { startChild, type ChildRun } from "../faults/support.ts";
import { startFaultProxy, type FaultProxy } from "../support/fault-proxy.ts";
import { ensureGcsBucket, gcsOptions } from "../support/gcs.ts";
import { ensureBucket, s3Options } from "../support/s3.ts";
import { gcsEnv, minioEnv, skipUnless } from "../support/servers.ts";
import { processWarningsDuring } from "../support/warnings.ts";
import { FEW_OUTAGE_LINES, OUTAGE_LINES, outageMessage, readText, withFaultyPuts, withoutTime } from "./helpers.ts";

const LOG = "outage/v0/outage.log";
const HISTORY = "outage/v0/outage.history.log";
const BOUND = 64 * 1024;
/** About 1.5 MiB of lines: over twenty times the bound. */
const LINES = 15_000;
const ROUNDS = 15;
/** A refused history append fails at once (the next flush tries again). */
const NO_RETRY = new RetryPolicy({ attempts: 1, baseDelayMs: 1, maxDelayMs: 1 });

function line(index: number): string {
  return `2026-01-01 00:00:00 - INFO     line ${String(index).padStart(6, "0")} `.padEnd(100, "x");
}

const everyLine = Array.from({ length: LINES }, (_, index) => line(index));

function linesOf(text: string): string[] {
  return text.split("\n").filter((entry) => entry !== "");
}

/** A store that can be made to refuse every request, and made well again. */
interface Outage {
  readonly backend: StorageBackend;
  /** Reads past the outage. */
  readonly reader: StorageBackend;
  down(): void;
  up(): void;
  close(): Promise<void>;
}

function refusingWrapper(inner: StorageBackend): Outage {
  let down = false;
  return {
    backend: withFaultyPuts(inner, () => (down ? "fail-before" : undefined)),
    reader: inner,
    down: () => (down = true),
    up: () => (down = false),
    close: () => inner.close(),
  };
}

interface Place {
  readonly label: string;
  readonly skip: false | string;
  make(): Promise<Outage>;
}

const scratch: string[] = [];
async function freshFolder(): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), "opencrate-outage-"));
  scratch.push(folder);
  return folder;
}

const minio = minioEnv();
const minioPrefixes: string[] = [];
const gcs = gcsEnv();
const gcsPrefixes: string[] = [];
const proxies: FaultProxy[] = [];

const places: Place[] = [
  { label: "memory", skip: false, make: async () => refusingWrapper(new MemoryBackend({ name: `outage-${randomUUID()}` })) },
  { label: "local disk", skip: false, make: async () => refusingWrapper(new LocalBackend({ root: await freshFolder() })) },
  {
    label: "MinIO behind a fault proxy",
    skip: skipUnless(minio, "MinIO", "TEST_MINIO_ENDPOINT"),
    async make() {
      if (minio === undefined) throw new Error("MinIO is not running");
      await ensureBucket(minio);
      const proxy = await startFaultProxy({ target: minio.endpoint, seed: 5 });
      proxies.push(proxy);
      const prefix = `t-${randomUUID()}`;
      minioPrefixes.push(prefix);
      // One try per call: a refused flush fails at once, and the next one tries again.
      const backend = new S3Backend(s3Options(minio, { prefix, endpoint: proxy.endpoint, retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 } }));
      const reader = new S3Backend(s3Options(minio, { prefix }));
      return {
        backend,
        reader,
        down: () => proxy.setPlan({ decide: () => "status-503" }),
        up: () => proxy.setPlan({}),
        close: async () => {
          await backend.close();
          await reader.close();
        },
      };
    },
  },
  {
    // No append there: `.log` and the history are rewritten whole from memory.
    label: "fake-gcs-server behind a fault proxy",
    skip: skipUnless(gcs, "fake-gcs-server", "TEST_GCS_ENDPOINT"),
    async make() {
      if (gcs === undefined) throw new Error("fake-gcs-server is not running");
      await ensureGcsBucket(gcs);
      const proxy = await startFaultProxy({ target: gcs.endpoint, seed: 6 });
      proxies.push(proxy);
      const prefix = `t-${randomUUID()}`;
      gcsPrefixes.push(prefix);
      const backend = new GcsBackend(gcsOptions(gcs, { prefix, apiEndpoint: proxy.endpoint, retry: { attempts: 1 } }));
      const reader = new GcsBackend(gcsOptions(gcs, { prefix }));
      return {
        backend,
        reader,
        down: () => proxy.setPlan({ decide: () => "gcs-503" }),
        up: () => proxy.setPlan({}),
        close: async () => {
          await backend.close();
          await reader.close();
        },
      };
    },
  },
];

after(async () => {
  await Promise.all(scratch.map((folder) => rm(folder, { recursive: true, force: true })));
  await Promise.all(proxies.map((proxy) => proxy.close()));
  if (minio !== undefined && minioPrefixes.length > 0) {
    const cleaner = new S3Backend(s3Options(minio));
    await deleteUnder(cleaner, minioPrefixes);
    await cleaner.close();
  }
  if (gcs !== undefined && gcsPrefixes.length > 0) {
    const cleaner = new GcsBackend(gcsOptions(gcs));
    await deleteUnder(cleaner, gcsPrefixes);
    await cleaner.close();
  }
});

for (const place of places) {
  describe(`a store that is down while lines keep coming, on ${place.label}`, { skip: place.skip }, () => {
    it("holds at most the bound in memory, keeps the rest on local disk, and stores every line in order once the store is back", async () => {
      const outage = await place.make();
      const spoolParent = await freshFolder();
      const writer = new LogObjectWriter({
        backend: outage.backend,
        logKey: LOG,
        historyKey: HISTORY,
        resume: true,
        flushIntervalMs: 3_600_000,
        maxBufferedBytes: BOUND,
        spoolParent,
        appendRetry: NO_RETRY,
      });
      try {
        await writer.start();
        writer.write("2026-01-01 00:00:00 - INFO     before the outage");
        await writer.flush();
        outage.down();
        let most = 0;
        let spooled = false;
        const perRound = LINES / ROUNDS;
        for (let round = 0; round < ROUNDS; round++) {
          for (let index = round * perRound; index < (round + 1) * perRound; index++) {
            writer.write(everyLine[index] as string);
            most = Math.max(most, writer.bufferedBytes);
          }
          // Each refused flush has cut what memory may hold into batches that wait for the store.
          await assert.rejects(writer.flush());
          most = Math.max(most, writer.bufferedBytes);
          spooled ||= writer.spoolPath !== undefined && (await readdir(writer.spoolPath)).length > 0;
        }
        assert.ok(most <= BOUND, `held ${most} bytes in memory, past the bound of ${BOUND}`);
        assert.ok(most > BOUND / 2, `held ${most} bytes: memory was used up to near the bound`);
        assert.ok(spooled, "the lines past the bound waited in a spool folder");
        assert.equal((await readdir(spoolParent)).length, 1, "one spool folder for the run");
        assert.deepEqual(linesOf(await readText(outage.reader, LOG)).map(withoutTime), ["INFO     before the outage"], "nothing stored meanwhile");

        outage.up();
        writer.write("2026-01-01 00:00:00 - INFO     after the outage");
        await writer.flush();
        const expected = ["2026-01-01 00:00:00 - INFO     before the outage", ...everyLine, "2026-01-01 00:00:00 - INFO     after the outage"];
        assert.deepEqual(linesOf(await readText(outage.reader, LOG)), expected, ".log holds every line once, in order");
        assert.deepEqual(linesOf(await readText(outage.reader, HISTORY)), expected, "so does the history");
        assert.equal(writer.bufferedBytes, 0);
        assert.deepEqual(await readdir(spoolParent), [], "the spool folder is gone once its lines are stored");
        await writer.close();
      } finally {
        outage.up();
        await outage.close();
      }
    });
  });
}

describe("a store that is down and a spool that cannot be written", () => {
  it("drops only the lines neither can take, and says so once: a marker line in their place and one warning", async () => {
    const inner = new MemoryBackend({ name: `outage-${randomUUID()}` });
    const outage = refusingWrapper(inner);
    const notAFolder = join(await freshFolder(), "a-file");
    await writeFile(notAFolder, "");
    const writer = new LogObjectWriter({
      backend: outage.backend,
      logKey: LOG,
      historyKey: HISTORY,
      resume: false,
      flushIntervalMs: 3_600_000,
      maxBufferedBytes: BOUND,
      spoolParent: join(notAFolder, "spool"),
      appendRetry: NO_RETRY,
    });
    await writer.start();
    outage.down();
    const warnings = await processWarningsDuring(async () => {
      for (let index = 0; index < LINES; index++) {
        writer.write(everyLine[index] as string);
        assert.ok(writer.bufferedBytes <= BOUND, `held ${writer.bufferedBytes} bytes`);
        if (index % 1000 === 999) await assert.rejects(writer.flush());
      }
      outage.up();
      await writer.close();
    });
    assert.deepEqual(
      warnings.filter((warning) => warning.code === "OPENCRATE_LOG_DROPPED").length,
      1,
      "one warning for the run",
    );
    const stored = linesOf(await readText(inner, LOG));
    const markers = stored.filter((entry) => /log lines? (was|were) dropped here/.test(entry));
    assert.equal(markers.length, 1, `one marker: ${markers.join(" | ")}`);
    const marker = markers[0] as string;
    assert.match(withoutTime(marker), /^WARNING  \d+ log lines were dropped here: the store could not take them, nor could they be kept on local disk in .*ENOTDIR/);
    const dropped = Number(/(\d+) log lines were dropped/.exec(marker)?.[1]);
    const at = stored.indexOf(marker);
    const before = stored.slice(0, at);
    const afterMarker = stored.slice(at + 1);
    assert.deepEqual(before, everyLine.slice(0, before.length), "the lines before the gap, in order");
    assert.deepEqual(afterMarker, everyLine.slice(before.length + dropped), "then, past the lines the marker counts, the rest in order");
    assert.ok(dropped > 0 && before.length > 0 && afterMarker.length > 0, `${before.length} kept, ${dropped} dropped, ${afterMarker.length} kept`);
  });

  it("close() stores the lines behind a marker line also when they need a lap of their own", async () => {
    // A 1 KiB bound lets a lap hold the marker and a few lines only: the last lines take one more lap.
    const backend = new MemoryBackend({ name: `outage-${randomUUID()}` });
    const parent = join(await freshFolder(), "made-later");
    const writer = new LogObjectWriter({
      backend,
      logKey: LOG,
      historyKey: HISTORY,
      resume: false,
      flushIntervalMs: 3_600_000,
      flushBytes: 1024 * 1024,
      maxBufferedBytes: 1024,
      spoolParent: parent,
    });
    await writer.start();
    const lines = everyLine.slice(0, 17);
    const warnings = await processWarningsDuring(async () => {
      for (const [index, entry] of lines.entries()) {
        // The spool cannot be made for the first lines past the bound, then it can.
        if (index === 10) await mkdir(parent);
        writer.write(entry);
      }
      await writer.close();
    });
    assert.equal(warnings.filter((warning) => warning.code === "OPENCRATE_LOG_DROPPED").length, 1);
    const stored = linesOf(await readText(backend, LOG));
    const at = stored.findIndex((entry) => / log lines? (was|were) dropped here/.test(entry));
    assert.ok(at > 0, `a marker line: ${stored.join(" | ")}`);
    const dropped = Number(/(\d+) log lines? (was|were) dropped/.exec(stored[at] as string)?.[1]);
    assert.deepEqual(stored.slice(0, at), lines.slice(0, at), "the lines before the gap");
    assert.deepEqual(stored.slice(at + 1), lines.slice(at + dropped), "every line after it, the last ones included");
    assert.equal(writer.spoolPath, undefined, "no spool folder left");
    assert.deepEqual(await spools(parent), []);
  });
});

const OUTAGE_RUN = fileURLToPath(new URL("./fixtures/outage-run.ts", import.meta.url));
const outageLines = Array.from({ length: OUTAGE_LINES }, (_, index) => `INFO     ${outageMessage(index)}`);

/** The spool folders in `parent`. */
async function spools(parent: string): Promise<string[]> {
  return (await readdir(parent)).filter((name) => name.startsWith("opencrate-spool-"));
}

/** Where the child's run is stored, and how its store is made to refuse everything. */
interface ChildStore {
  readonly label: string;
  readonly skip: false | string;
  /** argv after the mode, a reader of the run's objects, and what takes the store down and up. */
  prepare(): Promise<{ args: string[]; reader: StorageBackend; down(child: ChildRun): void; up(child: ChildRun): void }>;
}

const childStores: ChildStore[] = [
  {
    label: "stored by the log-writer thread, on MinIO behind a fault proxy",
    skip: skipUnless(minio, "MinIO", "TEST_MINIO_ENDPOINT"),
    async prepare() {
      if (minio === undefined) throw new Error("MinIO is not running");
      await ensureBucket(minio);
      const proxy = await startFaultProxy({ target: minio.endpoint, seed: 9 });
      proxies.push(proxy);
      const prefix = `t-${randomUUID()}`;
      minioPrefixes.push(prefix);
      return {
        args: ["minio", prefix, proxy.endpoint],
        reader: new S3Backend(s3Options(minio, { prefix })),
        down: (child) => {
          proxy.setPlan({ decide: () => "status-503" });
          child.kill("SIGUSR2");
        },
        up: (child) => {
          proxy.setPlan({});
          child.kill("SIGUSR2");
        },
      };
    },
  },
  {
    label: "stored by the main thread (a backend object of its own), on local disk",
    skip: false,
    async prepare() {
      const root = await freshFolder();
      // The child makes its own store fail at the signal.
      return { args: ["own", root], reader: new LocalBackend({ root }), down: (child) => child.kill("SIGUSR2"), up: (child) => child.kill("SIGUSR2") };
    },
  },
];

for (const store of childStores) {
  describe(`a run whose store is down while it logs, ${store.label}`, { skip: store.skip }, () => {
    async function start(mode: "recover" | "exit" | "exit-few"): Promise<{ child: ChildRun; reader: StorageBackend; tmp: string; down(): void; up(): void }> {
      const prepared = await store.prepare();
      const tmp = await freshFolder();
      const env = { ...process.env, TMPDIR: tmp, OPENCRATE_EXIT_FLUSH_MS: "3000" };
      const child = startChild(OUTAGE_RUN, [mode, ...prepared.args], env);
      return { child, reader: prepared.reader, tmp, down: () => prepared.down(child), up: () => prepared.up(child) };
    }

    it("keeps the lines past the bound on local disk during the outage, then stores every line in order and removes the folder", async () => {
      const { child, reader, tmp, down, up } = await start("recover");
      try {
        await child.waitForLine("ready");
        down();
        await child.waitForLine("logged");
        // The writer takes the lines as they come; by now it holds far more than the bound allows in memory.
        let spooled: string[] = [];
        for (let waited = 0; waited < 30_000 && spooled.length === 0; waited += 100) {
          for (const folder of await spools(tmp)) spooled = await readdir(join(tmp, folder)).catch(() => []);
          if (spooled.length === 0) await sleep(100);
        }
        assert.ok(spooled.length > 0, "the lines past the bound wait in a spool folder under TMPDIR");
        up();
        await child.waitForLine("closed");
        const exit = await child.exited;
        assert.equal(exit.code, 0, exit.stderr);
        assert.deepEqual(linesOf(await readText(reader, "outage/v0/outage.log")).map(withoutTime), ["INFO     before", ...outageLines]);
        assert.deepEqual(await spools(tmp), [], "the spool folder is gone");
      } finally {
        child.kill("SIGKILL"); // when an assertion failed first
        await reader.close();
      }
    });

    /** Runs the child in `mode` until it exits with the store down; the files of the folder stderr names, in name order. */
    async function keptAtExit(mode: "exit" | "exit-few", expected: readonly string[]): Promise<string[]> {
      const { child, reader, tmp, down } = await start(mode);
      try {
        await child.waitForLine("ready");
        down();
        const exit = await child.exited;
        assert.equal(exit.code, 3, exit.stderr);
        const told = /opencrate: log lines of \S+outage\.log that could not be stored are kept in (\S+): append its files, in name order, to the log/.exec(exit.stderr);
        assert.ok(told !== null, exit.stderr);
        const folder = told[1] as string;
        assert.deepEqual(await spools(tmp), [folder.slice(tmp.length + 1)], "the folder named is the spool under TMPDIR");
        const files = (await readdir(folder)).sort();
        assert.ok(files.every((name) => /^\d{10}\.log$/.test(name)), files.join(", "));
        const kept = (await Promise.all(files.map((name) => readFile(join(folder, name), "utf8")))).join("");
        assert.deepEqual(linesOf(kept).map(withoutTime), expected, "appended in name order, they are every line logged during the outage");
        assert.deepEqual(linesOf(await readText(reader, "outage/v0/outage.log")).map(withoutTime), ["INFO     before"], "none of them was stored");
        return files;
      } finally {
        child.kill("SIGKILL"); // when an assertion failed first
        await reader.close();
      }
    }

    it("at exit with the store still down, leaves every line not stored in the spool folder, in order, and names it on stderr", async () => {
      const files = await keptAtExit("exit", outageLines);
      assert.ok(files.length > 1, "the lines past the bound and those in memory, in files of their own");
    });

    it("at exit with the store still down, keeps lines that all fitted in memory in a spool folder too, and names it", async () => {
      await keptAtExit("exit-few", outageLines.slice(0, FEW_OUTAGE_LINES));
    });
  });
}
