/**
 * Local compare-and-swap locks whose holder runs on this host are never taken over by age (a paused holder still
 * believes it holds its lock); a holder that is gone, a worker thread that ended, or a release that failed leave
 * a lock taken over at once.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { once } from "node:events";
import { type readFile, mkdtemp, readFile as readFileText, rm, stat, writeFile } from "node:fs/promises";
import { createRequire, syncBuiltinESMExports } from "node:module";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { after, describe, it } from "node:test";
import { Worker } from "node:worker_threads";
import { ifRevision } from "../../src/backends/backend.ts";
import { LocalBackend } from "../../src/backends/local/index.ts";
import { releaseLock, tryLock, watchStaleLocks, type LockVerdict } from "../../src/backends/local/lock.ts";
import { lockPathsFor } from "../../src/backends/local/paths.ts";
import { startOfPid, thisProcess, thisThread } from "../../src/backends/process-identity.ts";
import { useClock } from "../../src/clock.ts";
import { ManualClock } from "../support/manual-clock.ts";
import { readText, rejectsWithCode } from "../conformance/helpers.ts";

const STALE_MS = 200;
const KEY = "v0/counter.txt";
const roots: string[] = [];

/**
 * Whether this platform tells processes and threads apart through /proc (Linux). Off Linux the case is skipped; on
 * Linux an identity that cannot be read fails it, rather than skipping what the lock rule depends on.
 */
function identitiesReadable(context: { skip(reason: string): void }): boolean {
  if (process.platform !== "linux") {
    context.skip("processes and threads are told apart through /proc on Linux only");
    return false;
  }
  assert.ok(thisProcess().space !== undefined && thisThread() !== undefined, "this process's and thread's identity are read from /proc");
  return true;
}

/** A backend whose locks go stale after STALE_MS, over a fresh root holding KEY, and the paths of KEY. */
async function counter(): Promise<{ backend: LocalBackend; path: string; lock: string; revision: string }> {
  const root = await mkdtemp(join(tmpdir(), "opencrate-lock-holder-"));
  roots.push(root);
  const backend = new LocalBackend({ root, lockStaleMs: STALE_MS });
  const { revision } = await backend.put(KEY, "1");
  const path = join(root, KEY);
  return { backend, path, lock: lockPathsFor(path).lock, revision };
}

/** Starts a child process that takes the lock of `path` and holds it until it is sent a line. */
async function holderOf(path: string): Promise<ChildProcessWithoutNullStreams> {
  const script = new URL("./local-lock-holder.ts", import.meta.url).pathname;
  const child = spawn(process.execPath, [script, path, "from the holder"], { stdio: "pipe" });
  child.stderr.setEncoding("utf8").on("data", (text: string) => process.stderr.write(text));
  const [line] = (await Promise.race([once(child.stdout, "data"), once(child, "exit").then(() => ["exited"])])) as [unknown];
  assert.equal(String(line), "holding\n", "the child holds the lock");
  return child;
}

/** Waits (in real time: the lock's age is its file's) until the lock at `lock` is older than STALE_MS. */
async function untilOlderThanStale(lock: string): Promise<void> {
  while (Date.now() - (await stat(lock)).mtimeMs <= STALE_MS * 2) await sleep(STALE_MS / 4);
}

async function lockOwner(lock: string): Promise<{ pid: number; token: string }> {
  return JSON.parse(await readFileText(lock, "utf8")) as { pid: number; token: string };
}

/** Collects the verdicts of the stale locks at `lock` found while `body` runs. */
async function staleVerdicts(lock: string, body: () => Promise<void>): Promise<LockVerdict[]> {
  const verdicts: LockVerdict[] = [];
  const stop = watchStaleLocks((verdict, path) => {
    if (path === lock) verdicts.push(verdict);
  });
  try {
    await body();
  } finally {
    stop();
  }
  return verdicts;
}

