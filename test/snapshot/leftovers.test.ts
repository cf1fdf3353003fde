/**
 * Temp files of writes killed before their commit (local disk) are never listed: reset(), replace and version
 * claims remove them, so they neither keep a deleted version's folder on disk nor pile up.
 */
import assert from "node:assert/strict";
import { readFileSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { type link, mkdir, mkdtemp, readdir, rm, symlink, type unlink, utimes, writeFile } from "node:fs/promises";
import { createRequire, syncBuiltinESMExports } from "node:module";
import { hostname, tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { after, describe, it } from "node:test";
import { LocalBackend } from "../../src/backends/local/index.ts";
import { lockPathsFor, type LockPaths } from "../../src/backends/local/paths.ts";
import { UNJUDGED_TEMP_AGE_MS } from "../../src/backends/temp-names.ts";
import { Snapshot } from "../../src/index.ts";

const roots: string[] = [];
async function freshRoot(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), "opencrate-leftovers-"));
  roots.push(root);
  return root;
}

/** Every file under `folder`, relative to it, temp and lock files included. */
async function filesOnDisk(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => relative(folder, join(entry.parentPath, entry.name))).sort();
}

async function plant(path: string, ageMs: number): Promise<void> {
  await writeFile(path, "part of a killed write");
  const then = new Date(Date.now() - ageMs);
  await utimes(path, then, then);
}

/** Older than a temp file whose writer cannot be judged (these names carry none) must be to go. */
const OLD = UNJUDGED_TEMP_AGE_MS + 60_000;

