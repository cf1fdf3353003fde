/**
 * One rule for a number with several folders (`v1:exp` created by "new", `v1` made by resuming it without the
 * tag): listVersions, `ls`, `@latest` / `@N` (Snapshot.open and the CLI) and `pull` agree. The folder the version
 * was created with comes first, the sibling after it, and `@latest` / `@1` open the sibling.
 */
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Snapshot } from "../../src/index.ts";
import { removeDir, runCli, tempDir } from "./helpers.ts";

describe("sibling folders of one version", () => {
  let root: string;
  before(async () => {
    root = await tempDir("siblings");
    const write = async (start: "new" | number, tag: string | undefined, text: string): Promise<void> => {
      const run = await Snapshot.setup({ name: "train", root, start, ...(tag === undefined ? {} : { tag }), console: false });
      await run.text("which.txt").save(text);
      await run.close();
    };
    await write("new", "base", "v0:base");
    await write("new", "exp", "v1:exp");
    await write(1, undefined, "v1");
  });
  after(() => removeDir(root));

  it("lists the created folder first and the sibling after it, everywhere", async () => {
    const order = ["v0:base", "v1:exp", "v1"];
    const latest = await Snapshot.open(`${root}/train@latest`);
    assert.deepEqual((await latest.listVersions()).map((v) => v.versionName), order);
    const ls = await runCli(["ls", `${root}/train`, "--json"]);
    assert.equal(ls.code, 0, ls.stderr);
    assert.deepEqual((JSON.parse(ls.stdout) as { versions: { versionName: string }[] }).versions.map((v) => v.versionName), order);
  });

  it("@latest and @1 open the sibling; the created folder opens by path or tag", async () => {
    for (const uri of [`${root}/train@latest`, `${root}/train@1`, `${root}/train/v1`]) {
      const opened = await Snapshot.open(uri);
      assert.equal(await opened.text("which.txt").load(), "v1", uri);
    }
    for (const uri of [`${root}/train@exp`, `${root}/train/v1:exp`]) {
      assert.equal(await (await Snapshot.open(uri)).text("which.txt").load(), "v1:exp", uri);
    }
    const cat = await runCli(["cat", `${root}/train@latest/texts/which.txt`]);
    assert.equal(cat.stdout, "v1");
  });

  it("pull @latest downloads the folder @latest opens", async () => {
    const dest = await tempDir("siblings-pull");
    try {
      const pulled = await runCli(["pull", `${root}/train@latest`, "--quiet"], { cwd: dest });
      assert.equal(pulled.code, 0, pulled.stderr);
      assert.deepEqual(await readdir(join(dest, "train")), ["v1"]);
      const pulledFiles = (await readdir(join(dest, "train", "v1"), { recursive: true })).filter((path) => !path.startsWith(".opencrate"));
      assert.deepEqual(pulledFiles.sort(), ["texts", "texts/which.txt", "train.history.log", "train.log"]);
    } finally {
      await removeDir(dest);
    }
  });
});
