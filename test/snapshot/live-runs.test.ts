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
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import type { StorageBackend } from "../../src/backends/backend.ts";
import { useClock } from "../../src/clock.ts";
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
  });
}
