/**
 * Python OpenCrate's counter file under races, forced with hooks on the file system calls: Python rewriting the
 * file while we edit it, and two of our processes breaking one stale lock at once.
 */
import assert from "node:assert/strict";
import { mkdir, readFile, utimes, writeFile } from "node:fs/promises";
import { statSync } from "node:fs";
import { createRequire, syncBuiltinESMExports } from "node:module";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, it } from "node:test";
import { raisePythonCounter } from "../../src/snapshot/python-counter.ts";
import { removeDir, tempDir } from "../cli/helpers.ts";

type FsPromises = Record<"chmod" | "stat" | "rename" | "writeFile", (...args: unknown[]) => Promise<unknown>>;
const fsPromises = createRequire(import.meta.url)("node:fs/promises") as FsPromises;

/** Runs `body` with `fsPromises[name]` replaced by `hook` (which gets the real function). */
async function withHook<T>(name: keyof FsPromises, hook: (real: FsPromises[typeof name], args: unknown[]) => Promise<unknown>, body: () => Promise<T>): Promise<T> {
  const real = fsPromises[name];
  fsPromises[name] = (...args: unknown[]) => hook(real, args);
  syncBuiltinESMExports();
  try {
    return await body();
  } finally {
    fsPromises[name] = real;
    syncBuiltinESMExports();
  }
}

describe("Python OpenCrate's counter under races", () => {
  let dir: string;
  let config: string;
  before(async () => {
    dir = await tempDir("python-counter-races");
    await mkdir(join(dir, ".opencrate"));
    config = join(dir, ".opencrate", "config.json");
  });
  after(() => removeDir(dir));

  const counters = async (): Promise<unknown> => (JSON.parse(await readFile(config, "utf8")) as { snapshot_version: unknown }).snapshot_version;

  it("a Python rewrite landing between our read and our rename is kept: the edit starts over from it", async () => {
    await writeFile(config, JSON.stringify({ project_name: "p", snapshot_version: { b: 3 } }, null, 4));
    let pythonWrote = false;
    await withHook(
      "chmod",
      async (real, args) => {
        if (!pythonWrote) {
          pythonWrote = true;
          // What Python's setup(name="b", start="new") does meanwhile: the counter + 1, written in place, no lock.
          await writeFile(config, JSON.stringify({ project_name: "p", snapshot_version: { b: 4 } }, null, 4));
        }
        return real(...args);
      },
      () => raisePythonCounter(config, "a", 0),
    );
    assert.ok(pythonWrote);
    assert.deepEqual(await counters(), { b: 4, a: 0 });
  });

  it("two of our processes that both find one lock stale never both hold it", async () => {
    await writeFile(config, "{}");
    const lock = `${config}.lock`;
    await writeFile(lock, "");
    const old = new Date(Date.now() - 600_000);
    await utimes(lock, old, old);
    // Taken over: the file there now is younger (its inode number may be the freed one's).
    const takenOver = (): boolean => (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? 0) > old.getTime() + 60_000;

    // The first look at the lock sees it stale and is answered only once the other raise has taken it over.
    let firstLook = true;
    const lookLate = async (real: FsPromises["stat"], args: unknown[]): Promise<unknown> => {
      if (args[0] !== lock || !firstLook) return real(...args);
      firstLook = false;
      const seen = await real(...args);
      for (let waited = 0; waited < 5_000 && !takenOver(); waited += 5) await sleep(5);
      return seen;
    };
    // The first raise to write its edit waits there, holding the lock, to see whether the other one gets in too.
    let holding = 0;
    let bothHeld = false;
    let firstEdit = true;
    const staged = (args: unknown[]): boolean => typeof args[0] === "string" && args[0].endsWith(".tmp") && args[0].includes(".config.json.");
    const holdFirst = async (real: FsPromises["writeFile"], args: unknown[]): Promise<unknown> => {
      if (!staged(args)) return real(...args);
      holding++;
      if (holding > 1) bothHeld = true;
      if (firstEdit) {
        firstEdit = false;
        for (let waited = 0; waited < 500 && !bothHeld; waited += 5) await sleep(5);
      }
      return real(...args);
    };
    const leaving = async (real: FsPromises["rename"], args: unknown[]): Promise<unknown> => {
      const result = await real(...args);
      if (args[1] === config) holding--;
      return result;
    };
    await withHook("stat", lookLate, () =>
      withHook("writeFile", holdFirst, () =>
        withHook("rename", leaving, () => Promise.all([raisePythonCounter(config, "first", 1), raisePythonCounter(config, "second", 2)])),
      ),
    );
    assert.equal(firstLook, false, "a raise looked at the stale lock");
    assert.equal(bothHeld, false, "both raises held the lock at once");
    assert.deepEqual(await counters(), { first: 1, second: 2 });
  });
});
