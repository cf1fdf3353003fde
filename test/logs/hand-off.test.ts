/**
 * A run handed from one RunWriter to another (the main thread to the log-writer thread): the first writes nothing
 * more once it handed off, the second goes on with the same `.log` and record, and a resumed run's history keeps
 * the previous run's lines. On local disk (`.log` appended to) and in memory.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { StorageBackend } from "../../src/backends/backend.ts";
import { LocalBackend } from "../../src/backends/local/index.ts";
import { MemoryBackend } from "../../src/backends/memory.ts";
import type { RunRecord } from "../../src/logs/run-record.ts";
import { RunWriter, type RunWriterOptions } from "../../src/logs/run-writer.ts";
import { readText, runningRecord, withoutTime } from "./helpers.ts";

const folders: string[] = [];
after(() => Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true }))));

const RECORD_KEY = "runs/.opencrate/run-records/0000000000/1-1-a.json";
const record = runningRecord("runs.log");

function options(resume: boolean): RunWriterOptions {
  return {
    logKey: "runs/v0/runs.log",
    historyKey: "runs/v0/runs.history.log",
    resume,
    flushIntervalMs: 3_600_000,
    recordKey: RECORD_KEY,
    record,
  };
}

/** Counts the writes of the run record. */
function countingRecordWrites(inner: StorageBackend): { backend: StorageBackend; writes: () => number } {
  let writes = 0;
  const backend = new Proxy(inner, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (property !== "put" || typeof value !== "function") return typeof value === "function" ? value.bind(target) : value;
      return (key: string, ...rest: unknown[]) => {
        if (key === RECORD_KEY) writes += 1;
        return (value as (...args: unknown[]) => unknown).call(target, key, ...rest);
      };
    },
  });
  return { backend, writes: () => writes };
}

function lines(text: string): string[] {
  return text.split("\n").filter((line) => line !== "").map(withoutTime);
}

const line = (message: string): string => `2026-12-04 00:00:00 - INFO     ${message}`;

for (const [label, make] of [
  ["local disk", async () => new LocalBackend({ root: await mkdtemp(join(tmpdir(), "opencrate-hand-off-")).then((root) => (folders.push(root), root)) })],
  ["memory", async () => new MemoryBackend()],
] as const) {
  describe(`a run handed to another writer, on ${label}`, () => {
    it("the first writer writes nothing more; the second stores the lines and the one final record", async () => {
      const { backend, writes } = countingRecordWrites(await make());
      const first = new RunWriter(backend, options(false));
      await first.start();
      const started = first.handOff();
      await first.settled();
      await first.flush();
      await first.close({ status: "failed", exitCode: 9, signal: null });
      assert.equal(writes(), 0, "the handed-off writer wrote no record");
      assert.deepEqual(started.record.written, false);

      const second = RunWriter.adopt(backend, options(false), started);
      second.write(line("one"));
      await second.flush();
      second.write(line("two"));
      await second.close({ status: "finished", exitCode: 0, signal: null });
      assert.deepEqual(lines(await readText(backend, "runs/v0/runs.log")), ["INFO     one", "INFO     two"]);
      const stored = JSON.parse(await readText(backend, RECORD_KEY)) as RunRecord;
      assert.deepEqual([stored.status, stored.exitCode, stored.startedAt], ["finished", 0, record.startedAt]);
      assert.ok(writes() >= 2, "the second writer wrote the record at its flush and at its end");
    });

    it("a resumed run keeps the previous run's lines in the history across the hand-off", async () => {
      const { backend } = countingRecordWrites(await make());
      const earlier = new RunWriter(backend, options(false));
      await earlier.start();
      earlier.write(line("earlier run"));
      await earlier.close({ status: "finished", exitCode: 0, signal: null });

      const first = new RunWriter(backend, options(true));
      await first.start();
      const started = first.handOff();
      await first.settled();
      const second = RunWriter.adopt(backend, options(true), started);
      second.write(line("resumed run"));
      await second.close({ status: "finished", exitCode: 0, signal: null });
      assert.deepEqual(lines(await readText(backend, "runs/v0/runs.log")), ["INFO     resumed run"]);
      assert.deepEqual(lines(await readText(backend, "runs/v0/runs.history.log")), ["INFO     earlier run", "INFO     resumed run"]);
    });

    it("refuses to hand off a run that holds lines not yet stored", async () => {
      const { backend } = countingRecordWrites(await make());
      const first = new RunWriter(backend, options(false));
      await first.start();
      first.write(line("buffered"));
      assert.throws(() => first.handOff(), /before its first line/);
      await first.close({ status: "finished", exitCode: 0, signal: null });
    });
  });
}
