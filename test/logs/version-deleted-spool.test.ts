/**
 * A run whose version is deleted (`reset()` elsewhere) while its lines wait in a spool folder for a store that is
 * down: once the store is back, its flush finds out, and the lines waiting, in memory and in the spool, are dropped
 * with the folder; nothing is stored under the number, and nothing is left to keep at exit. On memory and local
 * disk, for a new run and a resumed one, wired as RunWriter wires the log to the record.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { StorageBackend } from "../../src/backends/backend.ts";
import { LocalBackend } from "../../src/backends/local/index.ts";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { objectExists } from "../../src/backends/presence.ts";
import { RetryPolicy } from "../../src/backends/retry-policy.ts";
import { LogObjectWriter } from "../../src/logs/log-object.ts";
import { RunRecordWriter } from "../../src/logs/run-record.ts";
import { VersionDeletedMark } from "../../src/logs/version-deleted.ts";
import { runningRecord, withFaultyPuts } from "./helpers.ts";

const LOG = "run/v0/run.log";
const HISTORY = "run/v0/run.history.log";
const RECORD = "run/.opencrate/run-records/0000000000/1-1-a.json";
const BOUND = 16 * 1024;
const NO_RETRY = new RetryPolicy({ attempts: 1, baseDelayMs: 1, maxDelayMs: 1 });

const scratch: string[] = [];
async function freshFolder(): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), "opencrate-deleted-spool-"));
  scratch.push(folder);
  return folder;
}
after(() => Promise.all(scratch.map((folder) => rm(folder, { recursive: true, force: true }))));

const places: { readonly label: string; make(): Promise<StorageBackend> }[] = [
  { label: "memory", make: async () => new MemoryBackend({ name: `deleted-spool-${randomUUID()}` }) },
  { label: "local disk", make: async () => new LocalBackend({ root: await freshFolder() }) },
];

function line(index: number): string {
  return `2026-01-01 00:00:00 - INFO     line ${String(index).padStart(6, "0")} `.padEnd(100, "x");
}

for (const place of places) {
  for (const resume of [false, true]) {
    describe(`a ${resume ? "resumed" : "new"} run whose version is deleted while its lines wait in a spool, on ${place.label}`, () => {
      it("drops the waiting lines and removes the spool folder, storing nothing under the number", async () => {
        const inner = await place.make();
        let down = false;
        const backend = withFaultyPuts(inner, () => (down ? "fail-before" : undefined));
        const spoolParent = await freshFolder();
        const mark = new VersionDeletedMark();
        let told = 0;
        const record = new RunRecordWriter(backend, RECORD, runningRecord("run.log"), undefined, {
          mark,
          onDeleted: () => {
            told += 1;
          },
        });
        const writer = new LogObjectWriter({
          backend,
          logKey: LOG,
          historyKey: HISTORY,
          resume,
          flushIntervalMs: 3_600_000,
          maxBufferedBytes: BOUND,
          spoolParent,
          appendRetry: NO_RETRY,
          versionDeleted: () => mark.isSet,
          onMissing: () => record.touch(true),
        });
        await writer.start();
        await record.start();
        writer.write(line(0));
        await writer.flush();

        down = true;
        for (let index = 1; index <= 2_000; index++) {
          writer.write(line(index));
          if (index % 250 === 0) await assert.rejects(writer.flush());
        }
        const spool = writer.spoolPath;
        assert.ok(spool !== undefined && (await readdir(spool)).length > 0, "lines past the bound wait in a spool folder");

        for (const key of [LOG, HISTORY, RECORD]) await inner.delete(key).catch(() => {});
        down = false;
        writer.write(line(2_001));
        await writer.flush();

        assert.equal(mark.isSet, true, "the flush found the version deleted");
        assert.equal(told, 1);
        assert.deepEqual(await readdir(spoolParent), [], "no spool folder is left");
        assert.equal(writer.spoolPath, undefined);
        assert.equal(writer.bufferedBytes, 0);
        assert.equal(writer.keepUnstored(), undefined, "nothing is kept (or named) at exit");
        assert.deepEqual(await readdir(spoolParent), []);
        writer.write(line(2_002));
        await writer.close();
        await record.end({ status: "finished", exitCode: 0, signal: null });
        for (const key of [LOG, HISTORY, RECORD]) assert.equal(await objectExists(inner, key), false, `${key} is not written again`);
        await inner.close();
      });
    });
  }
}

describe("a run whose version was found deleted by its record while its lines wait in a spool", () => {
  it("keeps nothing at exit: the lines are dropped and the folder removed, and no folder is named", async () => {
    const inner = new MemoryBackend({ name: `deleted-spool-${randomUUID()}` });
    let down = false;
    const backend = withFaultyPuts(inner, () => (down ? "fail-before" : undefined));
    const spoolParent = await freshFolder();
    const mark = new VersionDeletedMark();
    const writer = new LogObjectWriter({
      backend,
      logKey: LOG,
      historyKey: HISTORY,
      resume: false,
      flushIntervalMs: 3_600_000,
      maxBufferedBytes: BOUND,
      spoolParent,
      appendRetry: NO_RETRY,
      versionDeleted: () => mark.isSet,
    });
    await writer.start();
    down = true;
    for (let index = 0; index < 1_000; index++) writer.write(line(index));
    await assert.rejects(writer.flush());
    assert.ok(writer.spoolPath !== undefined, "lines past the bound wait in a spool folder");
    // The record's refresh (another writer of the run) found the version deleted, before any flush did.
    mark.set();
    assert.equal(writer.keepUnstored(), undefined);
    assert.deepEqual(await readdir(spoolParent), [], "no spool folder is left");
    await inner.close();
  });
});
