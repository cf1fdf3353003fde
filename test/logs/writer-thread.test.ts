/**
 * The process's one log-writer thread: a run hands itself over at its first line (a run that logs nothing never
 * starts it); runs open at the same time share it and each keeps its own lines and record; it stays for the next
 * run and stops once no run has been open for a while (a manual clock moves time); a thread that dies before it
 * took a run leaves the run to the main thread, without losing a line.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, describe, it } from "node:test";
import { promisify } from "node:util";
import { LocalBackend } from "../../src/backends/local/index.ts";
import { useClock } from "../../src/clock.ts";
import { IDLE_STOP_MS, WriterThread, hasInputType } from "../../src/logs/writer-thread.ts";
import { Snapshot } from "../../src/index.ts";
import { listRunRecords } from "../../src/snapshot/run-records.ts";
import { ManualClock } from "../support/manual-clock.ts";
import { readText, warningsDuring, withoutTime } from "./helpers.ts";

const execNode = promisify(execFile);
const MAIN_THREAD_RUN = fileURLToPath(new URL("./fixtures/main-thread-run.ts", import.meta.url));
const INDEX = new URL("../../src/index.ts", import.meta.url).href;

const folders: string[] = [];
after(() => Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true }))));

async function localBackend(): Promise<LocalBackend> {
  return new LocalBackend({ root: await localRoot() });
}

async function localRoot(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), "opencrate-writer-thread-"));
  folders.push(root);
  return root;
}

function lines(text: string): string[] {
  return text.split("\n").filter((line) => line !== "").map(withoutTime);
}

describe("the log-writer thread", () => {
  it("serves runs open at the same time; each keeps its own lines and record", async () => {
    const backend = await localBackend();
    const a = await Snapshot.setup({ name: "a", backend, console: false });
    a.info("a first");
    await a.flush();
    const thread = WriterThread.running();
    assert.ok(thread !== undefined, "the first line of the first run started the thread");
    const b = await Snapshot.setup({ name: "b", backend, console: false });
    b.info("b first");
    await b.flush();
    assert.equal(WriterThread.running(), thread, "the second run uses the same thread");
    for (let i = 0; i < 100; i++) {
      a.info(`a ${i}`);
      b.info(`b ${i}`);
    }
    await a.close();
    b.info("b after a closed");
    await b.close();
    assert.deepEqual(lines(await readText(backend, "a/v0/a.log")), ["INFO     a first", ...Array.from({ length: 100 }, (_, i) => `INFO     a ${i}`)]);
    assert.deepEqual(lines(await readText(backend, "b/v0/b.log")), [
      "INFO     b first",
      ...Array.from({ length: 100 }, (_, i) => `INFO     b ${i}`),
      "INFO     b after a closed",
    ]);
    for (const name of ["a", "b"]) {
      assert.deepEqual((await listRunRecords(backend, name, 0)).map((record) => record.status), ["finished"], name);
    }
  });

  it("runs with a small young generation, and a burst of long lines still arrives whole", async () => {
    const backend = await localBackend();
    const run = await Snapshot.setup({ name: "burst", backend, console: false });
    run.info("first");
    await run.flush();
    const thread = WriterThread.running();
    assert.ok(thread !== undefined);
    assert.ok((thread.resourceLimits?.maxYoungGenerationSizeMb ?? Infinity) <= 4, `young generation ${String(thread.resourceLimits?.maxYoungGenerationSizeMb)} MiB`);
    const payload = "x".repeat(400);
    for (let i = 0; i < 20_000; i++) run.info(`${i} ${payload}`);
    await run.close();
    const stored = lines(await readText(backend, "burst/v0/burst.log"));
    assert.equal(stored.length, 20_001);
    assert.equal(stored[20_000], `INFO     19999 ${payload}`);
  });

  it("stays for the next run and stops once no run has been open for a while", async () => {
    const clock = new ManualClock();
    const restoreClock = useClock(clock);
    try {
      const backend = await localBackend();
      const first = await Snapshot.setup({ name: "first", backend, console: false });
      first.info("first");
      await first.close();
      const thread = WriterThread.running();
      assert.ok(thread !== undefined);
      clock.advance(IDLE_STOP_MS - 1);
      const second = await Snapshot.setup({ name: "second", backend, console: false });
      second.info("second");
      assert.equal(WriterThread.running(), thread, "a run set up within the idle time reuses the thread");
      clock.advance(IDLE_STOP_MS);
      assert.equal(WriterThread.running(), thread, "an open run keeps it");
      await second.close();
      clock.advance(IDLE_STOP_MS);
      assert.equal(WriterThread.running(), undefined, "stopped after the idle time without an open run");
      const third = await Snapshot.setup({ name: "third", backend, console: false });
      third.info("on a new thread");
      await third.close();
      assert.notEqual(WriterThread.running(), thread);
      assert.deepEqual(lines(await readText(backend, "third/v0/third.log")), ["INFO     on a new thread"]);
    } finally {
      restoreClock();
    }
  });

  it("is not started by a run that logs nothing; the first line hands the run over, after its running record", async () => {
    const clock = new ManualClock();
    const restoreClock = useClock(clock);
    try {
      await stopRunningThread();
      const backend = await localBackend();
      const quiet = await Snapshot.setup({ name: "quiet", backend, console: false });
      clock.advance(1_000);
      await quiet.close();
      assert.equal(WriterThread.running(), undefined, "a run without lines stored everything from the main thread");
      assert.equal(await readText(backend, "quiet/v0/quiet.log"), "");
      assert.deepEqual((await listRunRecords(backend, "quiet", 0)).map((record) => record.status), ["finished"]);

      const talker = await Snapshot.setup({ name: "talker", backend, console: false });
      clock.advance(1_000);
      await talker.flush();
      const [running] = await listRunRecords(backend, "talker", 0);
      assert.equal(running?.status, "running", "the running record was written from the main thread");
      talker.info("one");
      assert.ok(WriterThread.running() !== undefined, "the first line started the thread");
      talker.info("two");
      await talker.flush();
      talker.info("three");
      await talker.close();
      assert.deepEqual(lines(await readText(backend, "talker/v0/talker.log")), ["INFO     one", "INFO     two", "INFO     three"]);
      const records = await listRunRecords(backend, "talker", 0);
      assert.deepEqual(
        records.map((record) => [record.status, record.startedAt]),
        [["finished", running?.startedAt]],
        "the thread went on with the same record",
      );
    } finally {
      restoreClock();
    }
  });

  it("a line during the main thread's first flush: the thread goes on with one record, which ends finished", async () => {
    const backend = await localBackend();
    const run = await Snapshot.setup({ name: "crossing", backend, console: false });
    const flushing = run.flush();
    run.info("during the first flush");
    await flushing;
    run.info("after it");
    await run.close();
    assert.deepEqual(lines(await readText(backend, "crossing/v0/crossing.log")), ["INFO     during the first flush", "INFO     after it"]);
    assert.deepEqual((await listRunRecords(backend, "crossing", 0)).map((record) => record.status), ["finished"]);
  });

  it("leaves a run it could not take to the main thread, and no line is lost", async () => {
    await stopRunningThread();
    const backend = await localBackend();
    const run = await Snapshot.setup({ name: "orphan", backend, console: false });
    const warnings: string[] = [];
    const onWarning = (warning: Error & { code?: string }): void => void warnings.push(`${warning.code}: ${warning.message}`);
    process.on("warning", onWarning);
    try {
      run.info("before the thread died");
      const thread = WriterThread.running();
      assert.ok(thread !== undefined, "the first line started the thread");
      await thread.terminate();
      run.info("after");
      await run.flush();
      run.info("last");
      await run.close();
      assert.deepEqual(lines(await readText(backend, "orphan/v0/orphan.log")), [
        "INFO     before the thread died",
        "INFO     after",
        "INFO     last",
      ]);
      assert.deepEqual((await listRunRecords(backend, "orphan", 0)).map((record) => record.status), ["finished"]);
      assert.ok(warnings.some((warning) => warning.startsWith("OPENCRATE_LOG_THREAD: ") && warning.includes("orphan.log")), warnings.join("\n"));
    } finally {
      process.off("warning", onWarning);
    }
  });
});

describe("a run handed over at once from code that never yields, then closed", () => {
  it("is closed from the main thread, with every line, when the thread cannot take it", async () => {
    await stopRunningThread();
    const backend = await localBackend();
    const run = await Snapshot.setup({ name: "unyielding", backend, console: false });
    const warnings = await warningsDuring(async () => {
      run.info("first");
      const thread = WriterThread.running();
      assert.ok(thread !== undefined, "the first line started the thread");
      // Longer than a line may wait for the hand-over, without yielding: the next line sends the run at once.
      for (const start = Date.now(); Date.now() - start < 150; );
      run.info("second");
      void thread.terminate();
      await run.close();
    });
    assert.deepEqual(lines(await readText(backend, "unyielding/v0/unyielding.log")), ["INFO     first", "INFO     second"]);
    assert.deepEqual((await listRunRecords(backend, "unyielding", 0)).map((record) => record.status), ["finished"]);
    assert.ok(warnings.includes("OPENCRATE_LOG_THREAD"), warnings.join("\n"));
  });
});

describe("the log-writer thread in a process started with `node --input-type=module -e`", () => {
  it("knows a process runs string input with --input-type, from its flags or NODE_OPTIONS", () => {
    assert.equal(hasInputType(["--input-type=module", "-e", "code"]), true);
    assert.equal(hasInputType(["--max-old-space-size=100", "--input-type", "commonjs"]), true);
    assert.equal(hasInputType([], "--no-warnings --input-type=module"), true);
    assert.equal(hasInputType(["-e", "code", "--conditions=source"], "--no-warnings"), false);
    assert.equal(hasInputType(["--input-typo=module"]), false);
  });

  it("`node --input-type=module -e` stores the run from the thread, with no warning, and records it finished", async () => {
    const root = await localRoot();
    const backend = new LocalBackend({ root });
    const script = `
      const { Snapshot } = await import(${JSON.stringify(INDEX)});
      const { LocalBackend } = await import(${JSON.stringify(new URL("../../src/backends/local/index.ts", import.meta.url).href)});
      const run = await Snapshot.setup({ name: "evald", backend: new LocalBackend({ root: ${JSON.stringify(root)} }), console: false });
      run.info("from -e");
      await new Promise((resolve) => setTimeout(resolve, 100));
      run.info("last");`;
    const { stderr } = await execNode(process.execPath, ["--max-old-space-size=200", "--input-type=module", "-e", script], { timeout: 60_000 });
    assert.equal(stderr, "");
    assert.deepEqual(lines(await readText(backend, "evald/v0/evald.log")), ["INFO     from -e", "INFO     last"]);
    const records = await listRunRecords(backend, "evald", 0);
    assert.deepEqual(records.map((record) => [record.status, record.exitCode]), [["finished", 0]]);
  });
});

describe("a run written from the main thread that ends without close()", () => {
  async function endWithoutClose(mode: string): Promise<{ backend: LocalBackend; root: string; stderr: string; code: number }> {
    const root = await localRoot();
    const backend = new LocalBackend({ root });
    try {
      const { stderr } = await execNode(process.execPath, [MAIN_THREAD_RUN, root, mode], { timeout: 60_000 });
      return { backend, root, stderr, code: 0 };
    } catch (error) {
      const failed = error as { code?: number; stderr?: string };
      if (typeof failed.code !== "number") throw error;
      return { backend, root, stderr: failed.stderr ?? "", code: failed.code };
    }
  }

  async function assertStored({ backend, root }: { backend: LocalBackend; root: string }, status: string, exitCode: number): Promise<void> {
    assert.deepEqual(lines(await readText(backend, "main/v0/main.log")), ["INFO     first", "INFO     second", "INFO     last"]);
    const records = await listRunRecords(backend, "main", 0);
    assert.deepEqual(records.map((record) => [record.status, record.exitCode, record.endedAt !== null]), [[status, exitCode, true]]);
    const leftovers = (await readdir(join(root, "main", ".opencrate", "run-records", "0000000000"))).filter((name) => name.startsWith("."));
    assert.deepEqual(leftovers, [], "no half-written record");
  }

  it("a backend of the application's own: the record says finished, exit code 0, once the event loop ran dry", async () => {
    const ended = await endWithoutClose("custom");
    assert.equal(ended.code, 0, ended.stderr);
    await assertStored(ended, "finished", 0);
  });

  it("and failed with process.exitCode", async () => {
    const ended = await endWithoutClose("custom-code4");
    assert.equal(ended.code, 4, ended.stderr);
    await assertStored(ended, "failed", 4);
  });

  it("a run the thread dropped (it died after the first line): every line and the final record are stored", async () => {
    const ended = await endWithoutClose("orphan");
    assert.equal(ended.code, 0, ended.stderr);
    assert.match(ended.stderr, /OPENCRATE_LOG_THREAD/);
    await assertStored(ended, "finished", 0);
  });
});

/** Stops a thread an earlier test left running, so the next test sees which run starts one. */
async function stopRunningThread(): Promise<void> {
  await WriterThread.running()?.terminate();
}
