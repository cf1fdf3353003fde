/** Version rules of API.md over every backend: new/last/N, tags, siblings, reset, listing, bad input. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { StorageBackend } from "../../src/backends/backend.ts";
import { Snapshot, type SetupOptions } from "../../src/index.ts";
import { allBackendFactories } from "../support/backends.ts";
import { collectKeys, expectCode, readText } from "../support/assertions.ts";

for (const factory of allBackendFactories()) {
  describe(`snapshot versions on ${factory.label}`, { skip: factory.skip }, () => {
    let backend: StorageBackend;
    before(async () => {
      backend = await factory.make();
    });
    after(() => factory.cleanup());

    // `start` is any string here so that invalid ones can be tried; the types only let valid ones through.
    const setup = (options: { name: string; start?: number | string; tag?: string }): Promise<Snapshot> =>
      Snapshot.setup({ ...options, start: options.start as SetupOptions["start"], backend, console: false });

    it("numbers new versions from v0 and shares numbers across tags", async () => {
      const first = await setup({ name: "numbers", tag: "a" });
      assert.equal(first.version, 0);
      assert.equal(first.versionName, "v0:a");
      assert.equal(first.tag, "a");
      assert.equal(first.dirPath, backend.describe("numbers/v0:a"));
      await first.close();
      const second = await setup({ name: "numbers", tag: "b" });
      assert.equal(second.versionName, "v1:b");
      await second.close();
      const third = await setup({ name: "numbers" });
      assert.equal(third.versionName, "v2");
      assert.equal(third.tag, undefined);
      assert.deepEqual(
        (await third.listVersions()).map((v) => [v.version, v.tag, v.versionName]),
        [
          [0, "a", "v0:a"],
          [1, "b", "v1:b"],
          [2, undefined, "v2"],
        ],
      );
      assert.deepEqual(await third.listTags(), ["a", "b"]);
      await third.close();
    });

    it("writes the log of a new version into its folder", async () => {
      const snapshot = await setup({ name: "logged", tag: "t" });
      snapshot.info("hello from the run");
      await snapshot.close();
      const log = await readText(backend, "logged/v0:t/logged.log");
      assert.match(log, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d - INFO     hello from the run$/m);
      assert.deepEqual(await collectKeys(backend, "logged/v0:t/"), ["logged/v0:t/logged.log"]);
    });

    it('"last" resumes the highest version and starts the history', async () => {
      const run1 = await setup({ name: "resume", tag: "x" });
      run1.info("run one");
      await run1.close();
      const run2 = await setup({ name: "resume", start: "last", tag: "x" });
      assert.equal(run2.versionName, "v0:x");
      run2.info("run two");
      await run2.close();
      const log = await readText(backend, "resume/v0:x/resume.log");
      const history = await readText(backend, "resume/v0:x/resume.history.log");
      assert.doesNotMatch(log, /run one/);
      assert.match(log, /run two/);
      assert.ok(history.indexOf("run one") >= 0 && history.indexOf("run one") < history.indexOf("run two"), history);
    });

    it('"last" with no versions creates v0 and warns', async () => {
      const snapshot = await setup({ name: "fresh-last", start: "last" });
      assert.equal(snapshot.version, 0);
      await snapshot.close();
      assert.match(await readText(backend, "fresh-last/v0/fresh-last.log"), /WARNING  No version of 'fresh-last' exists/);
    });

    it("an integer start resumes that version; a missing one lists those that exist", async () => {
      for (let i = 0; i < 2; i++) await (await setup({ name: "numbered" })).close();
      const resumed = await setup({ name: "numbered", start: "1" });
      assert.equal(resumed.version, 1);
      await resumed.close();
      const error = await expectCode(setup({ name: "numbered", start: 7 }), "VERSION_NOT_FOUND");
      assert.deepEqual((error as unknown as { available: number[] }).available, [0, 1]);
      assert.match(error.message, /Version 7 of 'numbered' does not exist .*v0, v1/);
    });

    it("an integer start for a missing version writes nothing", async () => {
      await (await setup({ name: "untouched", tag: "t" })).close();
      const before = await collectKeys(backend, "untouched/");
      assert.ok(before.length > 0);
      const everything = await collectKeys(backend, "");
      const attempts: [string, Parameters<typeof setup>[0]][] = [
        ["7", { name: "untouched", start: 7 }],
        ['"1"', { name: "untouched", start: "1" }],
        ["7 with a tag", { name: "untouched", start: 7, tag: "t" }],
        ["1 with another tag", { name: "untouched", start: 1, tag: "other" }],
      ];
      for (const [label, options] of attempts) {
        await expectCode(setup(options), "VERSION_NOT_FOUND", label);
        assert.deepEqual(await collectKeys(backend, "untouched/"), before, label);
      }
      await expectCode(setup({ name: "never-made", start: 0 }), "VERSION_NOT_FOUND", "no versions at all");
      assert.deepEqual(await collectKeys(backend, "never-made"), []);
      assert.deepEqual(await collectKeys(backend, ""), everything, "nothing anywhere else either");
    });

    it("resuming a tagged version without its tag uses the sibling folder and warns", async () => {
      await (await setup({ name: "sibling", tag: "exp" })).close();
      const untagged = await setup({ name: "sibling", start: "last" });
      assert.equal(untagged.versionName, "v0");
      await untagged.close();
      const log = await readText(backend, "sibling/v0/sibling.log");
      assert.match(log, /WARNING  Version 0 of 'sibling' was created as 'v0:exp'/);
      assert.deepEqual(await collectKeys(backend, "sibling/v0:exp/"), ["sibling/v0:exp/sibling.log"], "the tagged folder is untouched");
    });

    it("reset needs confirm, then deletes this name's versions only", async () => {
      await (await setup({ name: "keep" })).close();
      await (await setup({ name: "doomed", start: "dev", tag: "scratch" })).close();
      // Not versions: left alone.
      const foreign = ["doomed/notes.md", "doomed/v01/keep.txt", "doomed/v3-old/model.bin"];
      for (const key of foreign) await backend.put(key, key);
      // Versions another tool wrote, one with a tag opencrate would not make: deleted.
      for (const key of ["doomed/v3/weights.bin", "doomed/v7:exp 1/doomed.log", "doomed/dev:exp 2/doomed.log"]) await backend.put(key, key);
      const doomed = await setup({ name: "doomed" });
      await expectCode(doomed.reset(), "CONFIRMATION_REQUIRED");
      assert.ok((await collectKeys(backend, "doomed/")).length > 0, "nothing is deleted without confirm");
      await doomed.reset({ confirm: true });
      assert.deepEqual(await collectKeys(backend, "doomed/"), foreign.sort());
      assert.ok((await collectKeys(backend, "keep/")).length > 0);
      const again = await setup({ name: "doomed" });
      assert.equal(again.version, 0, "numbering starts again after a reset");
      await again.close();
    });

    it("a second setup on one object closes the previous run", async () => {
      const snapshot = await setup({ name: "twice" });
      snapshot.info("first run line");
      await snapshot.setup({ name: "twice", backend, console: false });
      assert.equal(snapshot.version, 1);
      await snapshot.close();
      assert.match(await readText(backend, "twice/v0/twice.log"), /first run line/);
      assert.doesNotMatch(await readText(backend, "twice/v1/twice.log"), /first run line/);
    });

    it("12 concurrent new setups get exactly 0..11", async () => {
      const snapshots = await Promise.all(Array.from({ length: 12 }, () => setup({ name: "race" })));
      assert.deepEqual(
        snapshots.map((s) => s.version as number).sort((a, b) => a - b),
        Array.from({ length: 12 }, (_, i) => i),
      );
      await Promise.all(snapshots.map((s) => s.close()));
    });

    it("rejects bad names, tags and starts before writing anything", async () => {
      const cases: [string, () => Promise<unknown>][] = [
        ["name with /", () => setup({ name: "a/b" })],
        ["name ..", () => setup({ name: ".." })],
        // Refused once the root is read: an existing snapshot of such a name (made by Python OpenCrate) is set up.
        ["name with space", () => setup({ name: "a b" })],
        ["empty name", () => setup({ name: "" })],
        ["tag with /", () => setup({ name: "bad-input", tag: "x/y" })],
        ["tag ..", () => setup({ name: "bad-input", tag: ".." })],
        ["tag with space", () => setup({ name: "bad-input", tag: "x y" })],
        ["start -1", () => setup({ name: "bad-input", start: -1 })],
        ["start 1.5", () => setup({ name: "bad-input", start: 1.5 })],
        ["start abc", () => setup({ name: "bad-input", start: "abc" })],
        ["start with spaces", () => setup({ name: "bad-input", start: " 3 " })],
        ["tag null", () => setup({ name: "bad-input", tag: null as unknown as string })],
        ["bad log level", () => Snapshot.setup({ name: "bad-input", backend, console: false, logLevel: "loud" as SetupOptions["logLevel"] })],
      ];
      for (const [label, attempt] of cases) {
        const error = await expectCode(attempt(), "INVALID_ARGUMENT", label);
        assert.ok(error.message.length > 10, label);
      }
      for (const name of ["bad-input/", "a/", "a b/"]) assert.deepEqual(await collectKeys(backend, name), [], name);
    });

    it("a bad log level names where it came from: the option or OPENCRATE_LOG_LEVEL", async () => {
      const optionError = await expectCode(
        Snapshot.setup({ name: "bad-level", backend, console: false, logLevel: "verbose" as SetupOptions["logLevel"] }),
        "INVALID_ARGUMENT",
      );
      assert.match(optionError.message, /^Invalid logLevel "verbose": expected one of debug, info/);
      const saved = process.env.OPENCRATE_LOG_LEVEL;
      process.env.OPENCRATE_LOG_LEVEL = "verbose";
      try {
        const envError = await expectCode(Snapshot.setup({ name: "bad-level", backend, console: false }), "INVALID_ARGUMENT");
        assert.match(envError.message, /^Invalid OPENCRATE_LOG_LEVEL "verbose": expected one of debug, info/);
      } finally {
        if (saved === undefined) delete process.env.OPENCRATE_LOG_LEVEL;
        else process.env.OPENCRATE_LOG_LEVEL = saved;
      }
      assert.deepEqual(await collectKeys(backend, "bad-level/"), []);
    });

    it("names the offending value in the message", async () => {
      const error = await expectCode(setup({ name: "ok", start: "abc" }), "INVALID_ARGUMENT");
      assert.match(error.message, /"abc"/);
      const tagError = await expectCode(setup({ name: "ok", tag: "x/y" }), "INVALID_ARGUMENT");
      assert.match(tagError.message, /"x\/y"/);
    });
  });
}

describe("snapshot before setup", () => {
  it("throws NOT_SET_UP for properties and artifacts", () => {
    const snapshot = new Snapshot({ console: false });
    assert.throws(() => snapshot.version, { code: "NOT_SET_UP" });
    assert.throws(() => snapshot.dirPath, { code: "NOT_SET_UP" });
    assert.throws(() => snapshot.json("x.json"), { code: "NOT_SET_UP" });
  });
});
