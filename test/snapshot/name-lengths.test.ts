/**
 * How long artifact names may be, on every backend: the file name at most 183 UTF-8 bytes (a 255-byte file name less
 * the 72 bytes of a tagged backup's `.backup_<tag>`), the folders above it 255, and the whole key, with those 72 bytes, within 1024 less the
 * root's prefix. A name at a limit saves, loads and gets both kinds of backup; one byte over is INVALID_ARGUMENT
 * before anything is written.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import type { StorageBackend } from "../../src/backends/backend.ts";
import { keyBytesLimit } from "../../src/backends/keys.ts";
import { PrefixedBackend, Snapshot } from "../../src/index.ts";
import { ARTIFACT_SEGMENT_MAX_BYTES, BACKUP_INFIX_MAX_BYTES } from "../../src/snapshot/names.ts";
import { allBackendFactories } from "../support/backends.ts";
import { collectKeys, expectCode } from "../support/assertions.ts";

const TAG = "t".repeat(64);
const bytes = (text: string): number => Buffer.byteLength(text, "utf8");

class LinesHandler {
  async save(data: string[], storage: { write(relative: string, bytes: Uint8Array | string): Promise<void> }): Promise<void> {
    await storage.write("lines.txt", data.join("\n"));
  }
  async load(storage: { read(relative: string): Promise<Uint8Array> }): Promise<string[]> {
    return Buffer.from(await storage.read("lines.txt")).toString("utf8").split("\n");
  }
}

/** A name of `total` UTF-8 bytes ending in ".json", in segments of at most 183 bytes. */
function nestedName(total: number): string {
  const segments: string[] = [];
  let left = total - ".json".length;
  while (left > ARTIFACT_SEGMENT_MAX_BYTES - ".json".length) {
    const length = Math.min(ARTIFACT_SEGMENT_MAX_BYTES, left - 1 - 1); // the segment, its "/", at least one byte after
    segments.push("d".repeat(length));
    left -= length + 1;
  }
  segments.push(`${"f".repeat(left)}.json`);
  const name = segments.join("/");
  assert.equal(bytes(name), total);
  return name;
}

it("the limits are a 255-byte file name less the longest backup infix", () => {
  assert.equal(BACKUP_INFIX_MAX_BYTES, ".backup_".length + 64);
  assert.equal(ARTIFACT_SEGMENT_MAX_BYTES, 183);
});

for (const factory of allBackendFactories()) {
  describe(`artifact name lengths on ${factory.label}`, { skip: factory.skip }, () => {
    let backend: StorageBackend;
    let snapshot: Snapshot;
    before(async () => {
      backend = await factory.make();
      snapshot = await Snapshot.setup({ name: "lengths", backend, console: false });
    });
    after(async () => {
      await snapshot.close();
      await factory.cleanup();
    });

    it("a file name of 183 UTF-8 bytes, in folders of 255, saves, loads and gets a timestamped and a tagged backup", async () => {
      const atLimit = [`${"a".repeat(178)}.json`, `${"é".repeat(89)}.json`, `${"d".repeat(255)}/${"b".repeat(178)}.json`];
      for (const name of atLimit) {
        assert.ok(bytes(name.slice(name.lastIndexOf("/") + 1)) <= 183, name);
        const artifact = snapshot.json(name);
        await artifact.save({ name });
        assert.deepEqual(await artifact.load(), { name });
        const stamped = await artifact.backup();
        const tagged = await artifact.backup(TAG);
        assert.equal(tagged, `${name.slice(name.lastIndexOf("/") + 1, -".json".length)}.backup_${TAG}.json`);
        assert.equal(bytes(tagged ?? ""), 255);
        assert.deepEqual(await artifact.listBackups(), [stamped, tagged]);
      }
    });

    it("one byte over is INVALID_ARGUMENT naming the name, for every write, and nothing is written", async () => {
      const before = await collectKeys(backend, "lengths/");
      const over = [`${"a".repeat(179)}.json`, `${"é".repeat(89)}x.json`, `${"d".repeat(256)}/x.json`, `ok/${"é".repeat(92)}`];
      const local = await mkdtemp(join(tmpdir(), "oc-name-lengths-"));
      try {
        const file = join(local, "data.txt");
        await writeFile(file, "x");
        for (const name of over) {
          const error = await expectCode(() => snapshot.json(name).save({ a: 1 }), "INVALID_ARGUMENT", name);
          assert.ok(error.message.includes(JSON.stringify(name)) && /\b(183|255)\b/.test(error.message), error.message);
          await expectCode(() => snapshot.text(name).saveStream(Readable.from([Buffer.from("x")])), "INVALID_ARGUMENT", `saveStream ${name}`);
          await expectCode(() => snapshot.checkpoint(name).saveFile(file), "INVALID_ARGUMENT", `saveFile ${name}`);
          await expectCode(() => snapshot.text(name).backup(), "INVALID_ARGUMENT", `backup ${name}`);
          await expectCode(() => snapshot.artifact("lines", name, { handler: LinesHandler }).save(["x"]), "INVALID_ARGUMENT", `custom ${name}`);
        }
      } finally {
        await rm(local, { recursive: true, force: true });
      }
      assert.deepEqual(await collectKeys(backend, "lengths/"), before);
    });

    it("a longer name another tool wrote still loads, lists and deletes", async () => {
      const name = `${"p".repeat(195)}.json`;
      await backend.put(`lengths/v0/jsons/${name}`, JSON.stringify({ from: "elsewhere" }));
      const artifact = snapshot.json(name);
      assert.deepEqual(await artifact.load(), { from: "elsewhere" });
      assert.equal(await artifact.exists(), true);
      assert.deepEqual(await artifact.listBackups(), []);
      await expectCode(() => artifact.save({ again: true }), "INVALID_ARGUMENT", "rewrite");
      await artifact.delete({ confirm: true });
      assert.equal(await artifact.exists(), false);
    });

    it("under a long root prefix, a key that leaves a tagged backup room saves and backs up; one byte more is refused", async () => {
      const prefix = Array.from({ length: 4 }, () => "p".repeat(150)).join("/"); // a root of 603 bytes
      const prefixed = new PrefixedBackend(backend, prefix);
      const limit = keyBytesLimit(prefixed);
      assert.equal(limit, keyBytesLimit(backend) - bytes(`${prefix}/`));
      const deep = await Snapshot.setup({ name: "lengths", backend: prefixed, console: false });
      try {
        const folder = "lengths/v0/jsons/";
        const fits = nestedName(limit - BACKUP_INFIX_MAX_BYTES - bytes(folder));
        await deep.json(fits).save({ deep: true });
        assert.deepEqual(await deep.json(fits).load(), { deep: true });
        await deep.json(fits).backup(TAG);
        await deep.json(fits).backup();
        assert.equal((await deep.json(fits).listBackups()).length, 2);

        const tooLong = nestedName(limit - BACKUP_INFIX_MAX_BYTES - bytes(folder) + 1);
        const error = await expectCode(() => deep.json(tooLong).save({ deep: false }), "INVALID_ARGUMENT", "one byte over");
        assert.ok(error.message.includes(JSON.stringify(tooLong)) && error.message.includes(String(limit)), error.message);
        assert.equal(await deep.json(tooLong).exists(), false);
      } finally {
        await deep.close();
      }
    });
  });
}
