/**
 * Version folders this library did not claim (written by Python OpenCrate, copied by hand, made by `opencrate
 * pull`) on every backend: they are versions for listing, opening and resuming, and "new" never lands in one.
 * Also: the scratch version "dev", `replace: true`, verified bookkeeping, and setup's option checks.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { DeleteOptions, StorageBackend } from "../../src/backends/backend.ts";
import { Snapshot } from "../../src/index.ts";
import { VersionStore } from "../../src/snapshot/versions.ts";
import { allBackendFactories, memoryFactory } from "../support/backends.ts";
import { collectKeys, expectCode, readText } from "../support/assertions.ts";
import { gcsEnv, minioEnv, useTestServersForUris } from "../support/servers.ts";

// Snapshot.open takes URIs, so the cloud runs configure the SDKs the standard way (as open.test.ts does).
useTestServersForUris();
const minio = minioEnv();
const gcs = gcsEnv();

const LINE = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d - INFO     /;
const canOpenByUri = (label: string): boolean => /^(memory|local|minio|gcs)\b/.test(label);

/** A name as Python OpenCrate leaves it after two runs: folders only, no bookkeeping. */
async function writePythonLayout(backend: StorageBackend, name: string): Promise<Record<string, string>> {
  const longLog = Array.from({ length: 62 }, (_, i) => `2025-11-16 11:45:07 - INFO     python line ${i}`).join("\n") + "\n";
  const files: Record<string, string> = {
    [`${name}/v0:initial-run/${name}.log`]: "2025-11-16 11:44:43 - INFO     resumed\n",
    [`${name}/v0:initial-run/${name}.history.log`]: "2025-11-16 11:44:23 - INFO     set up\n2025-11-16 11:44:43 - INFO     resumed\n",
    [`${name}/v1:major-update/${name}.log`]: longLog,
    [`${name}/v1:major-update/jsons/data.json`]: JSON.stringify({ array: [10, 20, 30], message: "from python" }),
  };
  for (const [key, body] of Object.entries(files)) await backend.put(key, body);
  return files;
}

