/**
 * The record of files a pull placed without a checksum to verify them (src/cli/pull/pull-record.ts): it vouches for
 * a file only while the revision, inode, change time and size all match; it survives a save and a read; a record
 * that is damaged, or reached through a link, vouches for nothing.
 */
import assert from "node:assert/strict";
import { mkdir, readFile, realpath, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { PullRecord } from "../../src/cli/pull/pull-record.ts";
import { SafeFolder } from "../../src/transfer/safe-folder.ts";
import { removeDir, tempDir } from "./helpers.ts";

const PLACED = { ino: "1234", ctimeNs: "1733364000123456789", size: 42 };

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

  it("asks for a save once a noted file has waited a second since the last save began", async (t) => {
    t.mock.timers.enable({ apis: ["Date"], now: 1_000_000 });
    const root = await destination("due");
    const record = await PullRecord.read(root);
    assert.equal(record.saveDue(), false, "nothing noted");
    record.note("a.bin", "r", PLACED);
    assert.equal(record.saveDue(), false, "noted just now");
    t.mock.timers.tick(1000);
    assert.equal(record.saveDue(), true);
    await record.save(root);
    assert.equal(record.saveDue(), false, "saved just now");
    assert.equal((await PullRecord.read(root)).placedUnchanged("a.bin", PLACED), true);
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
