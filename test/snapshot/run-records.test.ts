/**
 * Run records as readers see them: `listVersions()` entries, `Snapshot.open(...).runs()`, one record per run and
 * per rank, the git commit of the working folder; the rank-without-run-id warning; a malformed
 * OPENCRATE_EXIT_FLUSH_MS rejected before anything is written. Over the memory backend (written from the main
 * thread) and local disk (written by the log-writer thread).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, describe, it } from "node:test";
import type { StorageBackend } from "../../src/backends/backend.ts";
import { LocalBackend } from "../../src/backends/local/index.ts";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { Snapshot } from "../../src/index.ts";
import { useClock } from "../../src/clock.ts";
import { DIRTY_REUSE_MS, gitState } from "../../src/snapshot/git-state.ts";
import { collectKeys, readText } from "../support/assertions.ts";
import { ManualClock } from "../support/manual-clock.ts";

const folders: string[] = [];
after(() => Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true }))));

async function localRoot(): Promise<{ backend: LocalBackend; root: string }> {
  const root = await mkdtemp(join(tmpdir(), "opencrate-records-"));
  folders.push(root);
  return { backend: new LocalBackend({ root }), root };
}

const makers: [string, () => Promise<StorageBackend>][] = [
  ["memory", async () => new MemoryBackend({ name: `records-${Math.random()}` })],
  ["local", async () => (await localRoot()).backend],
];

for (const [label, make] of makers) {
  describe(`run records on ${label}`, () => {
    it("each run leaves a record; listVersions shows how the latest run of each version did", async () => {
      const backend = await make();
      const first = await Snapshot.setup({ name: "rec", backend, console: false });
      first.info("one");
      assert.equal((await first.runs())[0]?.status, "running", "running while it runs");
      await first.close();
      const resumed = await Snapshot.setup({ name: "rec", start: 0, backend, console: false, runId: "job-7" });
      const running = await resumed.listVersions();
      assert.equal(running[0]?.status, "running");
      assert.equal(running[0]?.endedAt, undefined);
      await resumed.close();

      const reader = await Snapshot.setup({ name: "rec", start: 0, backend, console: false });
      const runs = await reader.runs();
      await reader.close();
      assert.equal(runs.length, 3, "one record per run of v0");
      const [one, two] = runs;
      assert.equal(one?.status, "finished");
      assert.equal(one?.exitCode, null, "closed by the application: no exit code yet");
      assert.equal(one?.runId, null);
      assert.equal(two?.runId, "job-7");
      assert.ok(one !== undefined && two !== undefined && one.startedAt <= two.startedAt, "oldest first");
      assert.equal(one?.pid, process.pid);
      assert.equal(one?.node, process.version);
      assert.deepEqual(one?.argv, process.argv);
      assert.equal(one?.versionName, "v0");
      assert.equal(one?.log, "rec.log");
      assert.ok(one?.endedAt !== null && (one?.lastSeen ?? "") >= (one?.startedAt ?? "~"));
      const versions = await Snapshot.setup({ name: "rec", backend, console: false });
      const listed = await versions.listVersions();
      await versions.close();
      assert.equal(listed[0]?.status, "finished");
      assert.ok(listed[0]?.endedAt !== undefined);
      assert.equal(listed[1]?.status, "running", "the lister's own run is still going");
    });

    it("records the git commit of the working folder when it is a checkout", async () => {
      const backend = await make();
      const run = await Snapshot.setup({ name: "git", backend, console: false });
      const [record] = await run.runs();
      await run.close();
      const head = execFileSync("git", ["rev-parse", "HEAD"], { encoding: "utf8" }).trim();
      assert.equal(record?.git?.commit, head);
      assert.equal(typeof record?.git?.dirty, "boolean");
    });
  });
}

describe("the first running record", () => {
  /** Counts the writes to run-record keys; everything else goes to a memory backend (written from this thread). */
  function countingBackend(): { backend: StorageBackend; recordWrites: () => number } {
    const memory = new MemoryBackend({ name: `first-record-${Math.random()}` });
    let writes = 0;
    const backend = new Proxy(memory, {
      get(target, property) {
        const value: unknown = Reflect.get(target, property, target);
        if (property === "put") {
          return (key: string, ...rest: unknown[]) => {
            if (key.includes("/run-records/")) writes += 1;
            return (memory.put as (...args: unknown[]) => unknown)(key, ...rest);
          };
        }
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    return { backend, recordWrites: () => writes };
  }

  async function recordsOf(backend: StorageBackend): Promise<string[]> {
    return (await collectKeys(backend, "first/.opencrate/run-records/")).filter((key) => key.endsWith(".json"));
  }

  it("is written a second after setup when nothing was flushed, and a run ending sooner writes only its final record", async () => {
    const clock = new ManualClock();
    const restoreClock = useClock(clock);
    try {
      const { backend, recordWrites } = countingBackend();
      const quick = await Snapshot.setup({ name: "first", backend, console: false });
      assert.equal(recordWrites(), 0, "nothing at setup");
      await quick.close();
      assert.equal(recordWrites(), 1, "only the final record");

      const slow = await Snapshot.setup({ name: "first", backend, console: false });
      clock.advance(999);
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(recordWrites(), 1, "not yet");
      clock.advance(1);
      for (let wait = 0; wait < 100 && recordWrites() < 2; wait++) await new Promise((resolve) => setImmediate(resolve));
      assert.equal(recordWrites(), 2, "written at one second");
      const keys = await recordsOf(backend);
      assert.equal(keys.length, 2);
      const running = JSON.parse(await readText(backend, keys[1] ?? "")) as { status: string; endedAt: unknown };
      assert.deepEqual([running.status, running.endedAt], ["running", null]);
      await slow.close();
      assert.equal(recordWrites(), 3);
    } finally {
      restoreClock();
    }
  });

  it("is written by the first flush, and a run reading its version's records sees its own", async () => {
    const clock = new ManualClock();
    const restoreClock = useClock(clock);
    try {
      const { backend, recordWrites } = countingBackend();
      const flushed = await Snapshot.setup({ name: "first", backend, console: false });
      await flushed.flush();
      assert.equal(recordWrites(), 1, "a flush with no lines still stores the record once");
      await flushed.flush();
      assert.equal(recordWrites(), 1, "and a second one does no I/O");
      await flushed.close();

      const reader = await Snapshot.setup({ name: "first", backend, console: false });
      assert.deepEqual((await reader.runs()).map((record) => record.status), ["running"]);
      assert.equal((await reader.listVersions()).at(-1)?.status, "running");
      await reader.close();
    } finally {
      restoreClock();
    }
  });
});

describe("git state", () => {
  it("is null outside a checkout, and the HEAD commit inside one", async () => {
    const { root } = await localRoot();
    assert.equal(await gitState(root), null);
    const head = execFileSync("git", ["rev-parse", "HEAD"], { encoding: "utf8" }).trim();
    assert.equal((await gitState(process.cwd()))?.commit, head);
  });

  it("asks whether the checkout is dirty once per working folder and commit within the reuse window", async () => {
    // A checkout of its own, so no other test's answer for this working folder is reused.
    const { root } = await localRoot();
    const git = (...args: string[]): string => execFileSync("git", ["-C", root, ...args], { encoding: "utf8" }).trim();
    git("init", "--quiet");
    await writeFile(join(root, "a.txt"), "one\n");
    git("add", "a.txt");
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "--quiet", "-m", "one");
    const clock = new ManualClock();
    const restoreClock = useClock(clock);
    try {
      const asked: string[] = [];
      let answer = false;
      const options = {
        askDirty: async (folder: string) => {
          asked.push(folder);
          return answer;
        },
      };
      const [first, second] = await Promise.all([gitState(root, options), gitState(root, options)]);
      assert.deepEqual([first?.dirty, second?.dirty, asked.length], [false, false, 1], "runs set up together share one question");
      answer = true;
      clock.advance(DIRTY_REUSE_MS - 1);
      assert.equal((await gitState(root, options))?.dirty, false, "reused within the window");
      clock.advance(1);
      assert.equal((await gitState(root, options))?.dirty, true, "asked again once the window has passed");
      git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "--quiet", "--allow-empty", "-m", "two");
      answer = false;
      const moved = await gitState(root, options);
      assert.deepEqual([moved?.commit, moved?.dirty, asked.length], [git("rev-parse", "HEAD"), false, 3], "a new commit asks again");
    } finally {
      restoreClock();
    }
  });
});

