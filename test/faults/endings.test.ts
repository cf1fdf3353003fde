/**
 * However a run ends, no line logged before the end is lost, the crash is in the log, and the run record says how
 * the run ended: one child process per ending (normal exit without close(), process.exit(n), an uncaught
 * exception, an unhandled rejection, SIGTERM, SIGINT, SIGHUP, the application's own handlers), plus SIGKILL
 * (the record stays `running` with its last `lastSeen`) and a store that stalls at exit (the exit flush time-out
 * holds and the process still ends). On local disk, MinIO and fake-gcs-server.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { after, describe, it } from "node:test";
import type { StorageBackend } from "../../src/backends/backend.ts";
import type { RunRecord } from "../../src/logs/run-record.ts";
import { listRunRecords } from "../../src/snapshot/run-records.ts";
import { readText } from "../support/assertions.ts";
import { startFaultProxy, type FaultProxy } from "../support/fault-proxy.ts";
import { startChild, type ChildRun } from "./support.ts";
import { backendFor, cloudTargets, places } from "./targets.ts";

const CHILD = fileURLToPath(new URL("./fixtures/ending-child.ts", import.meta.url));
const LINES = 300;
const LOG = "endings/v0/endings.log";
const everyLine = Array.from({ length: LINES }, (_, i) => `INFO     line ${i}`);

/** The stored lines without their time stamps; a multi-line entry (a stack) stays one entry. */
function entries(text: string): string[] {
  return text
    .split(/\n(?=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d - )/)
    .map((entry) => entry.replace(/\n$/, ""))
    .filter((entry) => entry !== "")
    .map((entry) => entry.replace(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d - /, ""));
}

async function onlyRecord(backend: StorageBackend): Promise<RunRecord> {
  const records = await listRunRecords(backend, "endings", 0);
  assert.equal(records.length, 1, "one run, one record");
  return records[0] as RunRecord;
}

function assertEnded(record: RunRecord, expected: Pick<RunRecord, "status" | "exitCode" | "signal">): void {
  assert.deepEqual({ status: record.status, exitCode: record.exitCode, signal: record.signal }, expected);
  assert.ok(record.endedAt !== null && record.endedAt >= record.startedAt, "endedAt is set, after startedAt");
  assert.equal(record.versionName, "v0");
  assert.equal(record.log, "endings.log");
  assert.equal(record.node, process.version);
  assert.ok(record.argv.some((arg) => arg.endsWith("ending-child.ts")), "argv is the child's");
}

