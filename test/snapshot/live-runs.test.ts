/**
 * Runs still going while another process deletes their version: `reset()` and `replace: true` refuse while another
 * run's record says `running` and is not stale; `reset({ evenIfRunning: true })` deletes anyway, and the run whose
 * version went stores nothing more under that number (no save, log line, history or run record), so the next run
 * that gets the number keeps its files. On memory (in this process only), local disk, MinIO and fake-gcs-server.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { hostname } from "node:os";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import type { StorageBackend } from "../../src/backends/backend.ts";
import { useClock } from "../../src/clock.ts";
import { isOpenCrateError } from "../../src/errors.ts";
import { Snapshot, type SetupOptions } from "../../src/index.ts";
import { allBackendFactories } from "../support/backends.ts";
import { collectKeys, expectCode, readText } from "../support/assertions.ts";
import { ManualClock } from "../support/manual-clock.ts";
import { processWarningsDuring } from "../support/warnings.ts";

const fixture = fileURLToPath(new URL("./fixtures/live-run-child.ts", import.meta.url));

interface Answer {
  readonly ok: boolean;
  readonly code?: string;
  readonly message?: string;
}

interface Child {
  /** The version folder the child's run writes. */
  readonly version: string;
  readonly pid: number;
  send(command: string): Promise<Answer>;
  /** Resolves with the child's stderr once it has exited. */
  ended(): Promise<string>;
}

/** A run in another process (fixtures/live-run-child.ts), set up and with its record written. */
async function startChild(root: string, name: string, start = "new", runId?: string): Promise<Child> {
  const child = spawn(process.execPath, [fixture, root, name, start, ...(runId === undefined ? [] : [runId])], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8");
  });
  const exited = once(child, "exit");
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<Record<string, unknown>> => {
    const { value, done } = await lines.next();
    if (done === true) throw new Error(`the child ended: ${stderr}`);
    return JSON.parse(value as string) as Record<string, unknown>;
  };
  const first = await next();
  return {
    version: String(first.version),
    pid: child.pid ?? 0,
    async send(command) {
      child.stdin.write(`${command}\n`);
      return (await next()) as unknown as Answer;
    },
    async ended() {
      child.stdin.end();
      await exited;
      return stderr;
    },
  };
}