/** Writes past the lock on a manual clock: "took over" when the write never waited, "waited" when it slept. */
async function writePast(backend: LocalBackend, lock: string, revision: string): Promise<"took over" | "waited"> {
  const time = new ManualClock();
  const restoreClock = useClock(time);
  try {
    const writing = backend.put(KEY, "2", { mode: ifRevision(revision) });
    writing.catch(() => {});
    const first = await Promise.race([writing.then(() => "took over" as const), time.nextTimer().then(() => "waited" as const)]);
    if (first === "waited") {
      await rm(lock, { force: true });
      time.advance(60_000);
    }
    await writing;
    return first;
  } finally {
    restoreClock();
  }
}

describe("a local lock held by a process of this host", { timeout: 120_000 }, () => {
  after(() => Promise.all(roots.splice(0).map((root) => rm(root, { recursive: true, force: true }))));

  it("is never taken over while its holder is stopped past the stale age: waiters fail TRANSIENT naming it", async () => {
    const { backend, path, lock, revision } = await counter();
    const holder = await holderOf(path);
    const exited = once(holder, "exit");
    try {
      const owner = await lockOwner(lock);
      assert.equal(owner.pid, holder.pid);
      holder.kill("SIGSTOP");
      await untilOlderThanStale(lock);

      const verdicts = await staleVerdicts(lock, async () => {
        const error = await rejectsWithCode(backend.put(KEY, "from the waiter", { mode: ifRevision(revision) }), "TRANSIENT", "the waiter");
        assert.ok(error.message.includes(lock), error.message);
        assert.ok(error.message.includes(`process ${holder.pid}`), error.message);
        assert.equal(error.path, lock);
        // A sweep of leftovers keeps it too.
        await backend.removeLeftovers("");
      });
      assert.deepEqual(verdicts, [], "the stopped holder's lock is never judged stale");
      assert.deepEqual(await lockOwner(lock), owner, "the lock is still the holder's");
      assert.equal(await readText(backend, KEY), "1");

      // Let go on: the holder finishes its swap, and the waiter then compares against what it left.
      holder.kill("SIGCONT");
      holder.stdin.write("go\n");
      assert.deepEqual(await exited, [0, null]);
      assert.equal(await readText(backend, KEY), "from the holder");
      await rejectsWithCode(backend.put(KEY, "from the waiter", { mode: ifRevision(revision) }), "PRECONDITION_FAILED", "the stale swap");
      const { revision: current } = await backend.head(KEY);
      await backend.put(KEY, "from the waiter", { mode: ifRevision(current) });
      assert.equal(await readText(backend, KEY), "from the waiter");
    } finally {
      holder.kill("SIGKILL");
    }
  });

  it("is taken over at once once its stopped holder is killed", async () => {
    const { backend, path, lock, revision } = await counter();
    const holder = await holderOf(path);
    const exited = once(holder, "exit");
    try {
      holder.kill("SIGSTOP");
      await untilOlderThanStale(lock);
      await rejectsWithCode(backend.put(KEY, "from the waiter", { mode: ifRevision(revision) }), "TRANSIENT", "the waiter");
    } finally {
      holder.kill("SIGKILL");
      await exited;
    }
    const verdicts = await staleVerdicts(lock, async () => {
      await backend.put(KEY, "from the waiter", { mode: ifRevision(revision) });
    });
    assert.deepEqual(verdicts, ["owner-gone"]);
    assert.equal(await readText(backend, KEY), "from the waiter");
  });

  it("is taken over at once when its holder ended but was not reaped by its parent (a zombie)", async (context) => {
    if (!identitiesReadable(context)) return;
    const ours = thisProcess();
    const { backend, lock, revision } = await counter();
    // The shell becomes `sleep 30`, which never reaps the short sleep it started.
    const parent = spawn("sh", ["-c", "sleep 0.5 & echo $!; exec sleep 30"], { stdio: ["ignore", "pipe", "inherit"] });
    try {
      const [line] = (await once(parent.stdout, "data")) as [Buffer];
      const pid = Number(String(line).trim());
      const started = startOfPid(pid);
      assert.ok(started !== undefined, "the holder's start is read while it runs");
      const owner = { host: hostname(), pid, space: ours.space, started, tid: pid, threadStarted: started, token: "theirs", createdAt: "" };
      await writeFile(lock, JSON.stringify(owner));
      while (!(await readFileText(`/proc/${pid}/stat`, "utf8")).includes(") Z ")) await sleep(50);

      const verdicts = await staleVerdicts(lock, async () => {
        assert.equal(await writePast(backend, lock, revision), "took over");
      });
      assert.deepEqual(verdicts, ["owner-gone"]);
    } finally {
      parent.kill("SIGKILL");
    }
  });
});

