import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chmod, type link, mkdir, type readFile, mkdtemp, readdir, rm, symlink, utimes, writeFile } from "node:fs/promises";
import { createRequire, syncBuiltinESMExports } from "node:module";
import { hostname, tmpdir } from "node:os";
import { join, relative } from "node:path";
import { Readable } from "node:stream";
import { promisify } from "node:util";
import { after, describe, it } from "node:test";
import { CREATE_ONLY, ifRevision } from "../../src/backends/backend.ts";
import { LocalBackend } from "../../src/backends/local/index.ts";
import { lockPathsFor } from "../../src/backends/local/paths.ts";
import { LOCK_EMPTY_GRACE_MS, watchStaleLocks, type LockVerdict } from "../../src/backends/local/lock.ts";
import { startOfPid, thisProcess, type ProcessIdentity } from "../../src/backends/process-identity.ts";
import { Worker } from "node:worker_threads";
import { describeBackendConformance } from "../../src/testing/index.ts";
import { collect, listKeys, readText, rejectsWithCode } from "../conformance/helpers.ts";
import { localFactory } from "../support/backends.ts";
import { probePermissions, type ProbeResult } from "./local-permission-probe.ts";
import { isOpenCrateError } from "../../src/errors.ts";
import { useClock } from "../../src/clock.ts";
import { ManualClock } from "../support/manual-clock.ts";
import { processWarningsDuring } from "../support/warnings.ts";

/** The OPENCRATE_NAME_NOT_UTF8 warnings `body` causes, by message. */
async function warningsDuring(body: () => Promise<void>): Promise<string[]> {
  const warnings = await processWarningsDuring(body);
  return warnings.filter((warning) => warning.code === "OPENCRATE_NAME_NOT_UTF8").map((warning) => warning.message);
}

describeBackendConformance("local", localFactory());

const roots: string[] = [];
/** Past any backoff of a lock waiter (staleness is judged by the file's real age, so this makes no lock stale). */
const PAST_ANY_LOCK_BACKOFF_MS = 60_000;
async function freshRoot(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), "opencrate-local-"));
  roots.push(root);
  return root;
}

/** Every file name under `folder`, recursively, relative to it (temp and lock files included). */
async function filesOnDisk(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => relative(folder, join(entry.parentPath, entry.name))).sort();
}

