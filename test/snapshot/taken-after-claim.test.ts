/**
 * A "new" run whose version folder another writer fills once the folder check before the claim has passed (as
 * Python OpenCrate's "new" does when it numbers the same version a moment earlier): the claim stays, unused, the
 * run takes the next number, and nothing in that folder is touched, whether the other writer's objects turn up
 * before the claim lands or just before the run's own `.log`. With a run id the version the record names is
 * joined by the run's other ranks; one rank 0 gives up (its `.log` met another writer's) is joined by none of them,
 * neither a later rank nor one already waiting for the record. Over every backend: memory, local disk, MinIO, moto
 * and fake-gcs-server.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { StorageBackend, WriteOptions } from "../../src/backends/backend.ts";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { AlreadyExistsError, NotFoundError, type OpenCrateError } from "../../src/errors.ts";
import { Snapshot, type SetupOptions } from "../../src/index.ts";
import { claimKey, logKey, runRecordKey } from "../../src/snapshot/layout.ts";
import { VersionStore } from "../../src/snapshot/versions.ts";
import { allBackendFactories } from "../support/backends.ts";
import { collectKeys, expectCode, readText } from "../support/assertions.ts";

const factories = allBackendFactories();

const PYTHON_LINE = "2026-01-01 00:00:01 - INFO     python's run\n";

/**
 * `backend`, except that just before the first put of `trigger` another writer puts `foreign` (key → body), as
 * if it had numbered the same version a moment earlier.
 */