for (const factory of allBackendFactories()) {
  describe(`foreign version folders on ${factory.label}`, { skip: factory.skip }, () => {
    let backend: StorageBackend;
    before(async () => {
      backend = await factory.make();
    });
    after(() => factory.cleanup());

    const setup = (options: Record<string, unknown>): Promise<Snapshot> =>
      Snapshot.setup({ name: "x", ...options, backend, console: false } as Parameters<typeof Snapshot.setup>[0]);

    it("lists folders without claims as versions, with their tags", async () => {
      await writePythonLayout(backend, "listed");
      const snapshot = await setup({ name: "listed", start: "last", tag: "major-update" });
      const versions = await snapshot.listVersions();
      assert.deepEqual(
        versions.map((v) => [v.versionName, v.version, v.tag, v.claimed, v.createdAt]),
        [
          ["v0:initial-run", 0, "initial-run", false, undefined],
          ["v1:major-update", 1, "major-update", false, undefined],
        ],
      );
      assert.deepEqual(await snapshot.listTags(), ["initial-run", "major-update"]);
      await snapshot.close();
    });

    it("a folder with a leading zero (v01) is not a version: not listed, not opened, never resumed or written", async () => {
      await backend.put("zeros/v01/jsons/m.json", JSON.stringify({ from: "v01" }));
      await backend.put("zeros/v1/jsons/m.json", JSON.stringify({ from: "v1" }));
      await backend.put("alone/v01/jsons/m.json", JSON.stringify({ from: "v01" }));
      if (canOpenByUri(factory.label)) {
        await expectCode(Snapshot.open(`${backend.describe("")}/zeros/v01`), "INVALID_ARGUMENT", "open zeros/v01");
        const opened = await Snapshot.open(`${backend.describe("")}/zeros/v1`);
        assert.deepEqual(await opened.json("m.json").load(), { from: "v1" });
      }
      const zeros = await setup({ name: "zeros", start: "last" });
      assert.equal(zeros.versionName, "v1");
      assert.deepEqual((await zeros.listVersions()).map((v) => v.versionName), ["v1"]);
      await zeros.close();
      const alone = await setup({ name: "alone", start: "last" });
      assert.equal(alone.versionName, "v0", "no version yet, so v0 is started");
      await alone.close();
      const next = await setup({ name: "alone", start: "new" });
      assert.equal(next.versionName, "v1");
      await next.close();
      assert.deepEqual(await collectKeys(backend, "alone/v01/"), ["alone/v01/jsons/m.json"]);
      assert.equal(await readText(backend, "alone/v01/jsons/m.json"), JSON.stringify({ from: "v01" }));
    });

    it('"last" resumes the highest foreign folder, keeping its files and moving its .log into the history', async () => {
      const files = await writePythonLayout(backend, "resumed");
      const snapshot = await setup({ name: "resumed", start: "last", tag: "major-update" });
      assert.equal(snapshot.version, 1);
      assert.equal(snapshot.versionName, "v1:major-update");
      assert.deepEqual(await snapshot.json("data.json").load(), { array: [10, 20, 30], message: "from python" });
      snapshot.info("typescript line");
      await snapshot.close();
      const oldLog = files["resumed/v1:major-update/resumed.log"] ?? "";
      const history = await readText(backend, "resumed/v1:major-update/resumed.history.log");
      assert.ok(history.startsWith(oldLog), "the history starts with every byte of the old .log");
      assert.match(history.slice(oldLog.length), /typescript line\n$/);
      const log = await readText(backend, "resumed/v1:major-update/resumed.log");
      assert.equal(log.split("\n").filter(Boolean).length, 1);
      assert.match(log, LINE);
    });

    it("a number resumes a foreign folder; its existing history is appended to, not replaced", async () => {
      const files = await writePythonLayout(backend, "numbered");
      const snapshot = await setup({ name: "numbered", start: 0, tag: "initial-run" });
      snapshot.info("third run");
      await snapshot.close();
      const history = await readText(backend, "numbered/v0:initial-run/numbered.history.log");
      assert.ok(history.startsWith(files["numbered/v0:initial-run/numbered.history.log"] ?? "?"));
      assert.match(history, /third run\n$/);
    });

    it('"new" takes the number after the highest folder and leaves every foreign byte alone', async () => {
      const files = await writePythonLayout(backend, "fresh");
      const snapshot = await setup({ name: "fresh", start: "new", tag: "initial-run" });
      assert.equal(snapshot.versionName, "v2:initial-run");
      snapshot.info("ours");
      await snapshot.close();
      for (const [key, body] of Object.entries(files)) assert.equal(await readText(backend, key), body, key);
    });

    it('"new" never reuses a number whose claim was deleted while its folder stayed', async () => {
      for (let i = 0; i < 2; i++) await (await setup({ name: "unclaimed" })).close();
      await backend.delete("unclaimed/.opencrate/versions/0000000001.json");
      const snapshot = await setup({ name: "unclaimed" });
      assert.equal(snapshot.version, 2);
      await snapshot.close();
      assert.equal((await collectKeys(backend, "unclaimed/v1/")).length, 1, "v1 keeps its own log");
    });

    it('"new" skips numbers taken by folders with tags it could not use itself', async () => {
      await backend.put("odd/v0:a tag with spaces/odd.log", "x\n");
      await backend.put("odd/v1:ok/odd.log", "x\n");
      const snapshot = await setup({ name: "odd" });
      assert.equal(snapshot.version, 2);
      await snapshot.close();
    });

    it("the folder check of one number sees v<N>/ and v<N>:<tag>/ past keys that sort near them", async () => {
      const cases: { keys: string[]; taken: boolean }[] = [
        { keys: [], taken: false },
        { keys: ["v5/x.log"], taken: true },
        { keys: ["v5:a tag/x.log"], taken: true },
        { keys: ["v50/x.log", "v51:t/x.log"], taken: false },
        { keys: ["v50/x.log", "v5:tagged/x.log"], taken: true },
        { keys: ["v5.txt", "v5-old/x.log"], taken: false },
        { keys: ["v5.txt", "v5:tagged/x.log"], taken: true },
        { keys: ["v5-old/x.log", "v5/x.log"], taken: true },
        { keys: ["v5:loose-object"], taken: true }, // any key starting "v<N>:" counts, to be safe
        { keys: ["v5_backup/x.log", "v6/x.log", "v4/x.log"], taken: false },
      ];
      for (const [index, { keys, taken }] of cases.entries()) {
        const name = `check${index}`;
        for (const key of keys) await backend.put(`${name}/${key}`, "x");
        assert.equal(await new VersionStore(backend, name).folderExists(5), taken, keys.join(", ") || "(nothing)");
      }
    });

    it("resuming a foreign tagged folder without its tag writes a sibling and leaves the tagged folder alone", async () => {
      const files = await writePythonLayout(backend, "sibling");
      const snapshot = await setup({ name: "sibling", start: 1 });
      assert.equal(snapshot.versionName, "v1");
      await snapshot.close();
      assert.equal(await readText(backend, "sibling/v1:major-update/sibling.log"), files["sibling/v1:major-update/sibling.log"]);
      const reader = await setup({ name: "sibling", start: "last", tag: "major-update" });
      assert.deepEqual(
        (await reader.listVersions()).map((v) => v.versionName),
        ["v0:initial-run", "v1", "v1:major-update"],
        "untagged sibling before tagged ones when no claim says which came first",
      );
      await reader.close();
    });

    it("an integer start with no claim and no folder names the versions that exist", async () => {
      await writePythonLayout(backend, "missing");
      const error = await expectCode(setup({ name: "missing", start: 4 }), "VERSION_NOT_FOUND");
      assert.match(error.message, /v0, v1/);
    });

    it("a foreign folder at or past v9999999999 stops \"new\", and runs in it, with NOT_SUPPORTED; nothing is written", async () => {
      for (const [name, top] of [["huge", 10_000_000_000], ["edge", 9_999_999_999]] as const) {
        await backend.put(`${name}/v0/${name}.log`, "old\n");
        await backend.put(`${name}/v${top}/${name}.log`, "foreign\n");
        const before = await collectKeys(backend, `${name}/`);
        const error = await expectCode(setup({ name, tag: "mine" }), "NOT_SUPPORTED", `new past v${top}`);
        assert.ok(error.message.includes(`'${name}'`) && error.message.includes("9999999999"), error.message);
        if (top > 9_999_999_999) {
          await expectCode(setup({ name, start: "last" }), "NOT_SUPPORTED", "last");
          await expectCode(setup({ name, start: top }), "NOT_SUPPORTED", "that number");
        }
        assert.deepEqual(await collectKeys(backend, `${name}/`), before, "no claim, record or log written");
      }
      // Up to the limit every number is claimed and read back: its claim, tag and run record are listed.
      await backend.put("limit/v0/limit.log", "foreign\n");
      await backend.put("limit/v9999999998/limit.log", "foreign\n");
      const top = await setup({ name: "limit", tag: "mine" });
      assert.equal(top.version, 9_999_999_999);
      const listed = (await top.listVersions()).at(-1);
      assert.deepEqual([listed?.versionName, listed?.claimed, listed?.status], ["v9999999999:mine", true, "running"]);
      await top.close();
    });

    it("a claim whose body names another version is CORRUPT_DATA naming the claim", async () => {
      await (await setup({ name: "forged" })).close();
      const key = "forged/.opencrate/versions/0000000000.json";
      const claim = JSON.parse(await readText(backend, key)) as Record<string, unknown>;
      await backend.put(key, JSON.stringify({ ...claim, version: 7 }));
      const error = await expectCode(setup({ name: "forged", start: 0 }), "CORRUPT_DATA");
      assert.ok(error.message.includes(backend.describe(key)), error.message);
      await expectCode(setup({ name: "forged", start: "last" }), "CORRUPT_DATA");
      assert.deepEqual(await collectKeys(backend, "forged/v7/"), []);
    });

    it("a claim that is not a claim object (null, a number, a string, an array, cut short) is CORRUPT_DATA naming it", async () => {
      await (await setup({ name: "mangled" })).close();
      const key = "mangled/.opencrate/versions/0000000000.json";
      const before = await collectKeys(backend, "mangled/");
      for (const body of ["null", "5", '"x"', "[]", '{"version":0,"tok']) {
        await backend.put(key, body);
        for (const [label, attempt] of [
          ["start 0", () => setup({ name: "mangled", start: 0 })],
          ["start last", () => setup({ name: "mangled", start: "last" })],
          ...(canOpenByUri(factory.label) ? [["open", () => Snapshot.open(`${backend.describe("")}/mangled@latest`)] as const] : []),
        ] as const) {
          const error = await expectCode(attempt(), "CORRUPT_DATA", `${label}, claim ${body}`);
          assert.ok(error.message.includes(backend.describe(key)), error.message);
        }
      }
      assert.deepEqual(await collectKeys(backend, "mangled/"), before, "nothing was written");
    });

    it("a run record that is not a record object is CORRUPT_DATA naming it at once, not after waiting", { timeout: 30_000 }, async () => {
      const record = "mangled-run/.opencrate/runs/job-1.json";
      const bodies = ["null", "5", '"x"', "[]", "{}", '{"runId":"job-1","token":"t","version":"3"}', '{"token":"t","version":-1}',
        '{"token":"t","version":3,"claimToken":7}', '{"token":"t","state":"abandoned"}', '{"token":"t","state":"abandoned","abandoned":{"version":3}}',
        '{"token":"t","state":"abandoned","abandoned":{"version":3,"folder":"v4"}}'];
      for (const body of bodies) {
        await backend.put(record, body);
        const error = await expectCode(setup({ name: "mangled-run", runId: "job-1" }), "CORRUPT_DATA", `run record ${body}`);
        assert.ok(error.message.includes(backend.describe(record)), error.message);
        if (body.includes("claimToken")) assert.match(error.message, /claim token/);
        if (body.includes("abandoned")) assert.match(error.message, /marked abandoned/);
      }
      assert.deepEqual(await collectKeys(backend, "mangled-run/"), [record], "nothing else was written");
    });

    it("a run record naming a version with no claim and no folder is CORRUPT_DATA naming the record", async () => {
      const record = "orphan/.opencrate/runs/job-1.json";
      await backend.put(record, JSON.stringify({ runId: "job-1", token: "t", state: "allocated", version: 5 }));
      const error = await expectCode(setup({ name: "orphan", runId: "job-1" }), "CORRUPT_DATA");
      assert.ok(error.message.includes(backend.describe(record)), error.message);
      await backend.put("orphan/v5/orphan.log", "kept\n");
      const joined = await setup({ name: "orphan", runId: "job-1" });
      assert.equal(joined.version, 5, "with the folder there, the rank joins it");
      await joined.close();
    });

    it('"dev" uses the folder dev[:tag], takes no number, and keeps a history from its second run', async () => {
      const first = await setup({ name: "scratch", start: "dev", tag: "try" });
      assert.equal(first.version, "dev");
      assert.equal(first.versionName, "dev:try");
      assert.equal(first.dirPath, backend.describe("scratch/dev:try"));
      first.info("dev one");
      await first.close();
      const numbered = await setup({ name: "scratch" });
      assert.equal(numbered.version, 0, "dev takes no number");
      await numbered.close();
      const second = await setup({ name: "scratch", start: "dev", tag: "try" });
      second.info("dev two");
      await second.close();
      const history = await readText(backend, "scratch/dev:try/scratch.history.log");
      assert.match(history, /dev one\n.*dev two\n$/s);
      const lister = await setup({ name: "scratch", start: "last" });
      assert.deepEqual(
        (await lister.listVersions()).map((v) => [v.versionName, v.version]),
        [
          ["dev:try", "dev"],
          ["v0", 0],
        ],
      );
      assert.deepEqual(await lister.listTags(), ["try"]);
      await lister.close();
      if (canOpenByUri(factory.label)) {
        const opened = await Snapshot.open(`${backend.describe("")}/scratch/dev:try`);
        assert.equal(opened.version, "dev");
        assert.equal((await Snapshot.open(`${backend.describe("")}/scratch@latest`)).versionName, "v0");
      }
    });

    it("replace empties only the resolved folder and starts it without a history", async () => {
      const run = await setup({ name: "wipe", tag: "a" });
      await run.json("m.json").save({ a: 1 });
      await run.close();
      const resumed = await setup({ name: "wipe", start: 0, tag: "a" });
      await resumed.close();
      const sibling = await setup({ name: "wipe", start: 0 });
      await sibling.text("keep.txt").save("sibling");
      await sibling.close();
      const other = await setup({ name: "wipe", tag: "a" });
      await other.json("m.json").save({ other: true });
      await other.close();
      const before = await collectKeys(backend, "wipe/v1:a/");

      const replaced = await setup({ name: "wipe", start: 0, tag: "a", replace: true });
      assert.equal(replaced.versionName, "v0:a");
      assert.equal(await replaced.json("m.json").exists(), false);
      replaced.info("after replace");
      await replaced.close();
      assert.deepEqual(await collectKeys(backend, "wipe/v0:a/"), ["wipe/v0:a/wipe.log"]);
      assert.match(await readText(backend, "wipe/v0:a/wipe.log"), /after replace\n$/);
      assert.equal(await readText(backend, "wipe/v0/texts/keep.txt"), "sibling");
      assert.deepEqual(await collectKeys(backend, "wipe/v1:a/"), before);
    });

    it("replace refuses a version that does not exist, and start \"new\", before writing anything", async () => {
      await expectCode(setup({ name: "noreplace", start: "last", replace: true }), "VERSION_NOT_FOUND");
      await expectCode(setup({ name: "noreplace", start: 2, replace: true }), "VERSION_NOT_FOUND");
      await expectCode(setup({ name: "noreplace", start: "new", replace: true }), "INVALID_ARGUMENT");
      await expectCode(setup({ name: "noreplace", replace: true }), "INVALID_ARGUMENT");
      assert.deepEqual(await collectKeys(backend, "noreplace/"), []);
      const dev = await setup({ name: "noreplace", start: "dev", replace: true });
      assert.equal(dev.versionName, "dev", "dev has no number to be missing: replace just starts it");
      await dev.close();
    });

    it("replace on a rank other than 0 without a run id is refused before anything is deleted", async () => {
      const run = await setup({ name: "ranked-wipe" });
      await run.text("kept.txt").save("kept");
      await run.close();
      const before = await collectKeys(backend, "ranked-wipe/");
      process.env.RANK = "1";
      try {
        const error = await expectCode(setup({ name: "ranked-wipe", start: "last", replace: true }), "INVALID_ARGUMENT");
        assert.match(error.message, /OPENCRATE_RUN_ID/);
      } finally {
        delete process.env.RANK;
      }
      assert.deepEqual(await collectKeys(backend, "ranked-wipe/"), before);
    });

    it("a run id's later process joins the folder its run emptied instead of emptying it again", async () => {
      const run = await setup({ name: "rejoin" });
      await run.text("old.txt").save("old");
      await run.close();
      const first = await setup({ name: "rejoin", start: 0, replace: true, runId: "job-1" });
      await first.text("new.txt").save("new");
      await first.close();
      const restarted = await setup({ name: "rejoin", start: "last", replace: true, runId: "job-1" });
      assert.equal(restarted.versionName, "v0");
      await restarted.close();
      assert.deepEqual(await collectKeys(backend, "rejoin/v0/"), ["rejoin/v0/rejoin.history.log", "rejoin/v0/rejoin.log", "rejoin/v0/texts/new.txt"]);
      const next = await setup({ name: "rejoin", start: 0, replace: true, runId: "job-2" });
      await next.close();
      assert.deepEqual(await collectKeys(backend, "rejoin/v0/"), ["rejoin/v0/rejoin.log"]);
    });

    it("a replace record that is not a JSON object fails CORRUPT_DATA naming it, deleting nothing", async () => {
      const run = await setup({ name: "bad-replace" });
      await run.text("kept.txt").save("kept");
      await run.close();
      for (const body of ["null", "5", "[]"]) {
        await backend.put("bad-replace/.opencrate/replaces/job-x.json", body);
        const before = await collectKeys(backend, "bad-replace/v0/");
        const error = await expectCode(setup({ name: "bad-replace", start: 0, replace: true, runId: "job-x" }), "CORRUPT_DATA");
        assert.match(error.message, /replaces\/job-x\.json/, body);
        assert.deepEqual(await collectKeys(backend, "bad-replace/v0/"), before, body);
      }
    });

    it("a crash half-way through replace leaves a folder that still holds its log and opens", async () => {
      const run = await setup({ name: "halfway" });
      for (const file of ["a", "b", "c"]) await run.text(`${file}.txt`).save(file);
      await run.close();
      let deletes = 0;
      const crashing = new Proxy(backend, {
        get(target, property) {
          // The wipe deletes each object at its listed revision (delete), or in batches where it cannot (deleteMany).
          if (property === "delete") {
            return async (key: string, options?: DeleteOptions) => {
              if (deletes >= 1) throw new Error("simulated crash during the wipe");
              await target.delete(key, options); // a store that refuses conditional deletes: then a batch
              deletes += 1;
            };
          }
          if (property === "deleteMany") {
            return async (keys: Iterable<string> | AsyncIterable<string>) => {
              for await (const key of keys) {
                if (deletes >= 1) throw new Error("simulated crash during the wipe");
                await target.delete(key);
                deletes += 1;
              }
            };
          }
          const value: unknown = Reflect.get(target, property, target);
          return typeof value === "function" ? value.bind(target) : value;
        },
      });
      await assert.rejects(
        Snapshot.setup({ name: "halfway", start: 0, replace: true, backend: crashing, console: false }),
        /simulated crash/,
      );
      const left = await collectKeys(backend, "halfway/v0/");
      assert.ok(left.includes("halfway/v0/halfway.log"), left.join(", "));
      assert.equal(left.length, 3, "one artifact deleted, two left, the log kept");
      if (canOpenByUri(factory.label)) {
        const opened = await Snapshot.open(`${backend.describe("")}/halfway@0`);
        assert.equal(opened.versionName, "v0");
      }
    });
  });
}

