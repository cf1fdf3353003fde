/**
 * One naming rule on every backend: artifact names with control characters or opencrate's reserved ".~oc-" prefix,
 * names the listings leave out as bookkeeping, and a file and a folder of one name, are INVALID_ARGUMENT before
 * anything is written.
 */
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import type { StorageBackend } from "../../src/backends/backend.ts";
import type { ArtifactStorage } from "../../src/index.ts";
import { Snapshot } from "../../src/index.ts";
import { isBookkeepingPath } from "../../src/snapshot/bookkeeping.ts";
import { allBackendFactories } from "../support/backends.ts";
import { collectKeys, expectCode } from "../support/assertions.ts";

const BAD_NAMES = ["a\nb.json", "tab\there.json", "bell\u0007.json", "del\u007f.json", ".~oc-tmp-x.json", "deep/.~oc-lock-1/x.json"];

/** Names `ls`, `pull` and the viewer would leave out: each refused. */
const HIDDEN_NAMES = [
  ".opencrate",
  "sub/.opencrate/x.txt",
  ".opencrate-probe-1.txt",
  "deep/.opencrate-probe-x/y.txt",
  ".ocpart-0123456789abcdef0123456789abcdef",
  "a/.ocpart-0123456789abcdef0123456789abcdef-ranges.done",
  ".ocpart-0123456789abcdef-0123456789abcdef",
  "a/.ocpart-0123456789abcdef-0123456789abcdef-ranges",
];
/** Names that only look like them: listed, so saved. */
const LOOKALIKES = [".opencrate.txt", ".opencrate-probe", "x/.opencrates/y.txt", ".ocpart-xyz.txt", ".ocpart-0123456789abcdef-xyz", ".env", "cfg/.hidden.json"];

/** Writes `parts` below its artifact path, as given. */
class PartsHandler {
  declare storage: ArtifactStorage;

  async save(parts: string[]): Promise<void> {
    for (const part of parts) await this.storage.write("x", part);
  }

  load(): Promise<string[]> {
    return this.storage.list();
  }
}

for (const factory of allBackendFactories()) {
  describe(`artifact names on ${factory.label}`, { skip: factory.skip }, () => {
    let backend: StorageBackend;
    let snapshot: Snapshot;
    before(async () => {
      backend = await factory.make();
      snapshot = await Snapshot.setup({ name: "names", backend, console: false });
    });
    after(async () => {
      await snapshot.close();
      await factory.cleanup();
    });

    const artifactKeys = async (): Promise<string[]> =>
      (await collectKeys(backend, "names/v0/")).filter((key) => key.includes("/jsons/") || key.includes("/texts/"));

    it("refuses control characters and the reserved prefix, for save, saveStream and backup", async () => {
      for (const name of BAD_NAMES) {
        const error = await expectCode(() => snapshot.json(name).save({ a: 1 }), "INVALID_ARGUMENT", `json ${JSON.stringify(name)}`);
        assert.ok(error.message.includes(JSON.stringify(name)), error.message);
        await expectCode(() => snapshot.text(name).saveStream(Readable.from([Buffer.from("x")])), "INVALID_ARGUMENT", `saveStream ${JSON.stringify(name)}`);
      }
      await snapshot.json("good.json").save({ a: 1 });
      await expectCode(() => snapshot.json("good.json").backup("a\nb"), "INVALID_ARGUMENT", "backup tag with a newline");
      assert.deepEqual(await artifactKeys(), ["names/v0/jsons/good.json"], "only the good artifact was written");
    });

    it("refuses every name the listings leave out as bookkeeping, and saves the ones that only look like them", async () => {
      for (const name of HIDDEN_NAMES) {
        assert.ok(isBookkeepingPath(name), `the listings leave out ${name}`);
        const error = await expectCode(() => snapshot.text(name).save("x"), "INVALID_ARGUMENT", `text ${JSON.stringify(name)}`);
        assert.ok(error.message.includes(JSON.stringify(name)) && error.message.includes("ls, pull and the viewer"), error.message);
        await expectCode(() => snapshot.text(name).saveStream(Readable.from([Buffer.from("x")])), "INVALID_ARGUMENT", `saveStream ${name}`);
        await expectCode(() => snapshot.artifact("parts", name, { handler: PartsHandler }).save(["p.txt"]), "INVALID_ARGUMENT", `custom ${name}`);
        await expectCode(() => snapshot.artifact("parts", "ok", { handler: PartsHandler }).save([name]), "INVALID_ARGUMENT", `custom part ${name}`);
      }
      const written = await collectKeys(backend, "names/v0/");
      assert.ok(!written.some((key) => isBookkeepingPath(key.slice("names/v0/".length))), written.join(", "));
      for (const name of LOOKALIKES) {
        assert.ok(!isBookkeepingPath(name), `the listings show ${name}`);
        await snapshot.text(name).save(name);
        assert.equal(await snapshot.text(name).load(), name);
      }
    });

    it("still reads and deletes such an artifact written before, but backs it up under no hidden name", async () => {
      await backend.put("names/v0/texts/.opencrate-probe-old.txt", Buffer.from("old"));
      const old = snapshot.text(".opencrate-probe-old.txt");
      assert.equal(await old.exists(), true);
      assert.equal(await old.load(), "old");
      await expectCode(() => old.backup("kept"), "INVALID_ARGUMENT", "backup of a hidden name");
      await old.delete({ confirm: true });
      assert.equal(await old.exists(), false);
    });

    it("refuses a file below a file, and a file where a folder is, leaving both as they were", async () => {
      await snapshot.json("clash.json").save({ file: true });
      const below = await expectCode(() => snapshot.json("clash.json/inner.json").save({ a: 1 }), "INVALID_ARGUMENT", "file below a file");
      assert.ok(below.message.includes("clash.json"), below.message);
      await expectCode(() => snapshot.json("clash.json/deeper/inner.json").save({ a: 1 }), "INVALID_ARGUMENT", "file two levels below a file");

      await snapshot.text("folder/inner.txt").save("inside");
      const over = await expectCode(() => snapshot.text("folder").save("over"), "INVALID_ARGUMENT", "file over a folder");
      assert.ok(over.message.includes("folder"), over.message);

      assert.deepEqual((await snapshot.json("clash.json").load()) as unknown, { file: true });
      assert.equal(await snapshot.text("folder/inner.txt").load(), "inside");
      const keys = await artifactKeys();
      assert.ok(!keys.some((key) => key.includes("clash.json/")), `nothing below clash.json: ${keys.join(", ")}`);
      assert.ok(!keys.includes("names/v0/texts/folder"), "no file named like the folder");
    });
  });
}