function filledBefore(backend: StorageBackend, trigger: string, foreign: Record<string, string>): StorageBackend {
  let done = false;
  return new Proxy(backend, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (property === "put") {
        return async (key: string, body: string | Uint8Array, options?: WriteOptions) => {
          if (key === trigger && !done) {
            done = true;
            for (const [foreignKey, foreignBody] of Object.entries(foreign)) await target.put(foreignKey, foreignBody);
          }
          return target.put(key, body, options);
        };
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** `backend`, except that the first head of `hidden` finds nothing, as before another process of the run wrote it. */
function seenLate(backend: StorageBackend, hidden: string): StorageBackend {
  let done = false;
  return new Proxy(backend, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (property === "head") {
        return async (key: string, ...rest: unknown[]) => {
          if (key === hidden && !done) {
            done = true;
            throw new NotFoundError(`${key} not found`, { path: target.describe(key) });
          }
          return (target.head as (key: string, ...rest: unknown[]) => unknown)(key, ...rest);
        };
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/**
 * `backend`, except that every read of `key` after the first waits until `release` is called: a rank that found
 * the run record still "allocating" reads it again only once the test lets it.
 */
function readsHeldAfterFirst(backend: StorageBackend, key: string): { backend: StorageBackend; firstRead: Promise<void>; release: () => void } {
  let firstRead = (): void => {};
  let release = (): void => {};
  const read = new Promise<void>((resolve) => (firstRead = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));
  let reads = 0;
  const wrapped = new Proxy(backend, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (property === "get") {
        return async (got: string, ...rest: unknown[]) => {
          if (got === key && ++reads > 1) await released;
          try {
            return await (target.get as (key: string, ...rest: unknown[]) => Promise<Uint8Array>)(got, ...rest);
          } finally {
            if (got === key) firstRead();
          }
        };
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { backend: wrapped, firstRead: read, release };
}

/** `backend`, except that `meanwhile` runs just before the run record at `key` is first rewritten (naming the version). */
function beforeNaming(backend: StorageBackend, key: string, meanwhile: () => Promise<void>): StorageBackend {
  let done = false;
  return new Proxy(backend, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (property === "put") {
        return async (put: string, body: string | Uint8Array, options?: WriteOptions) => {
          if (put === key && options?.mode?.kind === "replace" && !done) {
            done = true;
            await meanwhile();
          }
          return target.put(put, body, options);
        };
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** Starts `start` with RANK set to `rank` (setup reads it before its first await), then puts RANK back. */
function withRank<T>(rank: number, start: () => Promise<T>): Promise<T> {
  const before = process.env.RANK;
  process.env.RANK = String(rank);
  try {
    return start();
  } finally {
    if (before === undefined) delete process.env.RANK;
    else process.env.RANK = before;
  }
}

async function setup(backend: StorageBackend, name: string, options: Partial<SetupOptions> = {}): Promise<Snapshot> {
  return Snapshot.setup({ name, backend, console: false, ...options } as SetupOptions);
}

/** Every key under `prefix` with its body. */
async function contentsOf(backend: StorageBackend, prefix: string): Promise<Record<string, string>> {
  const contents: Record<string, string> = {};
  for (const key of await collectKeys(backend, prefix)) contents[key] = await readText(backend, key);
  return contents;
}

async function claimedNumbers(backend: StorageBackend, name: string): Promise<string[]> {
  return (await collectKeys(backend, `${name}/.opencrate/versions/`)).map((key) => key.slice(key.lastIndexOf("/") + 1));
}

for (const factory of factories) {
  describe(`a "new" version folder another writer fills after the check, on ${factory.label}`, { skip: factory.skip }, () => {
    let backend: StorageBackend;
    before(async () => {
      backend = await factory.make();
    });
    after(() => factory.cleanup());

    it("a .log that turns up before the claim lands is left alone; the claim stays and the run takes the next number", async () => {
      await (await setup(backend, "pre")).close();
      const foreign = { [logKey("pre", "v1")]: PYTHON_LINE };
      const snapshot = await setup(filledBefore(backend, claimKey("pre", 1), foreign), "pre");
      assert.equal(snapshot.versionName, "v2");
      snapshot.info("ours");
      await snapshot.close();
      assert.deepEqual(await contentsOf(backend, "pre/v1/"), foreign, "v1 holds the other writer's log only");
      assert.match(await readText(backend, logKey("pre", "v2")), /ours\n$/);
      assert.deepEqual(await claimedNumbers(backend, "pre"), ["0000000000.json", "0000000001.json", "0000000002.json"]);
      const versions = await new VersionStore(backend, "pre").listVersions();
      assert.deepEqual(
        versions.map((v) => [v.folder, v.claim !== undefined, v.hasFolder]),
        [
          ["v0", true, true],
          ["v1", true, true],
          ["v2", true, true],
        ],
        "the kept claim is not a claimed empty version: its number has the other writer's folder",
      );
    });

    it("any object, in a folder of the number with another tag, takes the number too; the tag is kept for the next", async () => {
      const foreign = { "tagged/v0:python/jsons/data.json": JSON.stringify({ from: "python" }) };
      const snapshot = await setup(filledBefore(backend, claimKey("tagged", 0), foreign), "tagged", { tag: "ours" });
      assert.equal(snapshot.versionName, "v1:ours");
      await snapshot.close();
      assert.deepEqual(await contentsOf(backend, "tagged/v0:python/"), foreign);
      assert.deepEqual(await collectKeys(backend, "tagged/v0/"), []);
    });

    it("a .log that turns up after the claim, just before the run's own, is left alone; the run takes the next number", async () => {
      await (await setup(backend, "late")).close();
      const foreign = { [logKey("late", "v1")]: PYTHON_LINE };
      const snapshot = await setup(filledBefore(backend, logKey("late", "v1"), foreign), "late");
      assert.equal(snapshot.versionName, "v2");
      snapshot.info("ours");
      await snapshot.close();
      assert.deepEqual(await contentsOf(backend, "late/v1/"), foreign, "v1 holds the other writer's log only");
      assert.match(await readText(backend, logKey("late", "v2")), /ours\n$/);
      assert.deepEqual(await claimedNumbers(backend, "late"), ["0000000000.json", "0000000001.json", "0000000002.json"]);
    });

    it("with a run id, the first process moves on before naming the version, and another rank joins that one", async () => {
      const foreign = { [logKey("ranks", "v0")]: PYTHON_LINE };
      const first = await setup(filledBefore(backend, claimKey("ranks", 0), foreign), "ranks", { runId: "job-a" });
      assert.equal(first.versionName, "v1");
      process.env.RANK = "1";
      let second: Snapshot;
      try {
        second = await setup(backend, "ranks", { runId: "job-a" });
      } finally {
        delete process.env.RANK;
      }
      assert.equal(second.versionName, "v1", "rank 1 joins the version its run's record names");
      first.info("rank 0");
      second.info("rank 1");
      await Promise.all([first.close(), second.close()]);
      assert.deepEqual(await contentsOf(backend, "ranks/v0/"), foreign);
      assert.match(await readText(backend, "ranks/v1/ranks.log"), /rank 0\n$/);
      assert.match(await readText(backend, "ranks/v1/ranks.rank1.log"), /rank 1\n$/);
    });

    it("with a run id and no rank, a process joining finds the run's .log only once it writes its own, and joins", async () => {
      const first = await setup(backend, "joiner", { runId: "job-j" });
      first.info("first");
      await first.flush();
      const second = await setup(seenLate(backend, logKey("joiner", "v0")), "joiner", { runId: "job-j" });
      assert.equal(second.versionName, "v0");
      await Promise.all([first.close(), second.close()]);
    });

    it("with a run id and ranks, a .log that turns up just before rank 0's own fails ALREADY_EXISTS naming it, leaving it alone", async () => {
      const foreign = { [logKey("joined", "v0")]: PYTHON_LINE };
      const before = process.env.RANK;
      process.env.RANK = "0";
      const error = await expectCode(setup(filledBefore(backend, logKey("joined", "v0"), foreign), "joined", { runId: "job-b" }), "ALREADY_EXISTS").finally(() => {
        if (before === undefined) delete process.env.RANK;
        else process.env.RANK = before;
      });
      assert.ok(error.message.includes(backend.describe(logKey("joined", "v0"))), error.message);
      assert.deepEqual(await contentsOf(backend, "joined/v0/"), foreign);
    });

    it("with a run id and ranks, once rank 0 gives the taken version up, a later rank and a rerun fail naming it, writing nothing there", async () => {
      const foreign = { [logKey("given", "v0")]: PYTHON_LINE };
      await withRank(0, () => expectCode(setup(filledBefore(backend, logKey("given", "v0"), foreign), "given", { runId: "job-g" }), "ALREADY_EXISTS"));
      for (const rank of [1, 0]) {
        const error = await expectCode(withRank(rank, () => setup(backend, "given", { runId: "job-g" })), "ALREADY_EXISTS", `rank ${rank}`);
        assert.ok(error.message.includes("'job-g'") && error.message.includes(backend.describe("given/v0")), error.message);
      }
      assert.deepEqual(await contentsOf(backend, "given/v0/"), foreign);
      assert.deepEqual(await claimedNumbers(backend, "given"), ["0000000000.json"], "no rank took another number for the run");
    });

    it("with a run id and ranks, a rank waiting for rank 0 to name the version stops once rank 0 gives it up", async () => {
      const record = runRecordKey("waited", "job-w");
      const foreign = { [logKey("waited", "v0")]: PYTHON_LINE };
      const gate = readsHeldAfterFirst(backend, record);
      let waiting: Promise<OpenCrateError> | undefined;
      // Rank 1 starts once rank 0 has created the record and before it names the version: it finds the record
      // "allocating" and waits; its later reads of the record wait until rank 0's setup has failed.
      const first = beforeNaming(filledBefore(backend, logKey("waited", "v0"), foreign), record, async () => {
        waiting = expectCode(withRank(1, () => setup(gate.backend, "waited", { runId: "job-w" })), "ALREADY_EXISTS", "rank 1");
        await gate.firstRead;
      });
      await withRank(0, () => expectCode(setup(first, "waited", { runId: "job-w" }), "ALREADY_EXISTS", "rank 0"));
      gate.release();
      assert.ok(waiting !== undefined, "rank 1 started");
      const error = await waiting;
      assert.ok(error.message.includes("'job-w'") && error.message.includes(backend.describe("waited/v0")), error.message);
      assert.deepEqual(await contentsOf(backend, "waited/v0/"), foreign);
    });
  });
}

describe('"new" on a store that does not settle its own conditional writes', () => {
  it("its own empty .log, landed with its answer lost and met again, is not taken for another writer's", async () => {
    const inner = new MemoryBackend({ name: "unsettled" });
    const capabilities = { ...inner.capabilities, settlesConditionalWrites: false };
    const log = logKey("own", "v0");
    let lost = false;
    const backend = new Proxy(inner, {
      get(target, property) {
        if (property === "capabilities") return capabilities;
        const value: unknown = Reflect.get(target, property, target);
        if (property === "put") {
          return async (key: string, body: string | Uint8Array, options?: WriteOptions) => {
            const info = await target.put(key, body, options);
            if (key === log && !lost) {
              // The store's client sent it again after a lost answer, and met the first send.
              lost = true;
              throw new AlreadyExistsError(`${key} already exists`, { path: target.describe(key) });
            }
            return info;
          };
        }
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const snapshot = await setup(backend, "own");
    assert.equal(snapshot.versionName, "v0");
    snapshot.info("ours");
    await snapshot.close();
    assert.match(await readText(inner, log), /ours\n$/);
    assert.deepEqual(await claimedNumbers(inner, "own"), ["0000000000.json"]);
  });
});