describe("leftovers of killed writes on local disk", () => {
  after(() => Promise.all(roots.splice(0).map((root) => rm(root, { recursive: true, force: true }))));

  it("reset() removes the temp files left in a name's versions, and so their folders", async () => {
    const root = await freshRoot();
    const run = await Snapshot.setup({ name: "t", root, start: "new", console: false });
    await run.json("metrics.json").save({ a: 1 });
    await run.close();
    await plant(join(root, "t", "v0", ".~oc-tmp-killed-save"), OLD);
    await plant(join(root, "t", "v0", "jsons", ".~oc-tmp-killed-json"), OLD);
    await plant(join(root, "t", ".opencrate", "versions", ".~oc-tmp-killed-claim"), OLD);
    await mkdir(join(root, "t", "v1:only-temps"));
    await plant(join(root, "t", "v1:only-temps", ".~oc-tmp-x"), OLD);
    await mkdir(join(root, "t", "notes"));
    await plant(join(root, "t", "notes", ".~oc-tmp-not-a-version"), OLD);

    const resetting = await Snapshot.setup({ name: "t", root, start: "last", console: false });
    await resetting.reset({ confirm: true });
    assert.deepEqual(await filesOnDisk(root), ["t/notes/.~oc-tmp-not-a-version"], "only what is not a version's stays");
    assert.deepEqual(await readdir(join(root, "t")), ["notes"], "the versions' folders are gone");

    const next = await Snapshot.setup({ name: "t", root, start: "new", console: false });
    assert.equal(next.version, 0);
    await next.close();
  });

  it("replace removes temp files not written to for a while, and keeps recent ones (maybe a live write)", async () => {
    const root = await freshRoot();
    const first = await Snapshot.setup({ name: "t", root, start: "new", console: false });
    await first.json("metrics.json").save({ a: 1 });
    await first.close();
    await plant(join(root, "t", "v0", ".~oc-tmp-old"), OLD);
    await plant(join(root, "t", "v0", "jsons", ".~oc-tmp-old"), OLD);
    await plant(join(root, "t", "v0", "jsons", ".~oc-tmp-recent"), 1_000);
    await mkdir(join(root, "t", "v0", "checkpoints"));
    await plant(join(root, "t", "v0", "checkpoints", ".~oc-tmp-old"), OLD);

    const again = await Snapshot.setup({ name: "t", root, start: 0, replace: true, console: false });
    await again.close();
    const left = (await filesOnDisk(join(root, "t", "v0"))).filter((file) => file.includes(".~oc-"));
    assert.deepEqual(left, ["jsons/.~oc-tmp-recent"]);
    assert.deepEqual((await readdir(join(root, "t", "v0"))).includes("checkpoints"), false, "a folder left empty goes");
  });

  it("a new claim removes old temp files of killed claims beside the claims", async () => {
    const root = await freshRoot();
    await (await Snapshot.setup({ name: "t", root, start: "new", console: false })).close();
    const claims = join(root, "t", ".opencrate", "versions");
    await plant(join(claims, ".~oc-tmp-old-claim"), OLD);
    await plant(join(claims, ".~oc-tmp-recent-claim"), 1_000);
    await (await Snapshot.setup({ name: "t", root, start: "new", console: false })).close();
    assert.deepEqual((await readdir(claims)).filter((file) => file.startsWith(".~oc-")), [".~oc-tmp-recent-claim"]);
  });

  it("LocalBackend.removeLeftovers removes stale lock files, keeps fresh ones and other files, follows no link", async () => {
    const root = await freshRoot();
    const outside = await freshRoot();
    const backend = new LocalBackend({ root });
    await backend.put("n/v0/a.txt", "a");
    await plant(join(root, "n", "v0", ".~oc-lock-old"), 60_000);
    await plant(join(root, "n", "v0", ".~oc-break-old"), 60_000);
    await plant(join(root, "n", "v0", ".~oc-lock-fresh"), 0);
    await plant(join(root, "n", "v0", ".~oc-other"), OLD);
    await plant(join(outside, ".~oc-tmp-elsewhere"), OLD);
    await symlink(outside, join(root, "n", "v0", "linked"));
    await backend.removeLeftovers("n/");
    assert.deepEqual(await filesOnDisk(root), ["n/v0/.~oc-lock-fresh", "n/v0/.~oc-other", "n/v0/a.txt"]);
    assert.deepEqual(await readdir(outside), [".~oc-tmp-elsewhere"]);
  });

  /**
   * Another waiter, by lock.ts's protocol: it takes the breaker (exclusively), removes the stale lock if it is still
   * the one it judged, takes a fresh lock of its own and keeps holding it. False when the breaker was held.
   */
  function waiterTakesOver(paths: LockPaths, staleIno: bigint): boolean {
    try {
      writeFileSync(paths.breaker, JSON.stringify({ host: hostname(), pid: process.pid, token: "waiter's breaker", createdAt: "" }), { flag: "wx" });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw error;
    }
    try {
      if (statSync(paths.lock, { bigint: true }).ino !== staleIno) return false;
      unlinkSync(paths.lock);
      writeFileSync(paths.lock, JSON.stringify({ host: hostname(), pid: process.pid, token: "live holder", createdAt: "" }), { flag: "wx" });
      return true;
    } finally {
      unlinkSync(paths.breaker);
    }
  }

  for (const moment of ["before its first change in the folder", "just before it removes the lock"] as const) {
    it(`LocalBackend.removeLeftovers never removes a lock another waiter took in place of a stale one (waiter acts ${moment})`, async () => {
      const root = await freshRoot();
      const backend = new LocalBackend({ root });
      await backend.put("n/.opencrate/versions/hint.json", "{}");
      const paths = lockPathsFor(join(root, "n", ".opencrate", "versions", "hint.json"));
      await plant(paths.lock, 60_000);
      const staleIno = statSync(paths.lock, { bigint: true }).ino;
      const folder = dirname(paths.lock);

      const fsPromises = createRequire(import.meta.url)("node:fs/promises") as { link: typeof link; unlink: typeof unlink; writeFile: typeof writeFile };
      const real = { link: fsPromises.link, unlink: fsPromises.unlink, writeFile: fsPromises.writeFile };
      let waiterActed = false;
      let waiterTook = false;
      const maybeAct = (path: unknown): void => {
        if (waiterActed || typeof path !== "string") return;
        const due = moment === "just before it removes the lock" ? path === paths.lock : dirname(path) === folder;
        if (!due) return;
        waiterActed = true;
        waiterTook = waiterTakesOver(paths, staleIno);
      };
      fsPromises.link = async (existing, path) => {
        maybeAct(path);
        return real.link(existing, path);
      };
      fsPromises.unlink = async (path) => {
        maybeAct(path);
        return real.unlink(path);
      };
      fsPromises.writeFile = async (path, data, options) => {
        maybeAct(path);
        return real.writeFile(path, data, options);
      };
      syncBuiltinESMExports();
      try {
        await backend.removeLeftovers("n/.opencrate/versions/");
      } finally {
        Object.assign(fsPromises, real);
        syncBuiltinESMExports();
      }
      assert.equal(waiterActed, true, "the waiter got its moment");
      if (waiterTook) {
        assert.match(readFileSync(paths.lock, "utf8"), /live holder/, "the live holder's lock is kept");
      } else {
        assert.deepEqual((await readdir(folder)).filter((file) => file.startsWith(".~oc-")), [], "the stale lock went, under the breaker");
      }
    });
  }
});