describe("local backend", { timeout: 5 * 60 * 1000 }, () => {
  after(() => Promise.all(roots.splice(0).map((root) => rm(root, { recursive: true, force: true }))));

  it("describes keys in the root's own form, relative or absolute", async () => {
    assert.equal(new LocalBackend({ root: "snapshots" }).describe("snapshot_guide/v0:initial-run"), "snapshots/snapshot_guide/v0:initial-run");
    assert.equal(new LocalBackend({ root: "snapshots/" }).describe("a.txt"), "snapshots/a.txt");
    assert.equal(new LocalBackend({ root: "./runs" }).describe("a.txt"), "./runs/a.txt");
    assert.equal(new LocalBackend({ root: "/data" }).describe("x"), "/data/x");
    assert.equal(new LocalBackend({ root: "/" }).describe("x"), "/x");
    assert.equal(new LocalBackend({ root: "snapshots" }).describe(""), "snapshots");
    assert.equal(new LocalBackend({ root: "/data/" }).describe(""), "/data");
    assert.equal(new LocalBackend({ root: "/data" }).kind, "local");
  });

  it("writes under a relative root resolved against the current folder", async () => {
    const root = await freshRoot();
    const relativeRoot = relative(process.cwd(), root);
    const backend = new LocalBackend({ root: relativeRoot });
    assert.equal(backend.rootPath, root);
    const error = await rejectsWithCode(backend.get("v0:run/missing.txt"), "NOT_FOUND", "get");
    assert.equal(error.path, `${relativeRoot}/v0:run/missing.txt`);
    await backend.put("v0:run/a.txt", "a");
    assert.deepEqual(await filesOnDisk(root), ["v0:run/a.txt"]);
  });

  it("hides temp and lock files from listings and refuses keys that use their names", async () => {
    const root = await freshRoot();
    const backend = new LocalBackend({ root });
    await backend.put("run/a.txt", "a");
    await writeFile(join(root, "run", ".~oc-tmp-left-by-a-crash"), "partial");
    await writeFile(join(root, "run", ".~oc-lock-0123"), "{}");
    await mkdir(join(root, "only-temp"));
    await writeFile(join(root, "only-temp", ".~oc-tmp-x"), "partial");
    assert.deepEqual(await listKeys(backend, ""), ["run/a.txt"]);
    assert.deepEqual((await backend.listPage("run/")).objects.map((info) => info.key), ["run/a.txt"]);
    assert.deepEqual((await backend.listPage("")).prefixes, ["run/"], "a folder holding only temp files is not listed");
    await rejectsWithCode(backend.put("run/.~oc-tmp-mine", "x"), "INVALID_ARGUMENT", "reserved name");
  });

  it("lists symbolic links as reads follow them: a link to a folder as that folder, a link to a file as that file", async () => {
    const root = await freshRoot();
    const outside = await freshRoot();
    await writeFile(join(outside, "secret.txt"), "outside");
    const backend = new LocalBackend({ root });
    await backend.put("run/a.txt", "a");
    await symlink(outside, join(root, "run", "linked-folder"));
    await symlink(join(outside, "secret.txt"), join(root, "run", "linked-file.txt"));
    assert.deepEqual(await listKeys(backend, ""), ["run/a.txt", "run/linked-file.txt", "run/linked-folder/secret.txt"]);
    const page = await backend.listPage("run/");
    assert.deepEqual([page.objects.map((info) => info.key), page.prefixes], [["run/a.txt", "run/linked-file.txt"], ["run/linked-folder/"]]);
    assert.equal(Buffer.from(await backend.get("run/linked-folder/secret.txt")).toString(), "outside");
  });

  it("does not list empty folders left by other tools", async () => {
    const root = await freshRoot();
    const backend = new LocalBackend({ root });
    await mkdir(join(root, "empty", "deeper"), { recursive: true });
    await backend.put("full/a.txt", "a");
    assert.deepEqual(await backend.listPage(""), { objects: [], prefixes: ["full/"] });
    assert.deepEqual(await listKeys(backend, ""), ["full/a.txt"]);
  });

  it("leaves no temp or lock file behind after writes, failed writes and deletes", async () => {
    const root = await freshRoot();
    const backend = new LocalBackend({ root });
    const first = await backend.put("v0/counter.txt", "1", { mode: CREATE_ONLY });
    await backend.put("v0/counter.txt", "2", { mode: ifRevision(first.revision) });
    await rejectsWithCode(backend.put("v0/counter.txt", "3", { mode: ifRevision(first.revision) }), "PRECONDITION_FAILED", "stale");
    await rejectsWithCode(backend.put("v0/counter.txt", "4", { mode: CREATE_ONLY }), "ALREADY_EXISTS", "create");
    await backend.copy("v0/counter.txt", "v0/copy.txt");
    await backend.putStream("v0/streamed.txt", Readable.from([Buffer.from("s")]));
    await backend.delete("v0/copy.txt");
    assert.deepEqual(await filesOnDisk(root), ["v0/counter.txt", "v0/streamed.txt"]);
  });

  it("a body failing midway keeps the old content and leaves no temp file", async () => {
    const root = await freshRoot();
    const backend = new LocalBackend({ root });
    await backend.put("ckpt/model.bin", "old weights");
    const failure = new Error("upstream connection reset");
    async function* breaking(): AsyncGenerator<Uint8Array> {
      yield Buffer.alloc(2 * 1024 * 1024, 1);
      throw failure;
    }
    await assert.rejects(backend.putStream("ckpt/model.bin", breaking()), (error: unknown) => isOpenCrateError(error, "INVALID_ARGUMENT") && error.cause === failure);
    await assert.rejects(backend.putStream("ckpt/new.bin", breaking(), { mode: CREATE_ONLY }), (error: unknown) => isOpenCrateError(error, "INVALID_ARGUMENT") && error.cause === failure);
    await assert.rejects(backend.putStream("fresh/folders/new.bin", breaking()), (error: unknown) => isOpenCrateError(error, "INVALID_ARGUMENT") && error.cause === failure);
    assert.equal(await readText(backend, "ckpt/model.bin"), "old weights");
    assert.deepEqual(await filesOnDisk(root), ["ckpt/model.bin"]);
    assert.deepEqual(await readdir(root), ["ckpt"], "folders made for the failed write are gone");
  });

  it("gives every rewrite a new revision, even at the same size within one clock tick", async () => {
    const backend = new LocalBackend({ root: await freshRoot() });
    const revisions = new Set<string>();
    for (let round = 0; round < 200; round++) {
      revisions.add((await backend.put("tick.txt", String(round % 10))).revision);
    }
    assert.equal(revisions.size, 200);
  });

  it("refuses to mix a file and a folder at one name", async () => {
    const root = await freshRoot();
    const backend = new LocalBackend({ root });
    await backend.put("a/file.txt", "f");
    await backend.put("a/folder/inner.txt", "i");
    const underFile = await rejectsWithCode(backend.put("a/file.txt/inner.txt", "x"), "INVALID_ARGUMENT", "under a file");
    assert.ok(underFile.message.includes("a/file.txt/inner.txt"), underFile.message);
    await rejectsWithCode(backend.get("a/file.txt/inner.txt"), "NOT_FOUND", "read under a file");
    const onFolder = await rejectsWithCode(backend.put("a/folder", "x"), "INVALID_ARGUMENT", "onto a folder");
    assert.match(onFolder.message, /folder/);
    await rejectsWithCode(backend.put("a/folder", "x", { mode: CREATE_ONLY }), "INVALID_ARGUMENT", "create onto a folder");
    await rejectsWithCode(backend.get("a/folder"), "NOT_FOUND", "read a folder");
    await rejectsWithCode(backend.head("a/folder"), "NOT_FOUND", "head a folder");
    await backend.delete("a/folder");
    assert.deepEqual(await listKeys(backend, ""), ["a/file.txt", "a/folder/inner.txt"]);
  });

  it("fails a listing by the folder and the name of a file whose name is not UTF-8, instead of leaving it out", async () => {
    const root = await freshRoot();
    const backend = new LocalBackend({ root });
    await backend.put("texts/ok.txt", "ok");
    await mkdir(join(root, "only"));
    const bad = Buffer.concat([Buffer.from(`${root}/texts/bad`), Buffer.from([0xff, 0xfe]), Buffer.from(".txt")]);
    await writeFile(bad, "bad");
    await writeFile(Buffer.concat([Buffer.from(`${root}/only/`), Buffer.from([0xe9])]), "latin-1");
    for (const [what, call] of [
      ["list under the folder", () => collect(backend.list("texts/"))],
      ["listPage", () => backend.listPage("texts/")],
    ] as const) {
      const error = await rejectsWithCode(call(), "CORRUPT_DATA", what);
      assert.ok(error.message.includes(String.raw`"bad\xff\xfe.txt"`), error.message);
      assert.ok(error.message.includes(backend.describe("texts")), error.message);
    }
    await rejectsWithCode(collect(backend.list("")), "CORRUPT_DATA", "list of the root");
    // A folder holding only such a file is still a folder: listing it then fails by that name.
    assert.deepEqual((await backend.listPage("")).prefixes, ["only/", "texts/"]);
    const error = await rejectsWithCode(backend.listPage("only/"), "CORRUPT_DATA", "listPage of the folder");
    assert.ok(error.message.includes(String.raw`"\xe9"`), error.message);
  });

  it("leaves a name that is not UTF-8 out of a listing asked to skip it, warning once per name", async () => {
    const root = await freshRoot();
    const backend = new LocalBackend({ root });
    await backend.put("texts/ok.txt", "ok");
    await backend.put("texts/deeper/ok.txt", "ok");
    await writeFile(Buffer.concat([Buffer.from(`${root}/texts/bad`), Buffer.from([0xff]), Buffer.from(".txt")]), "bad");
    await writeFile(Buffer.concat([Buffer.from(`${root}/texts/deeper/bad`), Buffer.from([0xfe])]), "bad");
    const messages = await warningsDuring(async () => {
      for (let round = 0; round < 2; round++) {
        const keys = (await collect(backend.list("texts/", { notUtf8: "skip" }))).map((info) => info.key);
        assert.deepEqual(keys, ["texts/deeper/ok.txt", "texts/ok.txt"]);
        const page = await backend.listPage("texts/", { notUtf8: "skip" });
        assert.deepEqual([page.objects.map((info) => info.key), page.prefixes], [["texts/ok.txt"], ["texts/deeper/"]]);
      }
    });
    assert.equal(messages.length, 2, messages.join("\n"));
    assert.ok(messages[0]?.includes(String.raw`"bad\xff.txt" in ${backend.describe("texts")}`), messages[0]);
    assert.ok(messages[1]?.includes(String.raw`"bad\xfe" in ${backend.describe("texts/deeper")}`), messages[1]);
    // "fail", the default, still fails.
    await rejectsWithCode(backend.listPage("texts/", { notUtf8: "fail" }), "CORRUPT_DATA", "listPage asked to fail");
  });

  describe("compare-and-swap lock", () => {
    async function lockedCounter(): Promise<{ backend: LocalBackend; lock: string; revision: string }> {
      const root = await freshRoot();
      const backend = new LocalBackend({ root });
      const { revision } = await backend.put("v0/counter.txt", "1");
      return { backend, lock: lockPathsFor(join(root, "v0", "counter.txt")).lock, revision };
    }

    it("keeps compare-and-swap exact across processes", async () => {
      const { backend } = await lockedCounter();
      await backend.put("v0/counter.txt", "0");
      const worker = new URL("./local-counter-worker.ts", import.meta.url).pathname;
      const processes = 4;
      const increments = 15;
      await Promise.all(
        Array.from({ length: processes }, () =>
          promisify(execFile)(process.execPath, [worker, backend.rootPath, "v0/counter.txt", String(increments)], {
            timeout: 120_000,
          }),
        ),
      );
      assert.equal(await readText(backend, "v0/counter.txt"), String(processes * increments));
      assert.deepEqual(await filesOnDisk(backend.rootPath), ["v0/counter.txt"], "no lock or temp file left");
    });

    it("creates locks on a file system without hard links (link() refused), and compare-and-swap stays exact", async () => {
      const { backend, revision } = await lockedCounter();
      const fsPromises = createRequire(import.meta.url)("node:fs/promises") as { link: typeof link };
      const realLink = fsPromises.link;
      fsPromises.link = async () => {
        throw Object.assign(new Error("EPERM: operation not permitted, link"), { code: "EPERM" });
      };
      syncBuiltinESMExports();
      try {
        await backend.put("v0/counter.txt", "2", { mode: ifRevision(revision) });
        await rejectsWithCode(backend.put("v0/counter.txt", "3", { mode: ifRevision(revision) }), "PRECONDITION_FAILED", "stale revision");
      } finally {
        fsPromises.link = realLink;
        syncBuiltinESMExports();
      }
      assert.equal(await readText(backend, "v0/counter.txt"), "2");
      assert.deepEqual(await filesOnDisk(backend.rootPath), ["v0/counter.txt"], "no lock or temp file left");
    });

    it("takes over a lock older than the stale age", async () => {
      const { backend, lock, revision } = await lockedCounter();
      await writeFile(lock, JSON.stringify({ host: "another-host", pid: 1, token: "theirs", createdAt: "" }));
      const longAgo = new Date(Date.now() - 60_000);
      await utimes(lock, longAgo, longAgo);
      await backend.put("v0/counter.txt", "2", { mode: ifRevision(revision) });
      assert.equal(await readText(backend, "v0/counter.txt"), "2");
      assert.deepEqual(await collect(backend.list("")).then((infos) => infos.length), 1);
      await assert.rejects(readdir(lock));
    });

    it("takes over a fresh lock whose holder on this host has exited", async () => {
      const { backend, lock, revision } = await lockedCounter();
      const child = await promisify(execFile)(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]);
      const exitedPid = Number(child.stdout);
      await writeFile(lock, JSON.stringify({ host: hostname(), pid: exitedPid, token: "dead", createdAt: "" }));
      await backend.put("v0/counter.txt", "2", { mode: ifRevision(revision) });
      assert.equal(await readText(backend, "v0/counter.txt"), "2");
    });

    /**
     * Runs a compare-and-swap write past the lock at `lock` on a manual clock: "took over" when it completed
     * without ever waiting (and which way the lock was judged stale), "waited" when it went to sleep on a lock wait
     * (the lock is then removed and the write let through).
     */
    async function writePastLock(backend: LocalBackend, lock: string, revision: string): Promise<{ outcome: "took over" | "waited"; verdicts: LockVerdict[] }> {
      const verdicts: LockVerdict[] = [];
      const stopWatching = watchStaleLocks((verdict, path) => {
        if (path === lock) verdicts.push(verdict);
      });
      const time = new ManualClock();
      const restoreClock = useClock(time);
      try {
        const writing = backend.put("v0/counter.txt", "2", { mode: ifRevision(revision) });
        const first = await Promise.race([writing.then(() => "took over" as const), time.nextTimer().then(() => "waited" as const)]);
        if (first === "waited") {
          await rm(lock, { force: true });
          time.advance(PAST_ANY_LOCK_BACKOFF_MS);
          await writing;
        }
        assert.equal(await readText(backend, "v0/counter.txt"), "2");
        return { outcome: first, verdicts };
      } finally {
        restoreClock();
        stopWatching();
      }
    }

    function lockOf(identity: ProcessIdentity, pid = process.pid): string {
      return JSON.stringify({ host: hostname(), pid, space: identity.space, started: identity.start, token: "theirs", createdAt: "" });
    }

    it("takes over an empty lock file (its creator was killed before writing its owner) once past a short grace", async () => {
      const { backend, lock, revision } = await lockedCounter();
      await writeFile(lock, "");
      const past = new Date(Date.now() - LOCK_EMPTY_GRACE_MS - 2_000);
      await utimes(lock, past, past);
      assert.deepEqual(await writePastLock(backend, lock, revision), { outcome: "took over", verdicts: ["ownerless"] });
      assert.deepEqual(await filesOnDisk(backend.rootPath), ["v0/counter.txt"]);
    });

    it("judges a lock it cannot read (another user's) by its age only, not as ownerless", async () => {
      const { backend, lock, revision } = await lockedCounter();
      await writeFile(lock, JSON.stringify({ host: hostname(), pid: process.pid, token: "theirs", createdAt: "" }));
      const past = new Date(Date.now() - LOCK_EMPTY_GRACE_MS - 2_000);
      await utimes(lock, past, past);
      const fsPromises = createRequire(import.meta.url)("node:fs/promises") as { readFile: typeof readFile };
      const realReadFile = fsPromises.readFile;
      fsPromises.readFile = (async (...args: Parameters<typeof readFile>) => {
        if (args[0] === lock) throw Object.assign(new Error(`EACCES: permission denied, open '${lock}'`), { code: "EACCES" });
        return realReadFile(...args);
      }) as typeof readFile;
      syncBuiltinESMExports();
      try {
        assert.deepEqual(await writePastLock(backend, lock, revision), { outcome: "waited", verdicts: [] });
      } finally {
        fsPromises.readFile = realReadFile;
        syncBuiltinESMExports();
      }
    });

    it("waits for an empty lock file younger than the grace (its creator may be writing its owner)", async () => {
      const { backend, lock, revision } = await lockedCounter();
      await writeFile(lock, "");
      assert.deepEqual(await writePastLock(backend, lock, revision), { outcome: "waited", verdicts: [] });
    });

    it("takes over an empty breaker file left by a killed process", async () => {
      const { backend, lock, revision } = await lockedCounter();
      const { breaker } = lockPathsFor(join(backend.rootPath, "v0", "counter.txt"));
      await writeFile(lock, JSON.stringify({ host: "another-host", pid: 1, token: "theirs", createdAt: "" }));
      const longAgo = new Date(Date.now() - 60_000);
      await utimes(lock, longAgo, longAgo);
      await writeFile(breaker, "");
      const past = new Date(Date.now() - LOCK_EMPTY_GRACE_MS - 2_000);
      await utimes(breaker, past, past);
      assert.equal((await writePastLock(backend, lock, revision)).outcome, "took over");
      assert.deepEqual(await filesOnDisk(backend.rootPath), ["v0/counter.txt"]);
    });

    it("takes over a lock naming this process's pid but another start (a restarted container reusing its pid)", async () => {
      const { backend, lock, revision } = await lockedCounter();
      const ours = thisProcess();
      await writeFile(lock, lockOf({ space: ours.space, start: `${ours.start}0` }));
      assert.deepEqual(await writePastLock(backend, lock, revision), { outcome: "took over", verdicts: ["pid-reused"] });
    });

    it("waits for a lock taken by a thread of this process (same pid, same start)", async () => {
      const { backend, lock, revision } = await lockedCounter();
      const moduleUrl = new URL("../../src/backends/process-identity.ts", import.meta.url).href;
      const worker = new Worker(`import(${JSON.stringify(moduleUrl)}).then((m) => require("node:worker_threads").parentPort.postMessage(m.thisProcess()));`, { eval: true });
      const fromThread = await new Promise<ProcessIdentity>((resolve, reject) => {
        worker.once("message", resolve);
        worker.once("error", reject);
      });
      await worker.terminate();
      assert.deepEqual(fromThread, thisProcess(), "every thread of a process has its identity");
      await writeFile(lock, lockOf(fromThread));
      assert.deepEqual(await writePastLock(backend, lock, revision), { outcome: "waited", verdicts: [] });
    });

    it("waits for a lock naming this pid in another pid namespace (its pid names another process)", async (context) => {
      const ours = thisProcess();
      if (ours.space === undefined) return context.skip("no pid namespaces here");
      const { backend, lock, revision } = await lockedCounter();
      await writeFile(lock, lockOf({ space: `${ours.space}-elsewhere`, start: `${ours.start}0` }));
      assert.deepEqual(await writePastLock(backend, lock, revision), { outcome: "waited", verdicts: [] });
    });

    it("takes over a lock whose pid now belongs to another process of this host", async (context) => {
      const ours = thisProcess();
      if (ours.space === undefined) return context.skip("process start times are read from /proc on Linux only");
      const { backend, lock, revision } = await lockedCounter();
      // The parent process runs, but started at another time than the owner the lock names.
      await writeFile(lock, lockOf({ space: ours.space, start: "linux:1" }, process.ppid));
      assert.deepEqual(await writePastLock(backend, lock, revision), { outcome: "took over", verdicts: ["pid-reused"] });
    });

    it("waits for a lock held by a live process of this host", async () => {
      const { backend, lock, revision } = await lockedCounter();
      const ours = thisProcess();
      const parentStart = startOfPid(process.ppid) ?? ours.start;
      await writeFile(lock, lockOf({ space: ours.space, start: parentStart }, process.ppid));
      assert.deepEqual(await writePastLock(backend, lock, revision), { outcome: "waited", verdicts: [] });
    });

    it("waits for a live holder's lock, then compares against the state it left", async () => {
      const { backend, lock, revision } = await lockedCounter();
      await writeFile(lock, JSON.stringify({ host: hostname(), pid: process.pid, token: "a live holder", createdAt: "" }));
      const time = new ManualClock();
      const restoreClock = useClock(time);
      try {
        let settled = false;
        const waiting = backend.put("v0/counter.txt", "from the waiter", { mode: ifRevision(revision) }).finally(() => {
          settled = true;
        });
        waiting.catch(() => {});
        try {
          // Each round the waiter finds the lock held and sleeps on the clock; the last round leaves it asleep.
          for (let round = 1; round <= 5; round++) {
            await time.nextTimer();
            assert.equal(settled, false, `the write waits while the lock is held (round ${round})`);
            if (round < 5) time.advance(PAST_ANY_LOCK_BACKOFF_MS);
          }
          // The holder commits its own swap, then releases: the waiter's revision is now stale.
          await new LocalBackend({ root: backend.rootPath }).put("v0/counter.txt", "from the holder");
        } finally {
          await rm(lock, { force: true });
        }
        time.advance(PAST_ANY_LOCK_BACKOFF_MS);
        await rejectsWithCode(waiting, "PRECONDITION_FAILED", "the waiter");
        assert.equal(await readText(backend, "v0/counter.txt"), "from the holder");
      } finally {
        restoreClock();
      }
    });

  });

  it("maps a real permission refusal to PERMISSION_DENIED naming the path", async () => {
    const root = await freshRoot();
    await chmod(root, 0o755);
    await writeFile(join(root, "secret.txt"), "secret", { mode: 0o600 });
    await mkdir(join(root, "locked"));
    await writeFile(join(root, "locked", "kept.txt"), "kept");
    await chmod(join(root, "locked"), 0o555);
    await mkdir(join(root, "sealed"));
    await writeFile(join(root, "sealed", "inside.txt"), "inside");
    await chmod(join(root, "sealed"), 0o000);
    let result: ProbeResult;
    if (process.getuid?.() === 0) {
      // Root ignores permissions: probe as `nobody` in a child process instead.
      const probe = new URL("./local-permission-probe.ts", import.meta.url).pathname;
      const child = await promisify(execFile)(process.execPath, [probe, root], {
        uid: 65534,
        gid: 65534,
        timeout: 60_000,
      });
      result = JSON.parse(child.stdout) as ProbeResult;
    } else {
      result = await probePermissions(root);
    }
    await chmod(join(root, "sealed"), 0o755);
    await chmod(join(root, "locked"), 0o755);
    const denied = "PERMISSION_DENIED";
    assert.deepEqual(result, { read: denied, stream: denied, write: denied, delete: denied, list: denied, listParent: "ok" });
  });
});
