/**
 * The record of files a pull placed without a checksum to verify them (src/cli/pull/pull-record.ts): it vouches for
 * a file only while the revision, inode, change time and size all match; it survives a save and a read; a record
 * that is damaged, or reached through a link, vouches for nothing. A file journaled right before its move (a pull
 * killed after it) counts by inode, size and modification time, until a save records it.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { lstat, mkdir, readFile, realpath, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { PullRecord } from "../../src/cli/pull/pull-record.ts";
import { placedFileOf } from "../../src/transfer/download-file.ts";
import { SafeFolder } from "../../src/transfer/safe-folder.ts";
import { removeDir, tempDir } from "./helpers.ts";

const PLACED = { ino: "1234", ctimeNs: "1733364000123456789", mtimeNs: "1733363000000000000", size: 42 };

describe("the record of files a pull placed", () => {
  let dir: string;
  before(async () => {
    dir = await tempDir("pull-record");
  });
  after(() => removeDir(dir));

  async function destination(name: string): Promise<SafeFolder> {
    const path = join(dir, name);
    await mkdir(path, { recursive: true });
    return SafeFolder.open(await realpath(path));
  }

  it("vouches for a file only while its revision, inode, change time and size match, after a save and a read", async () => {
    const root = await destination("round-trip");
    const record = await PullRecord.read(root);
    assert.equal(record.holds("checkpoints/model.bin", "etag-1", PLACED), false);
    record.note("checkpoints/model.bin", "etag-1", PLACED);
    await record.save(root);

    const again = await PullRecord.read(root);
    assert.equal(again.holds("checkpoints/model.bin", "etag-1", PLACED), true);
    assert.equal(again.holds("checkpoints/model.bin", "etag-2", PLACED), false, "another revision");
    assert.equal(again.holds("checkpoints/model.bin", "etag-1", { ...PLACED, ino: "1235" }), false, "another file put there");
    assert.equal(again.holds("checkpoints/model.bin", "etag-1", { ...PLACED, ctimeNs: "1733364000123456790" }), false, "the file changed");
    assert.equal(again.holds("checkpoints/model.bin", "etag-1", { ...PLACED, size: 43 }), false, "another size");
    assert.equal(again.holds("checkpoints/other.bin", "etag-1", PLACED), false, "another path");
    await root.close();
  });

  it("a file journaled before its move counts as placed after a kill, by inode, size and modification time; a pull's end records it", async () => {
    const root = await destination("journal");
    await writeFile(join(root.path, "model.bin"), "x".repeat(42));
    const partial = placedFileOf(await lstat(join(root.path, "model.bin"), { bigint: true }));
    const killed = await PullRecord.read(root);
    await killed.mark(root);
    killed.journal("model.bin", "etag-1", partial);
    // Killed here: nothing saved but the journal line.
    killed.close();
    const moved = { ...partial, ctimeNs: `${partial.ctimeNs}1` };

    const next = await PullRecord.read(root);
    assert.equal(next.found, true);
    assert.equal(next.holds("model.bin", "etag-1", moved), true, "the move changed only the change time");
    assert.equal(next.holds("model.bin", "etag-2", moved), false, "another revision");
    assert.equal(next.placedUnchanged("model.bin", moved), true);
    assert.equal(next.placedUnchanged("model.bin", { ...moved, ino: "1" }), false, "another file put there");
    assert.equal(next.placedUnchanged("model.bin", { ...moved, size: 43 }), false, "another size");
    assert.equal(next.placedUnchanged("model.bin", { ...moved, mtimeNs: "1" }), false, "edited in place");
    assert.equal(next.placedUnchanged("other.bin", moved), false, "another path");

    await next.mark(root);
    await next.save(root);
    assert.equal(existsSync(join(root.path, ".opencrate/pulled.journal")), false, "folded into the record");
    const saved = JSON.parse(await readFile(join(root.path, ".opencrate/pulled.json"), "utf8")) as { files: Record<string, unknown> };
    // The shape earlier releases read: the file as it is now.
    assert.deepEqual(saved.files, { "model.bin": { revision: "etag-1", ino: partial.ino, ctimeNs: partial.ctimeNs, size: 42 } });
    const after = await PullRecord.read(root);
    assert.equal(after.holds("model.bin", "etag-1", partial), true);
    assert.equal(after.holds("model.bin", "etag-1", { ...partial, ctimeNs: "1" }), false, "changed since it was recorded");
    await root.close();
  });

  it("a journal line whose file is gone or changed is dropped at the save; damaged lines are skipped", async () => {
    const root = await destination("journal-dropped");
    await mkdir(join(root.path, ".opencrate"));
    await writeFile(join(root.path, "kept.bin"), "kept");
    const kept = placedFileOf(await lstat(join(root.path, "kept.bin"), { bigint: true }));
    const line = (path: string, file: typeof PLACED): string => `${JSON.stringify([1, path, "r", file.ino, file.size, file.mtimeNs])}\n`;
    await writeFile(
      join(root.path, ".opencrate/pulled.journal"),
      `${line("gone.bin", PLACED)}{cut short\n${JSON.stringify([2, "kept.bin", "r", kept.ino, kept.size, kept.mtimeNs])}\n${line("kept.bin", kept)}[1,"half`,
    );
    const record = await PullRecord.read(root);
    assert.equal(record.found, true, "a journal alone says a pull wrote here");
    assert.equal(record.placedUnchanged("gone.bin", PLACED), true);
    assert.equal(record.placedUnchanged("kept.bin", kept), true);
    await record.save(root);
    const saved = JSON.parse(await readFile(join(root.path, ".opencrate/pulled.json"), "utf8")) as { files: Record<string, unknown> };
    assert.deepEqual(Object.keys(saved.files), ["kept.bin"]);
    assert.equal(existsSync(join(root.path, ".opencrate/pulled.journal")), false, "folded into the record");
    await root.close();
  });

  it("a journal whose last line was cut short does not swallow the next pull's first line", async () => {
    const root = await destination("journal-cut");
    await mkdir(join(root.path, ".opencrate"));
    await writeFile(join(root.path, ".opencrate/pulled.journal"), '[1,"old.bin","r0","123",4');
    await writeFile(join(root.path, "new.bin"), "data");
    const placed = placedFileOf(await lstat(join(root.path, "new.bin"), { bigint: true }));
    const killed = await PullRecord.read(root);
    await killed.mark(root);
    killed.journal("new.bin", "r1", placed);
    // Killed here again: only the journal knows new.bin.
    killed.close();
    const next = await PullRecord.read(root);
    assert.equal(next.placedUnchanged("new.bin", placed), true);
    await root.close();
  });

  it("reads a record an earlier release wrote (no journal) and keeps writing its shape", async () => {
    const root = await destination("earlier");
    await mkdir(join(root.path, ".opencrate"));
    const earlier = { format: 1, files: { "a.bin": { revision: "r", ino: PLACED.ino, ctimeNs: PLACED.ctimeNs, size: PLACED.size } } };
    await writeFile(join(root.path, ".opencrate/pulled.json"), JSON.stringify(earlier));
    const record = await PullRecord.read(root);
    assert.equal(record.holds("a.bin", "r", { ...PLACED, mtimeNs: "5" }), true, "its entries carry no modification time");
    assert.equal(record.holds("a.bin", "r", { ...PLACED, ctimeNs: "5" }), false);
    await record.mark(root);
    record.note("b.bin", "r2", PLACED);
    await record.save(root);
    record.close();
    const saved = JSON.parse(await readFile(join(root.path, ".opencrate/pulled.json"), "utf8")) as { format: number; files: Record<string, unknown> };
    assert.deepEqual(saved, { format: 1, files: { ...earlier.files, "b.bin": { revision: "r2", ino: PLACED.ino, ctimeNs: PLACED.ctimeNs, size: PLACED.size } } });
    await root.close();
  });

  it("a damaged record, or one of another format, vouches for nothing", async () => {
    const root = await destination("damaged");
    await mkdir(join(root.path, ".opencrate"));
    for (const text of ["{not json", JSON.stringify({ format: 2, files: { "a.bin": { revision: "r", ...PLACED } } }), JSON.stringify({ format: 1, files: { "a.bin": { revision: "r", ino: 1234, ctimeNs: PLACED.ctimeNs, size: 42 } } })]) {
      await writeFile(join(root.path, ".opencrate/pulled.json"), text);
      assert.equal((await PullRecord.read(root)).holds("a.bin", "r", PLACED), false, text);
    }
    await root.close();
  });

  it("a record folder that is a link is neither read nor written through", async () => {
    const elsewhere = join(dir, "elsewhere");
    await mkdir(elsewhere);
    await writeFile(join(elsewhere, "pulled.json"), JSON.stringify({ format: 1, files: { "a.bin": { revision: "r", ...PLACED } } }));
    const root = await destination("linked");
    await symlink(elsewhere, join(root.path, ".opencrate"));
    const record = await PullRecord.read(root);
    assert.equal(record.holds("a.bin", "r", PLACED), false);
    record.note("b.bin", "r", PLACED);
    await assert.rejects(record.save(root));
    assert.doesNotMatch(await readFile(join(elsewhere, "pulled.json"), "utf8"), /b\.bin/);
    await root.close();
  });
});