describe("setup option checks", () => {
  const factory = memoryFactory();
  let backend: StorageBackend;
  before(async () => {
    backend = await factory.make();
  });

  it("rejects unknown options naming the key and the nearest valid one, before writing", async () => {
    for (const [key, nearest] of [
      ["strat", "start"],
      ["log_level", "logLevel"],
      ["tags", "tag"],
      ["run_id", "runId"],
    ] as const) {
      const error = await expectCode(
        Snapshot.setup({ name: "opts", backend, console: false, [key]: "x" } as unknown as Parameters<typeof Snapshot.setup>[0]),
        "INVALID_ARGUMENT",
        key,
      );
      assert.ok(error.message.includes(`'${key}'`) && error.message.includes(`'${nearest}'`), error.message);
    }
    await expectCode(Snapshot.setup({ name: "opts", backend, console: false, replace: "yes" as unknown as boolean }), "INVALID_ARGUMENT");
    assert.deepEqual(await collectKeys(backend, ""), []);
  });

  it("rejects a missing options object and an empty run id", async () => {
    for (const bad of [null, undefined, "train", 3, []]) {
      await expectCode(Snapshot.setup(bad as unknown as Parameters<typeof Snapshot.setup>[0]), "INVALID_ARGUMENT", String(bad));
      await expectCode(new Snapshot({ console: false }).setup(bad as unknown as Parameters<typeof Snapshot.setup>[0]), "INVALID_ARGUMENT");
    }
    const error = await expectCode(Snapshot.setup({ name: "opts", runId: "", backend, console: false }), "INVALID_ARGUMENT");
    assert.match(error.message, /run id/);
    assert.deepEqual(await collectKeys(backend, ""), []);
  });

  it("rejects a backend that is not a StorageBackend object, naming the option", async () => {
    const methods = Object.fromEntries(
      ["describe", "head", "get", "getStream", "put", "putStream", "list", "listPage", "delete", "deleteMany", "copy", "close"].map(
        (method) => [method, () => {}],
      ),
    );
    for (const bad of [null, "s3://bucket/x", {}, [], 3, { ...methods }, { capabilities: {}, ...methods, copy: 1 }]) {
      const error = await expectCode(
        Snapshot.setup({ name: "opts", backend: bad as unknown as StorageBackend, console: false }),
        "INVALID_ARGUMENT",
        JSON.stringify(bad),
      );
      assert.match(error.message, /^backend must be a StorageBackend object/);
    }
    const error = await expectCode(Snapshot.setup({ name: "opts", backend: {} as StorageBackend, console: false }), "INVALID_ARGUMENT");
    assert.match(error.message, /lacks capabilities, describe, head/);
    const opened = await Snapshot.setup({ name: "opts-ok", backend, console: false });
    assert.equal(opened.versionName, "v0", "a real backend is still taken");
    await opened.close();
  });

  it("rejects a logFlushIntervalMs that setTimeout cannot wait for", async () => {
    for (const bad of [2 ** 31, Number.POSITIVE_INFINITY, Number.NaN, 0, -1]) {
      const error = await expectCode(Snapshot.setup({ name: "opts", backend, console: false, logFlushIntervalMs: bad }), "INVALID_ARGUMENT", String(bad));
      assert.match(error.message, /logFlushIntervalMs/);
    }
    const slow = await Snapshot.setup({ name: "opts-slow", backend, console: false, logFlushIntervalMs: 2 ** 31 - 1 });
    await slow.close();
  });

  it("rejects a logMaxBufferedBytes that is not a whole number of bytes from 64 KiB", async () => {
    for (const bad of [65_535, 0, -1, 65_536.5, Number.NaN, Number.POSITIVE_INFINITY, "64MiB"]) {
      const error = await expectCode(
        Snapshot.setup({ name: "opts", backend, console: false, logMaxBufferedBytes: bad as number }),
        "INVALID_ARGUMENT",
        String(bad),
      );
      assert.match(error.message, /logMaxBufferedBytes must be a whole number of bytes, at least 65536/);
    }
    const small = await Snapshot.setup({ name: "opts-small", backend, console: false, logMaxBufferedBytes: 65_536 });
    await small.close();
  });
});