for (const place of places()) {
  describe(`how a run ends, on ${place.label}`, { skip: place.skip, concurrency: 3 }, () => {
    const backends: StorageBackend[] = [];
    const proxies: FaultProxy[] = [];
    const scratch: string[] = [];
    after(async () => {
      await Promise.all(scratch.map((folder) => rm(folder, { recursive: true, force: true })));
      await Promise.all(backends.map((backend) => backend.close()));
      await Promise.all(proxies.map((proxy) => proxy.close()));
      await place.cleanup();
    });

    async function run(ending: string, endpoint?: string, env?: NodeJS.ProcessEnv): Promise<{ child: ChildRun; backend: StorageBackend }> {
      const where = await place.fresh();
      const backend = await backendFor(place.kind, where);
      backends.push(backend);
      const child = startChild(CHILD, [ending, place.kind, where, ...(endpoint === undefined ? [] : [endpoint])], env);
      return { child, backend };
    }

    it("a normal exit without close() stores every line and records finished, exit code 0", async () => {
      const { child, backend } = await run("normal");
      const exit = await child.exited;
      assert.equal(exit.code, 0, exit.stderr);
      assert.equal(exit.stderr, "");
      assert.deepEqual(entries(await readText(backend, LOG)), everyLine);
      assertEnded(await onlyRecord(backend), { status: "finished", exitCode: 0, signal: null });
    });

    it("process.exit(3) stores every line and records failed, exit code 3", async () => {
      const { child, backend } = await run("exit");
      const exit = await child.exited;
      assert.equal(exit.code, 3, exit.stderr);
      assert.deepEqual(entries(await readText(backend, LOG)), everyLine);
      assertEnded(await onlyRecord(backend), { status: "failed", exitCode: 3, signal: null });
    });

    it("a run that logged nothing still records how it ended: a normal exit, process.exit(3), SIGTERM", async () => {
      for (const [ending, expected] of [
        ["normal-quiet", { code: 0, signal: null, record: { status: "finished", exitCode: 0, signal: null } }],
        ["exit-quiet", { code: 3, signal: null, record: { status: "failed", exitCode: 3, signal: null } }],
        ["signal-quiet", { code: null, signal: "SIGTERM", record: { status: "killed", exitCode: null, signal: "SIGTERM" } }],
      ] as const) {
        const { child, backend } = await run(ending);
        if (expected.signal !== null) {
          await child.waitForLine("ready");
          child.kill("SIGTERM");
        }
        const exit = await child.exited;
        assert.deepEqual([exit.code, exit.signal], [expected.code, expected.signal], `${ending}: ${exit.stderr}`);
        assert.equal(exit.stderr, "", ending);
        assert.equal(await readText(backend, LOG), "", ending);
        assertEnded(await onlyRecord(backend), expected.record);
      }
    });

    it("process.exit(3) right after a quiet run's first line stores the line and records failed, exit code 3", async () => {
      const { child, backend } = await run("first-line-exit");
      const exit = await child.exited;
      assert.equal(exit.code, 3, exit.stderr);
      assert.equal(exit.stderr, "");
      assert.deepEqual(entries(await readText(backend, LOG)), ["INFO     the only line"]);
      assertEnded(await onlyRecord(backend), { status: "failed", exitCode: 3, signal: null });
    });

    it("process.exit(3) with two runs open, after an earlier run closed: both store every line and record the exit", async () => {
      const { child, backend } = await run("exit-shared");
      const exit = await child.exited;
      assert.equal(exit.code, 3, exit.stderr);
      assert.deepEqual(entries(await readText(backend, LOG)), everyLine);
      assertEnded(await onlyRecord(backend), { status: "failed", exitCode: 3, signal: null });
      const beside = Array.from({ length: LINES }, (_, i) => `INFO     beside ${i}`);
      assert.deepEqual(entries(await readText(backend, "beside/v0/beside.log")), beside);
      const [besideRecord] = await listRunRecords(backend, "beside", 0);
      assert.deepEqual([besideRecord?.status, besideRecord?.exitCode], ["failed", 3]);
      const [earlierRecord] = await listRunRecords(backend, "earlier", 0);
      assert.deepEqual([earlierRecord?.status, earlierRecord?.exitCode], ["finished", null], "closed by close() before exit");
    });

    it("process.exit(3) while close() is storing (not awaited) stores every line and records the close", async () => {
      const { child, backend } = await run("close-exit");
      const exit = await child.exited;
      assert.equal(exit.code, 3, exit.stderr);
      assert.equal(exit.stderr, "");
      assert.deepEqual(entries(await readText(backend, LOG)), everyLine);
      assertEnded(await onlyRecord(backend), { status: "finished", exitCode: null, signal: null });
    });

    it("SIGTERM while close() is storing: every line is stored, the record is the close's, the process dies by it", async () => {
      const { child, backend } = await run("close-signal");
      const exit = await child.exited;
      assert.equal(exit.signal, "SIGTERM", exit.stderr);
      assert.deepEqual(entries(await readText(backend, LOG)), everyLine);
      assertEnded(await onlyRecord(backend), { status: "finished", exitCode: null, signal: null });
    });

    it("an uncaught exception while close() is storing: every line is stored; Node's exit code", async () => {
      const { child, backend } = await run("close-throw");
      const exit = await child.exited;
      assert.equal(exit.code, 1, exit.stderr);
      assert.match(exit.stderr, /^Error: boom during close$/m, "Node printed the error");
      // The crash came after close() began: like any line after close(), its CRITICAL line is not stored.
      assert.deepEqual(entries(await readText(backend, LOG)), everyLine);
      assertEnded(await onlyRecord(backend), { status: "finished", exitCode: null, signal: null });
    });

    it("process.exit(3) while a second setup() closes this run stores every line of it", async () => {
      const { child, backend } = await run("setup-exit");
      const exit = await child.exited;
      assert.equal(exit.code, 3, exit.stderr);
      assert.deepEqual(entries(await readText(backend, LOG)), everyLine);
      assertEnded(await onlyRecord(backend), { status: "finished", exitCode: null, signal: null });
    });

    for (const [ending, heading, message] of [
      ["throw", "Uncaught exception", "boom"],
      ["reject", "Unhandled promise rejection", "rejected"],
    ] as const) {
      it(`${heading.toLowerCase()}: every line, then a CRITICAL line with the stack; Node's exit code and stderr`, async () => {
        const { child, backend } = await run(ending);
        const exit = await child.exited;
        assert.equal(exit.code, 1, exit.stderr);
        assert.match(exit.stderr, new RegExp(`^Error: ${message}\\n {4}at .*ending-child\\.ts`, "m"), "Node printed the error");
        assert.match(exit.stderr, /^Node\.js v\d+/m);
        assert.doesNotMatch(exit.stderr, /opencrate/, "and nothing of ours");
        const stored = entries(await readText(backend, LOG));
        assert.deepEqual(stored.slice(0, LINES), everyLine);
        assert.equal(stored.length, LINES + 1);
        assert.match(stored[LINES] ?? "", new RegExp(`^CRITICAL ${heading}\\nError: ${message}\\n {4}at .*ending-child\\.ts:\\d+:\\d+`));
        assertEnded(await onlyRecord(backend), { status: "failed", exitCode: 1, signal: null });
      });
    }

    for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
      it(`${signal} stores every line, records killed by ${signal}, and the process dies by it`, async () => {
        const { child, backend } = await run("signal");
        await child.waitForLine("ready");
        child.kill(signal);
        const exit = await child.exited;
        assert.equal(exit.signal, signal, exit.stderr);
        assert.deepEqual(entries(await readText(backend, LOG)), everyLine);
        assertEnded(await onlyRecord(backend), { status: "killed", exitCode: null, signal });
      });
    }

    it("SIGTERM while the application keeps logging: every line logged until the process died is stored", async () => {
      const ticksFolder = await mkdtemp(join(tmpdir(), "opencrate-ticks-"));
      scratch.push(ticksFolder);
      const ticksFile = join(ticksFolder, "ticks");
      const { child, backend } = await run("signal-ticking", undefined, { ...process.env, TICKS_FILE: ticksFile });
      await child.waitForLine("ready");
      await sleep(300);
      child.kill("SIGTERM");
      const exit = await child.exited;
      assert.equal(exit.signal, "SIGTERM", exit.stderr);
      assert.doesNotMatch(exit.stderr, /OPENCRATE_LOG_CLOSED|not stored/);
      const logged = (await readFile(ticksFile, "utf8")).split("\n").filter((line) => line !== "").length;
      assert.ok(logged > 0, "the child logged ticks");
      // A tick logged just before the death may be stored without its count: at most one more than counted.
      for (const key of [LOG, "endings/v0/endings.history.log"]) {
        const stored = entries(await readText(backend, key));
        assert.deepEqual(stored.slice(0, LINES), everyLine, key);
        const ticks = stored.slice(LINES);
        assert.ok(ticks.length === logged || ticks.length === logged + 1, `${key}: ${logged} ticks logged, ${ticks.length} stored`);
        assert.deepEqual(ticks, Array.from({ length: ticks.length }, (_, i) => `INFO     tick ${i}`), key);
      }
      const records = await listRunRecords(backend, "endings", 0);
      assert.deepEqual(
        records.map((record) => record.status).sort(),
        ["finished", "killed"],
        "the earlier run's record, and this one's",
      );
      assertEnded(records.find((record) => record.status === "killed") as RunRecord, { status: "killed", exitCode: null, signal: "SIGTERM" });
    });

    it("an application's own uncaughtException listener stays in charge and decides the exit", async () => {
      const { child, backend } = await run("app-exception");
      const exit = await child.exited;
      assert.equal(exit.code, 4, exit.stderr);
      const stored = entries(await readText(backend, LOG));
      assert.deepEqual(stored.slice(0, LINES), everyLine);
      assert.match(stored[LINES] ?? "", /^CRITICAL Uncaught exception\nError: handled boom\n/);
      assert.deepEqual(stored.slice(LINES + 1), ["INFO     the application handles handled boom"]);
      assertEnded(await onlyRecord(backend), { status: "failed", exitCode: 4, signal: null });
    });

    it("an application's own SIGTERM listener runs and decides the exit", async () => {
      const { child, backend } = await run("app-sigterm");
      await child.waitForLine("ready");
      child.kill("SIGTERM");
      const exit = await child.exited;
      assert.equal(exit.signal, null, exit.stderr);
      assert.equal(exit.code, 5);
      assert.deepEqual(entries(await readText(backend, LOG)), [...everyLine, "INFO     the application shuts down"]);
      assertEnded(await onlyRecord(backend), { status: "failed", exitCode: 5, signal: null });
    });

    it("SIGKILL leaves the record running, with the lastSeen of the last flush", async () => {
      const { child, backend } = await run("sigkill");
      const before = (await child.waitForLine("flushed ")).slice("flushed ".length);
      await child.waitForLine("ready");
      child.kill("SIGKILL");
      const exit = await child.exited;
      assert.equal(exit.signal, "SIGKILL", exit.stderr);
      assert.deepEqual(entries(await readText(backend, LOG)), everyLine, "the flushed lines are there");
      const record = await onlyRecord(backend);
      assert.equal(record.status, "running");
      assert.equal(record.endedAt, null);
      assert.ok(record.lastSeen >= before, `lastSeen ${record.lastSeen} is from the flush (after ${before})`);
    });

    if (place.kind !== "local") {
      it("a close() the store fails keeps the lines: the next close() stores them all and records finished", async () => {
        const target = cloudTargets().find((candidate) => candidate.kind === place.kind);
        const proxy = await startFaultProxy({ target: target?.endpoint ?? "", seed: 11 });
        proxies.push(proxy);
        const { child, backend } = await run("close-retry", proxy.endpoint);
        await child.waitForLine("ready");
        proxy.setPlan({ decide: (request) => (target?.objectOf(request)?.endsWith("/endings.log") === true ? "status-503" : "pass") });
        child.kill("SIGUSR2");
        assert.equal(await child.waitForLine("close"), "close failed TRANSIENT");
        assert.equal(await readText(backend, LOG), "", "nothing stored yet");
        assert.equal((await onlyRecord(backend)).status, "running", "not ended while its lines wait");
        proxy.setPlan({});
        child.kill("SIGUSR2");
        await child.waitForLine("closed");
        child.kill("SIGUSR1");
        const exit = await child.exited;
        assert.equal(exit.code, 0, exit.stderr);
        assert.doesNotMatch(exit.stderr, /could not store/);
        assert.deepEqual(entries(await readText(backend, LOG)), everyLine);
        assertEnded(await onlyRecord(backend), { status: "finished", exitCode: null, signal: null });
      });

      it("a store that stalls at exit: the flush time-out holds, the process exits with its code and says so", async () => {
        const target = cloudTargets().find((candidate) => candidate.kind === place.kind);
        const proxy = await startFaultProxy({ target: target?.endpoint ?? "", seed: 7 });
        proxies.push(proxy);
        const { child } = await run("stalled-exit", proxy.endpoint, { ...process.env, OPENCRATE_EXIT_FLUSH_MS: "1500" });
        await child.waitForLine("ready");
        proxy.setPlan({ decide: () => "stall", stallMs: 120_000 });
        child.kill("SIGUSR2");
        const exit = await child.exited;
        assert.equal(exit.code, 3, exit.stderr);
        assert.match(exit.stderr, /opencrate: could not store log lines at exit: timed out after 1500 ms \(OPENCRATE_EXIT_FLUSH_MS\)/);
      });
    }
  });
}
