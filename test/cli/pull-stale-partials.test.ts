/**
 * A pull interrupted at one revision of a file, run again after the object was rewritten: the partial of the old
 * revision (never to be continued) is removed as the file's download starts, and the new content is placed.
 */
import assert from "node:assert/strict";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { OVERWRITE } from "../../src/backends/backend.ts";
import { LocalBackend } from "../../src/backends/local/index.ts";
import { partialFileName } from "../../src/cli/pull/download.ts";
import { Snapshot } from "../../src/index.ts";
import { pullInterrupted, removeDir, runCli, tempDir } from "./helpers.ts";

describe("opencrate pull after the object was rewritten", () => {
  let dir: string;
  before(async () => {
    dir = await tempDir("pull-stale-partials");
  });
  after(() => removeDir(dir));

  it("removes the partial of the old revision and places the new content", async () => {
    const root = join(dir, "snapshots");
    const backend = new LocalBackend({ root });
    const run = await Snapshot.setup({ name: "rewrite", backend, console: false });
    // Over 1 MiB, so it streams (and stalls).
    await run.text("big.txt").save("a".repeat(2 * 1024 * 1024));
    await run.text("other.txt").save("other");
    await run.close();
    const dest = join(dir, "dest");
    const texts = join(dest, "texts");
    const uri = `${root}/rewrite/v0`;

    const stopped = await pullInterrupted([uri, dest], { folder: texts, stallAfter: 65536, grownTo: 65536 });
    assert.equal(stopped.code, 1, stopped.stderr);
    const oldPartials = (await readdir(texts)).filter((entry) => entry.startsWith(".ocpart-"));
    assert.equal(oldPartials.length, 1, `partial files: ${oldPartials.join(", ")}`);
    // The ranges and journal an earlier ranged download of that revision would leave go too; a partial of another
    // file not in the version, and one named as earlier versions did (its target unknown), stay.
    const oldRevision = (await backend.head("rewrite/v0/texts/big.txt")).revision;
    const oldRanges = `${partialFileName("big.txt", oldRevision)}-ranges`;
    const otherFile = partialFileName("absent.txt", "r0");
    const legacy = `.ocpart-${"0".repeat(32)}`;
    for (const name of [oldRanges, `${oldRanges}.done`, otherFile, legacy]) await writeFile(join(texts, name), "kept bytes");

    const rewritten = "b".repeat(2 * 1024 * 1024 + 5);
    await backend.put("rewrite/v0/texts/big.txt", rewritten, { mode: OVERWRITE });
    const finished = await runCli(["pull", uri, dest]);
    assert.equal(finished.code, 0, finished.stderr);
    assert.equal(await readFile(join(texts, "big.txt"), "utf8"), rewritten);
    assert.deepEqual((await readdir(texts)).sort(), [legacy, otherFile, "big.txt", "other.txt"].sort());
  });
});