/** `backend` as a store whose clock runs `aheadMs` ahead: the records written now look that old. */
function aheadBy(backend: StorageBackend, aheadMs: number): StorageBackend {
  return new Proxy(backend, {
    get(target, property) {
      if (property === "storeNow") return () => new Date(Date.now() + aheadMs);
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

const factories = allBackendFactories().filter((factory) => /^(memory|local|minio|gcs)\b/.test(factory.label));

for (const factory of factories) {
  const otherProcesses = factory.label !== "memory";
  describe(`runs still going, on ${factory.label}`, { skip: factory.skip }, () => {
    let backend: StorageBackend;
    before(async () => {
      backend = await factory.make();
    });
    after(() => factory.cleanup());

    const setup = (options: { name: string; start?: SetupOptions["start"]; replace?: boolean }, on = backend): Promise<Snapshot> =>
      Snapshot.setup({ ...options, backend: on, console: false });

    /** A run of `name` with a saved file and a stored line, its `running` record written (by the flush). */
    const running = async (name: string, start?: SetupOptions["start"]): Promise<Snapshot> => {
      const run = await setup({ name, ...(start === undefined ? {} : { start }) });
      await run.json("m.json").save({ who: "B" });
      run.info("B line");
      await run.flush();
      return run;
    };

    it("reset() refuses while another run writes into the name, naming its version, host and pid, and deletes nothing", async () => {
      const other = await running("busy");
      const own = await running("busy");
      assert.equal(own.versionName, "v1");
      const error = await expectCode(own.reset({ confirm: true }), "PRECONDITION_FAILED");
      assert.match(error.message, /^reset\(\) of 'busy' at .* deleted nothing: a run is still writing into it: v0 \(host /);
      assert.ok(error.message.includes(`host ${hostname()}, pid ${process.pid}`), error.message);
      assert.match(error.message, /reset\(\{ confirm: true, evenIfRunning: true \}\)/);
      assert.equal(error.path, backend.describe("busy"));
      assert.equal(own.isSetUp, true, "the refused reset leaves the snapshot set up");
      assert.deepEqual(await readText(backend, "busy/v0/jsons/m.json").then(JSON.parse), { who: "B" });
      assert.equal((await collectKeys(backend, "busy/.opencrate/versions/")).length, 2);
      await other.close();
      // Its own run, still going, does not stop it.
      await own.reset({ confirm: true });
      assert.deepEqual(await collectKeys(backend, "busy/"), []);
    });

    it("a run that stopped reporting (its record not stored for 5 minutes, by the store's clock) does not stop reset()", async () => {
      const other = await running("quiet");
      const later = await setup({ name: "quiet", start: "last" }, aheadBy(backend, 5 * 60_000 + 10_000));
      await later.reset({ confirm: true });
      assert.deepEqual(await collectKeys(backend, "quiet/"), []);
      await other.close();
    });

    it("reset({ evenIfRunning: true }) in this process: the run still going writes no line, record or file into the number again", async () => {
      const other = await running("gone");
      const resetter = await setup({ name: "gone", start: "last" });
      await resetter.reset({ confirm: true, evenIfRunning: true });
      const next = await setup({ name: "gone" });
      assert.equal(next.versionName, "v0", "numbering restarts at v0");
      await next.json("m.json").save({ who: "C" });
      next.info("C line");
      await next.flush();
      const warnings = await processWarningsDuring(async () => {
        other.info("B line after the reset");
        await other.flush();
        other.info("B line once it knows");
        await other.flush();
      });
      if (factory.label === "memory") {
        // Written from this thread (no log-writer thread for a memory backend): its warning is seen here.
        assert.deepEqual(warnings.map((warning) => warning.code), ["OPENCRATE_VERSION_DELETED"]);
      }
      const refused = await expectCode(other.json("m.json").save({ who: "B" }), "PRECONDITION_FAILED");
      assert.match(refused.message, /^Version v0 of 'gone' \(.*\) was deleted by another process \(reset\(\)\)/);
      await expectCode(other.text("t.txt").save("B"), "PRECONDITION_FAILED");
      await other.close();
      assert.deepEqual(JSON.parse(await readText(backend, "gone/v0/jsons/m.json")), { who: "C" });
      assert.doesNotMatch(await readText(backend, "gone/v0/gone.log"), /B line/);
      assert.equal((await next.runs()).length, 1, "the new v0 lists its own run only");
      await next.close();
      assert.deepEqual(await collectKeys(backend, "gone/v0/"), ["gone/v0/gone.log", "gone/v0/jsons/m.json"]);
    });

    it("a run whose record was not written yet when reset() deleted its version does not show up in the next run's v0", async () => {
      // Its first record waits for this clock (a second after setup), which never moves: reset() cannot see the run.
      const restoreClock = useClock(new ManualClock());
      try {
        const early = await setup({ name: "early" });
        const resetter = await setup({ name: "early", start: "last" });
        await resetter.reset({ confirm: true });
        const next = await setup({ name: "early" });
        assert.equal(next.versionName, "v0");
        early.info("a line after the reset");
        await early.flush();
        await expectCode(early.json("m.json").save({ who: "B" }), "PRECONDITION_FAILED");
        await early.close();
        assert.equal((await next.runs()).length, 1, "the new v0 lists its own run only");
        await next.close();
      } finally {
        restoreClock();
      }
    });

    it("a run that saves without logging refreshes its record as it saves, and so learns that its version was deleted before the minute's heartbeat", async () => {
      const quiet = await running("silent");
      const resetter = await setup({ name: "silent", start: "last" });
      await resetter.reset({ confirm: true, evenIfRunning: true });
      // A save every quarter second for at most 30 s; the record is refreshed at most every 5 s, the heartbeat every 60 s.
      let refused = false;
      for (let attempt = 0; attempt < 120 && !refused; attempt++) {
        try {
          await quiet.json("b.json").save({ attempt });
        } catch (error) {
          if (!isOpenCrateError(error, "PRECONDITION_FAILED")) throw error;
          refused = true;
        }
        if (!refused) await sleep(250);
      }
      assert.ok(refused, "a save was refused");
      await quiet.close();
    });

    it("reset({ evenIfRunning: true }): a resumed run still going does not make its history again", async () => {
      const first = await running("hist");
      await first.close();
      const resumed = await running("hist", "last");
      assert.ok((await collectKeys(backend, "hist/v0/")).includes("hist/v0/hist.history.log"));
      const resetter = await setup({ name: "hist", start: "last" });
      await resetter.reset({ confirm: true, evenIfRunning: true });
      resumed.info("after the reset");
      await resumed.flush();
      await resumed.close();
      assert.deepEqual(await collectKeys(backend, "hist/"), []);
    });

    it("a process joining its run's version whose claim was deleted by hand (the folder still there) goes on storing lines and saves", async () => {
      const first = await Snapshot.setup({ name: "unclaimed", runId: "job-u", backend, console: false });
      await first.json("m.json").save({ who: "A" });
      await first.close();
      const claims = await collectKeys(backend, "unclaimed/.opencrate/versions/");
      assert.equal(claims.length, 1);
      await backend.delete(claims[0] ?? "");
      const joined = await Snapshot.setup({ name: "unclaimed", runId: "job-u", backend, console: false });
      assert.equal(joined.versionName, "v0");
      joined.info("first joined line");
      await joined.flush();
      joined.info("second joined line");
      await joined.flush();
      await joined.json("m.json").save({ who: "J" });
      assert.equal((await joined.runs()).length, 2, "both runs' records are there");
      await joined.close();
      assert.match(await readText(backend, "unclaimed/v0/unclaimed.log"), /first joined line[\s\S]*second joined line/);
      assert.deepEqual(JSON.parse(await readText(backend, "unclaimed/v0/jsons/m.json")), { who: "J" });
    });

    it("replace: true refuses to empty a version another run is still writing, picked by 'last' or by number", async () => {
      const other = await running("kept");
      await other.checkpoint("epoch1.bin").save(Buffer.alloc(100, 1));
      for (const start of ["last", 0] as const) {
        const error = await expectCode(setup({ name: "kept", start, replace: true }), "PRECONDITION_FAILED", String(start));
        assert.match(error.message, /^replace: true did not empty .*: a run is still writing into it: v0 \(host /);
        assert.ok(error.message.includes(`pid ${process.pid}`), error.message);
        assert.equal(error.path, backend.describe("kept/v0"));
      }
      other.info("B still logging");
      await other.flush();
      assert.equal((await backend.head("kept/v0/checkpoints/epoch1.bin")).size, 100);
      assert.match(await readText(backend, "kept/v0/kept.log"), /B line[\s\S]*B still logging/);
      await other.close();
      const replacing = await setup({ name: "kept", start: "last", replace: true });
      assert.equal(replacing.versionName, "v0");
      await replacing.close();
      assert.deepEqual(await collectKeys(backend, "kept/v0/"), ["kept/v0/kept.log"]);
    });

    it("reset({ evenIfRunning: true }) while a run goes on in another process: its saves fail, and the next run's v0 keeps its file", { skip: !otherProcesses }, async () => {
      const root = backend.describe("");
      const other = await startChild(root, "train");
      assert.equal(other.version, "v0");
      assert.deepEqual(await other.send("save B"), { ok: true });
      const resetter = await setup({ name: "train", start: "last" });
      const refused = await expectCode(resetter.reset({ confirm: true }), "PRECONDITION_FAILED");
      assert.ok(refused.message.includes(`pid ${other.pid}`), refused.message);
      await resetter.reset({ confirm: true, evenIfRunning: true });
      const next = await setup({ name: "train" });
      assert.equal(next.versionName, "v0");
      await next.json("m.json").save({ who: "C" });
      assert.deepEqual(await other.send("log B line after the reset"), { ok: true });
      const save = await other.send("save B");
      assert.equal(save.code, "PRECONDITION_FAILED", save.message);
      assert.match(save.message ?? "", /Version v0 of 'train' .* was deleted by another process/);
      assert.deepEqual(await other.send("close"), { ok: true });
      const stderr = await other.ended();
      assert.equal(stderr.match(/OPENCRATE_VERSION_DELETED/g)?.length, 1, stderr);
      assert.doesNotMatch(stderr, /OPENCRATE_LOG_REPLACED/);
      assert.deepEqual(JSON.parse(await readText(backend, "train/v0/jsons/m.json")), { who: "C" });
      assert.deepEqual((await next.runs()).map((run) => run.pid), [process.pid]);
      await next.close();
    });

    it("replace: true from a process of the same run id as the run going on is not refused", { skip: !otherProcesses }, async () => {
      const other = await startChild(backend.describe(""), "job", "new", "job-1");
      const replacing = await Snapshot.setup({ name: "job", start: "last", replace: true, runId: "job-1", backend, console: false });
      assert.equal(replacing.versionName, other.version);
      await replacing.close();
      await other.send("close");
      await other.ended();
    });
  });
}
