/**
 * A read-only mount: Node's recursive mkdir reports ENOENT there, not EROFS. A pull into it, a dev run rooted on it
 * and a download into it say the file system is read-only (PERMISSION_DENIED), not that a folder disappeared.
 * Needs root (a bind mount remounted read-only); skipped, saying so, where mounting is not possible.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { isOpenCrateError, Snapshot } from "../../src/index.ts";
import { makeRoot, removeDir, runCli, tempDir } from "./helpers.ts";

/** Mounts `source` read-only at `target`; the reason it cannot, or undefined once mounted. */
function mountReadOnly(source: string, target: string): string | undefined {
  if (process.platform !== "linux" || process.getuid?.() !== 0) return "needs root on Linux to make a read-only bind mount";
  try {
    execFileSync("mount", ["--bind", source, target], { stdio: "pipe" });
  } catch (error) {
    return `mount --bind is not available here: ${(error as Error).message.split("\n")[0] ?? ""}`;
  }
  try {
    execFileSync("mount", ["-o", "remount,bind,ro", target], { stdio: "pipe" });
    return undefined;
  } catch (error) {
    execFileSync("umount", [target], { stdio: "pipe" });
    return `remounting read-only is not possible here: ${(error as Error).message.split("\n")[0] ?? ""}`;
  }
}

describe("a read-only mount", () => {
  let dir = "";
  let ro = "";
  let unavailable: string | undefined;
  before(async () => {
    dir = await tempDir("read-only-mount");
    await makeRoot(join(dir, "root"));
    await mkdir(join(dir, "source"));
    ro = join(dir, "ro");
    await mkdir(ro);
    unavailable = mountReadOnly(join(dir, "source"), ro);
  });
  after(async () => {
    if (unavailable === undefined) execFileSync("umount", [ro], { stdio: "pipe" });
    await removeDir(dir);
  });

  it("pull into a new folder there: PERMISSION_DENIED, the file system is read-only", async (t) => {
    if (unavailable !== undefined) return t.skip(unavailable);
    const dest = join(ro, "a", "b");
    const result = await runCli(["pull", `${join(dir, "root")}/train/v1`, dest]);
    assert.equal(result.stderr, `opencrate: Cannot pull into ${dest}: the file system is read-only (EROFS).\n`);
    assert.equal(result.code, 1);
  });

  it('setup({ start: "dev" }) rooted there: PERMISSION_DENIED, not a folder that disappeared', async (t) => {
    if (unavailable !== undefined) return t.skip(unavailable);
    await assert.rejects(Snapshot.setup({ root: ro, name: "big", start: "dev", console: false }), (error: unknown) => {
      assert.ok(isOpenCrateError(error, "PERMISSION_DENIED"), String(error));
      assert.match((error as Error).message, /read-only \(EROFS\)/);
      assert.ok((error as Error).message.includes(join(ro, "big")), (error as Error).message);
      return true;
    });
  });

  it("downloadTo a file in a new folder there: PERMISSION_DENIED naming the file", async (t) => {
    if (unavailable !== undefined) return t.skip(unavailable);
    const snapshot = await Snapshot.open(`${join(dir, "root")}/train/v1`);
    const target = join(ro, "models", "model.bin");
    await assert.rejects(snapshot.checkpoint("model.bin").downloadTo(target), (error: unknown) => {
      assert.ok(isOpenCrateError(error, "PERMISSION_DENIED"), String(error));
      assert.equal((error as Error).message, `Cannot write ${target}: the file system is read-only (EROFS).`);
      return true;
    });
  });
});