describe("Snapshot.open(...).runs()", () => {
  it("reads the records of the opened version folder", async () => {
    const { backend, root } = await localRoot();
    const run = await Snapshot.setup({ name: "opened", backend, console: false, tag: "base" });
    run.info("hello");
    await run.close();
    const opened = await Snapshot.open(`${root}/opened/v0:base`);
    const runs = await opened.runs();
    assert.deepEqual(runs.map((record) => [record.status, record.versionName]), [["finished", "v0:base"]]);
  });
});

describe("ranks and the run id", () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const name of ["RANK", "OMPI_COMM_WORLD_RANK", "OPENCRATE_RUN_ID", "OPENCRATE_EXIT_FLUSH_MS"]) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
  });

  for (const variable of ["RANK", "OMPI_COMM_WORLD_RANK"] as const) {
    it(`warns, naming ${variable} and OPENCRATE_RUN_ID, when ${variable} is set without a run id`, async () => {
      delete process.env.OPENCRATE_RUN_ID;
      process.env[variable] = "1";
      const backend = new MemoryBackend({ name: `ranks-${Math.random()}` });
      const run = await Snapshot.setup({ name: "ranked", backend, console: false });
      const [record] = await run.runs();
      await run.close();
      const log = await readText(backend, "ranked/v0/ranked.rank1.log");
      assert.match(log, new RegExp(`WARNING  ${variable}=1 is set but no run id was found, so each rank of this job takes its own version`));
      assert.match(log, /set OPENCRATE_RUN_ID/);
      assert.equal(record?.rank, 1);
    });
  }

  it("says nothing when a run id names the job", async () => {
    process.env.RANK = "0";
    process.env.OPENCRATE_RUN_ID = `job-${Math.random()}`;
    const backend = new MemoryBackend({ name: `ranks-${Math.random()}` });
    const run = await Snapshot.setup({ name: "ranked", backend, console: false });
    await run.close();
    assert.doesNotMatch(await readText(backend, "ranked/v0/ranked.log"), /WARNING/);
  });

  it("rejects a malformed OPENCRATE_EXIT_FLUSH_MS before anything is written", async () => {
    process.env.OPENCRATE_EXIT_FLUSH_MS = "ten seconds";
    const { backend } = await localRoot();
    await assert.rejects(Snapshot.setup({ name: "flushms", backend, console: false }), {
      code: "INVALID_ARGUMENT",
      message: /OPENCRATE_EXIT_FLUSH_MS must be a whole number of milliseconds/,
    });
    assert.deepEqual(await collectKeys(backend, ""), []);
  });
});
