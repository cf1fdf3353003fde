/**
 * Symbolic links inside a local root are followed by listings as reads and writes follow them: a version folder
 * that is a link takes its number, a linked "dev" folder is resumed, and a link that leads nowhere or into a
 * folder it lies in fails by its name instead of being left out.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { LocalBackend } from "../../src/backends/local/index.ts";
import { backendFromUri, Snapshot } from "../../src/index.ts";
import { expectCode } from "../support/assertions.ts";

const OLD_LOG = "2025-11-16 11:44:43 - INFO     old run\n";

/** A run folder moved out of the root, as `mv` leaves it: a log and one JSON artifact. */
async function movedRun(folder: string): Promise<void> {
  await mkdir(join(folder, "jsons"), { recursive: true });
  await writeFile(join(folder, "train.log"), OLD_LOG);
  await writeFile(join(folder, "jsons", "metrics.json"), '{"who":"old run v1"}');
}

describe("symbolic links in a local root", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "oc-links-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('"new" never takes the number of a version folder that is a link, and leaves the linked run as it was', async () => {
    const root = join(dir, "numbers");
    const first = await Snapshot.setup({ name: "train", root, start: "new", console: false });
    assert.equal(first.version, 0);
    await first.close();
    const moved = join(dir, "moved-v1");
    await movedRun(moved);
    await symlink(moved, join(root, "train", "v1"));

    const second = await Snapshot.setup({ name: "train", root, start: "new", console: false });
    assert.equal(second.version, 2);
    await second.json("metrics.json").save({ who: "new run" });
    await second.close();
    assert.equal(await readFile(join(moved, "train.log"), "utf8"), OLD_LOG);
    assert.equal(await readFile(join(moved, "jsons", "metrics.json"), "utf8"), '{"who":"old run v1"}');

    const opened = await Snapshot.open(`${root}/train@1`);
    assert.deepEqual(await opened.json("metrics.json").load(), { who: "old run v1" });
  });

  it('a "dev" folder that is a link, or whose files are links, is resumed: its log is kept in the history', async () => {
    const root = join(dir, "dev");
    const moved = join(dir, "moved-dev");
    const movedLog = join(dir, "moved-dev-files");
    await movedRun(moved);
    await movedRun(movedLog);
    await mkdir(join(root, "train", "dev:files"), { recursive: true });
    await symlink(moved, join(root, "train", "dev"));
    await symlink(join(movedLog, "train.log"), join(root, "train", "dev:files", "train.log"));

    for (const [tag, history] of [[undefined, join(moved, "train.history.log")], ["files", join(root, "train", "dev:files", "train.history.log")]] as const) {
      const run = await Snapshot.setup({ name: "train", root, start: "dev", console: false, ...(tag === undefined ? {} : { tag }) });
      const folder = run.versionName;
      run.info(`new run of ${folder}`);
      await run.close();
      const text = await readFile(history, "utf8");
      assert.ok(text.startsWith(OLD_LOG), text);
      assert.match(text, new RegExp(`new run of ${folder}\n$`));
    }
  });

  it("a link that leads nowhere fails setup and listing with CORRUPT_DATA naming it; nothing is written through it", async () => {
    const root = join(dir, "dangling");
    const first = await Snapshot.setup({ name: "train", root, start: "new", console: false });
    await first.close();
    const gone = join(dir, "gone-v1");
    await symlink(gone, join(root, "train", "v1"));

    const error = await expectCode(Snapshot.setup({ name: "train", root, start: "new", console: false }), "CORRUPT_DATA");
    assert.equal(error.path, `${root}/train/v1`);
    assert.match(error.message, /train\/v1/);
    const backend = new LocalBackend({ root });
    await expectCode(async () => {
      for await (const info of backend.list("train/")) void info;
    }, "CORRUPT_DATA");
    await assert.rejects(readFile(join(gone, "train.log")), { code: "ENOENT" });
  });

  it("a link into a folder it lies in fails the listing with CORRUPT_DATA naming it, instead of walking forever", async () => {
    const root = join(dir, "loop");
    const run = await Snapshot.setup({ name: "train", root, start: "new", console: false });
    await run.text("notes.txt").save("notes");
    await run.close();
    await symlink(join(root, "train"), join(root, "train", "v0", "texts", "up"));

    const backend = new LocalBackend({ root });
    const error = await expectCode(async () => {
      for await (const info of backend.list("train/v0/")) void info;
    }, "CORRUPT_DATA");
    assert.match(error.message, /train\/v0\/texts\/up/);
  });

  it("nothing is deleted through a link: replace and delete fail PERMISSION_DENIED naming the file", async () => {
    const root = join(dir, "no-delete-through");
    const run = await Snapshot.setup({ name: "train", root, start: "new", console: false });
    await run.text("notes.txt").save("notes");
    await run.close();
    const dataset = join(dir, "dataset");
    await mkdir(dataset);
    await writeFile(join(dataset, "images.bin"), "precious");
    await symlink(dataset, join(root, "train", "v0", "data"));

    const backend = new LocalBackend({ root });
    const error = await expectCode(backend.delete("train/v0/data/images.bin"), "PERMISSION_DENIED");
    assert.equal(error.path, `${root}/train/v0/data/images.bin`);
    assert.match(error.message, /deletes nothing through a link/);

    const logBefore = await readFile(join(root, "train", "v0", "train.log"), "utf8");
    await expectCode(Snapshot.setup({ name: "train", root, start: 0, replace: true, console: false }), "PERMISSION_DENIED");
    assert.equal(await readFile(join(dataset, "images.bin"), "utf8"), "precious");
    // Refused before anything was written or deleted: the run's own log and files are as they were.
    assert.equal(await readFile(join(root, "train", "v0", "train.log"), "utf8"), logBefore);
    assert.equal(await readFile(join(root, "train", "v0", "texts", "notes.txt"), "utf8"), "notes");

    // A key that is itself a link removes the link, never what it leads to.
    await writeFile(join(dataset, "labels.txt"), "labels");
    await symlink(join(dataset, "labels.txt"), join(root, "train", "v0", "labels.txt"));
    await backend.delete("train/v0/labels.txt");
    assert.equal(await readFile(join(dataset, "labels.txt"), "utf8"), "labels");
    await assert.rejects(readFile(join(root, "train", "v0", "labels.txt")), { code: "ENOENT" });
  });

  it("replace of a v<N> or dev folder that is itself a link fails PERMISSION_DENIED before writing through it", async () => {
    const root = join(dir, "linked-version-replace");
    const first = await Snapshot.setup({ name: "train", root, start: "new", console: false });
    await first.close();
    for (const [folder, start] of [["v1", 1], ["dev", "dev"]] as const) {
      const moved = join(dir, `moved-${folder}-replaced`);
      await movedRun(moved);
      await symlink(moved, join(root, "train", folder));

      const error = await expectCode(Snapshot.setup({ name: "train", root, start, replace: true, console: false }), "PERMISSION_DENIED");
      assert.match(error.message, new RegExp(`train/${folder} on its path is a symbolic link`));
      assert.equal(await readFile(join(moved, "train.log"), "utf8"), OLD_LOG);
      assert.deepEqual((await readdir(moved)).sort(), ["jsons", "train.log"]);
      assert.equal(await readFile(join(moved, "jsons", "metrics.json"), "utf8"), '{"who":"old run v1"}');
    }
  });

  it("reset with a version folder that is a link fails PERMISSION_DENIED before deleting any version", async () => {
    const root = join(dir, "linked-version-reset");
    const run = await Snapshot.setup({ name: "train", root, start: "new", console: false });
    await run.text("notes.txt").save("v0 notes");
    await run.close();
    const moved = join(dir, "moved-v1-reset");
    await movedRun(moved);
    await symlink(moved, join(root, "train", "v1"));

    const resetting = await Snapshot.setup({ name: "train", root, start: 0, console: false });
    await expectCode(resetting.reset({ confirm: true }), "PERMISSION_DENIED");
    // Deletes sent beside a refused one would still be landing: give them time to, so that any would be seen.
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(await readFile(join(root, "train", "v0", "texts", "notes.txt"), "utf8"), "v0 notes");
    assert.equal(await readFile(join(moved, "train.log"), "utf8"), OLD_LOG);
  });

  it("LocalBackend.checkDeletable refuses a folder reached through a link, or holding one, and changes nothing", async () => {
    const root = join(dir, "check-deletable");
    const backend = new LocalBackend({ root });
    await backend.put("n/v0/a.txt", "a");
    await backend.put("n/v0/deep/b.txt", "b");
    await backend.checkDeletable("n/v0/");
    await backend.checkDeletable("n/missing/");
    const outside = join(dir, "check-deletable-outside");
    await mkdir(outside);
    await writeFile(join(outside, "c.txt"), "c");
    await symlink(outside, join(root, "n", "v0", "deep", "linked"));
    const inside = await expectCode(backend.checkDeletable("n/v0/"), "PERMISSION_DENIED");
    assert.equal(inside.path, `${root}/n/v0/deep/linked/c.txt`);
    await symlink(join(root, "n", "v0"), join(root, "n", "v1"));
    const whole = await expectCode(backend.checkDeletable("n/v1/"), "PERMISSION_DENIED");
    assert.match(whole.message, /n\/v1 on its path is a symbolic link/);
    // Behind the checking layer every backend from a URI has, a prefix that is not a folder is refused first.
    const checked = backendFromUri(root);
    assert.ok(checked.checkDeletable !== undefined);
    await expectCode(checked.checkDeletable("n/v0"), "INVALID_ARGUMENT");
    await expectCode(checked.checkDeletable("n/v1/"), "PERMISSION_DENIED");
    assert.deepEqual((await readdir(join(root, "n", "v0"))).sort(), ["a.txt", "deep"]);
    assert.equal(await readFile(join(outside, "c.txt"), "utf8"), "c");
  });

  it("a link to another version inside the root: replace fails PERMISSION_DENIED and that version keeps its files", async () => {
    const root = join(dir, "inside-link");
    const v0 = await Snapshot.setup({ name: "t", root, console: false });
    await v0.json("data/keep.json").save({ keep: true });
    await v0.close();
    const v1 = await Snapshot.setup({ name: "t", root, console: false });
    await v1.close();
    await mkdir(join(root, "t", "v1", "jsons"), { recursive: true });
    await symlink(join("..", "..", "v0", "jsons", "data"), join(root, "t", "v1", "jsons", "data"));

    await expectCode(Snapshot.setup({ name: "t", root, start: 1, replace: true, console: false }), "PERMISSION_DENIED");
    assert.equal(await readFile(join(root, "t", "v0", "jsons", "data", "keep.json"), "utf8"), '{"keep":true}\n');

    // With a run id, the failed emptying leaves no replace record behind, so the run can be started again at once
    // (the other ranks, waiting on the record, stop waiting too).
    for (let attempt = 0; attempt < 2; attempt++) {
      await expectCode(Snapshot.setup({ name: "t", root, start: 1, replace: true, runId: "job-r", console: false }), "PERMISSION_DENIED");
      assert.deepEqual(await readdir(join(root, "t", ".opencrate", "replaces")).catch(() => []), []);
    }
    assert.equal(await readFile(join(root, "t", "v0", "jsons", "data", "keep.json"), "utf8"), '{"keep":true}\n');
  });

  it("a link that leads nowhere inside a version does not stop resuming it or listing the name's versions", async () => {
    const root = join(dir, "dangling-inside");
    const run = await Snapshot.setup({ name: "t", root, console: false });
    await run.text("step_200.txt").save("weights");
    await run.close();
    await symlink("step_100.txt", join(root, "t", "v0", "texts", "latest.txt"));

    const resumed = await Snapshot.setup({ name: "t", root, start: "last", console: false });
    assert.equal(resumed.version, 0);
    await resumed.close();
    const again = await Snapshot.setup({ name: "t", root, start: 0, console: false });
    await again.close();
    const backend = new LocalBackend({ root });
    const page = await backend.listPage("t/", {});
    assert.ok(page.prefixes.includes("t/v0/"), JSON.stringify(page));
    // Listing the version's own files names the link.
    const error = await expectCode(async () => {
      for await (const info of backend.list("t/v0/")) void info;
    }, "CORRUPT_DATA");
    assert.match(error.message, /t\/v0\/texts\/latest\.txt/);
  });
});
