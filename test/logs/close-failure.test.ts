/**
 * A close() that fails (the disk is full) keeps the lines it could not store: another close() or flush() stores
 * them once there is room, the run record is not ended `finished` meanwhile, and a process that ends first tries
 * once more at exit and says on stderr what it could not store. From the log-writer thread and from the main thread.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, describe, it } from "node:test";
import { LocalBackend } from "../../src/backends/local/index.ts";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { TransientError } from "../../src/errors.ts";
import type { RunRecord } from "../../src/logs/run-record.ts";
import { Snapshot } from "../../src/index.ts";
import { listRunRecords } from "../../src/snapshot/run-records.ts";
import { readText, withFaultyPuts, withoutTime } from "./helpers.ts";

const RUN = fileURLToPath(new URL("./fixtures/close-failure-run.ts", import.meta.url));
const FULL_DISK = fileURLToPath(new URL("./fixtures/full-disk.ts", import.meta.url));
const LINES = 300;
const everyLine = Array.from({ length: LINES }, (_, i) => `INFO     line ${i}`);

function lines(text: string): string[] {
  return text.split("\n").filter((line) => line !== "").map(withoutTime);
}

interface Ended {
  readonly code: number | null;
  readonly stdout: string[];
  readonly stderr: string;
  readonly log: string[];
  readonly records: RunRecord[];
}

async function runChild(root: string, mode: string, where: "thread" | "inline"): Promise<Ended> {
  const marker = join(root, "disk-is-full");
  const child = spawn(process.execPath, ["--import", FULL_DISK, RUN, root, mode, where], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, FULL_DISK: marker },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on("error", reject);
    child.on("exit", (exitCode) => resolve(exitCode));
  });
  const backend = new LocalBackend({ root });
  return {
    code,
    stdout: stdout.split("\n").filter((line) => line !== ""),
    stderr,
    log: lines(await readText(backend, "full/v0/full.log")),
    records: await listRunRecords(backend, "full", 0),
  };
}

function ending(record: RunRecord | undefined): [string | undefined, number | null | undefined, boolean] {
  return [record?.status, record?.exitCode, record?.endedAt !== null && record?.endedAt !== undefined];
}

for (const where of ["thread", "inline"] as const) {
  describe(`a close() that fails on a full disk, stored from the ${where === "thread" ? "log-writer thread" : "main thread"}`, () => {
    const roots: string[] = [];
    after(() => Promise.all(roots.map((root) => rm(root, { recursive: true, force: true }))));
    async function freshRoot(): Promise<string> {
      const root = await mkdtemp(join(tmpdir(), "opencrate-full-"));
      roots.push(root);
      return root;
    }

    it("keeps the lines: close() fails again while the disk is full, and stores them all once there is room", async () => {
      const ended = await runChild(await freshRoot(), "recover", where);
      assert.equal(ended.code, 0, ended.stderr);
      assert.deepEqual(ended.stdout, ["close failed TRANSIENT", "flush failed TRANSIENT", "closed", "closed"]);
      assert.deepEqual(ended.log, everyLine);
      assert.deepEqual(ended.records.map(ending), [["finished", null, true]]);
      assert.doesNotMatch(ended.stderr, /could not store/);
    });

    it("flush() after a failed close() tries again, and ends the run once the lines are stored", async () => {
      const ended = await runChild(await freshRoot(), "recover-flush", where);
      assert.equal(ended.code, 0, ended.stderr);
      assert.deepEqual(ended.stdout, ["close failed TRANSIENT", "flush failed TRANSIENT", "flushed"]);
      assert.deepEqual(ended.log, everyLine);
      assert.deepEqual(ended.records.map(ending), [["finished", null, true]]);
    });

    it("a process that ends after the failed close() stores the lines at exit once there is room", async () => {
      const ended = await runChild(await freshRoot(), "recover-at-exit", where);
      assert.equal(ended.code, 0, ended.stderr);
      assert.equal(ended.stderr, "");
      assert.deepEqual(ended.log, everyLine);
      assert.deepEqual(ended.records.map(ending), [["finished", null, true]]);
    });

    it("a process that ends with the disk still full says so on stderr, and the record does not say finished", async () => {
      const root = await freshRoot();
      const ended = await runChild(root, "exit", where);
      assert.equal(ended.code, 0, ended.stderr);
      assert.match(ended.stderr, /opencrate: could not store log lines at exit: /);
      assert.deepEqual(ended.log, []);
      assert.equal(ended.records.length, 1);
      // The last try ends the record: failed, as the run's log is incomplete (from the main thread, as the event
      // loop ran dry, since at `exit` its writes can only be started).
      assert.deepEqual(ended.records.map(ending), [["failed", null, true]]);
      const leftovers = (await readdir(join(root, "full", ".opencrate", "run-records", "0000000000"))).filter((name) => name.startsWith("."));
      assert.deepEqual(leftovers, [], "no half-written record");
    });
  });
}

describe("a close() that fails, in this process (memory backend)", () => {
  it("keeps the run open for another close(): the record stays running and the snapshot refuses saves", async () => {
    const memory = new MemoryBackend({ name: `close-${randomUUID()}` });
    let full = true;
    const backend = withFaultyPuts(memory, (key) => (full && key.endsWith(".log") ? "fail-before" : undefined));
    full = false;
    const run = await Snapshot.setup({ name: "m", backend, console: false, logFlushIntervalMs: 3_600_000 });
    for (let i = 0; i < LINES; i++) run.info(`line ${i}`);
    full = true;
    await assert.rejects(run.close(), TransientError);
    await assert.rejects(run.close(), TransientError, "a second close() tries again, and fails again");
    await assert.rejects(run.flush(), TransientError, "so does flush()");
    assert.equal(run.isSetUp, false);
    assert.throws(() => run.text("a.txt"), { code: "NOT_SET_UP" });
    assert.deepEqual(lines(await readText(memory, "m/v0/m.log")), []);
    const [record] = await listRunRecords(memory, "m", 0);
    assert.equal(record?.status, "running", "not ended while its lines wait");
    full = false;
    await run.close();
    assert.deepEqual(lines(await readText(memory, "m/v0/m.log")), everyLine);
    assert.deepEqual((await listRunRecords(memory, "m", 0)).map(ending), [["finished", null, true]]);
    await run.close();
    await run.flush();
    assert.deepEqual(lines(await readText(memory, "m/v0/m.log")), everyLine, "stored once");
  });

  it("a second setup() tries the failed close again first, and fails while it cannot", async () => {
    const memory = new MemoryBackend({ name: `close-${randomUUID()}` });
    let full = false;
    const backend = withFaultyPuts(memory, (key) => (full && key === "n/v0/n.log" ? "fail-before" : undefined));
    const run = await Snapshot.setup({ name: "n", backend, console: false, logFlushIntervalMs: 3_600_000 });
    run.info("kept");
    full = true;
    await assert.rejects(run.close(), TransientError);
    await assert.rejects(run.setup({ name: "o", backend, console: false }), TransientError);
    full = false;
    await run.setup({ name: "o", backend, console: false });
    assert.deepEqual(lines(await readText(memory, "n/v0/n.log")), ["INFO     kept"]);
    assert.deepEqual((await listRunRecords(memory, "n", 0)).map(ending), [["finished", null, true]]);
    await run.close();
  });
});
