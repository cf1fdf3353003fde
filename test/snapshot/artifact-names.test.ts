/**
 * One naming rule on every backend: artifact names with control characters or opencrate's reserved ".~oc-" prefix,
 * and a file and a folder of one name, are INVALID_ARGUMENT before anything is written.
 */
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import type { StorageBackend } from "../../src/backends/backend.ts";
import { Snapshot } from "../../src/index.ts";
import { allBackendFactories } from "../support/backends.ts";
import { collectKeys, expectCode } from "../support/assertions.ts";

const BAD_NAMES = ["a\nb.json", "tab\there.json", "bell\u0007.json", "del\u007f.json", ".~oc-tmp-x.json", "deep/.~oc-lock-1/x.json"];

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