describe("a local lock of this process", { timeout: 120_000 }, () => {
  after(() => Promise.all(roots.splice(0).map((root) => rm(root, { recursive: true, force: true }))));

  it("taken by a worker thread that was then terminated is taken over at once", async (context) => {
    if (!identitiesReadable(context)) return;
    const { backend, path, lock, revision } = await counter();
    const lockModule = new URL("../../src/backends/local/lock.ts", import.meta.url).href;
    const pathsModule = new URL("../../src/backends/local/paths.ts", import.meta.url).href;
    const policyModule = new URL("../../src/backends/retry-policy.ts", import.meta.url).href;
    const source = `
      const { parentPort } = require("node:worker_threads");
      Promise.all([import(${JSON.stringify(lockModule)}), import(${JSON.stringify(pathsModule)}), import(${JSON.stringify(policyModule)})])
        .then(([{ withLock }, { lockPathsFor }, { RetryPolicy }]) =>
          withLock(lockPathsFor(${JSON.stringify(path)}), { staleMs: 30000, retry: new RetryPolicy() }, () => {
            parentPort.postMessage("holding");
            return new Promise(() => {});
          }));`;
    const worker = new Worker(source, { eval: true });
    await new Promise((resolve, reject) => {
      worker.once("message", resolve);
      worker.once("error", reject);
    });
    const owner = (await lockOwner(lock)) as { pid: number; tid?: number };
    assert.equal(owner.pid, process.pid);
    assert.notEqual(owner.tid, thisThread()?.tid, "the worker's own thread took it");
    await worker.terminate();

    const verdicts = await staleVerdicts(lock, async () => {
      assert.equal(await writePast(backend, lock, revision), "took over");
    });
    assert.deepEqual(verdicts, ["thread-gone"]);
  });

  it("that this thread failed to remove when it let go is taken over at once", async (context) => {
    if (!identitiesReadable(context)) return;
    const { backend, path, lock, revision } = await counter();
    const paths = lockPathsFor(path);
    const token = await tryLock(paths, { staleMs: STALE_MS });
    assert.ok(token !== undefined);
    // The release cannot read the lock (as under EMFILE), so it leaves it in place.
    const fsPromises = createRequire(import.meta.url)("node:fs/promises") as { readFile: typeof readFile };
    const realReadFile = fsPromises.readFile;
    fsPromises.readFile = (async (...args: Parameters<typeof readFile>) => {
      if (args[0] === lock) throw Object.assign(new Error(`EMFILE: too many open files, open '${lock}'`), { code: "EMFILE" });
      return realReadFile(...args);
    }) as typeof readFile;
    syncBuiltinESMExports();
    try {
      await releaseLock(paths.lock, token);
    } finally {
      fsPromises.readFile = realReadFile;
      syncBuiltinESMExports();
    }
    assert.equal((await lockOwner(lock)).token, token, "the lock was left");

    const verdicts = await staleVerdicts(lock, async () => {
      assert.equal(await writePast(backend, lock, revision), "took over");
    });
    assert.deepEqual(verdicts, ["released"]);
  });
});
