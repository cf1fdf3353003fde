/**
 * A process of a run joins only the version its run claimed: when that number was deleted and claimed again by
 * another job, a later process of the run fails ALREADY_EXISTS and writes nothing, for "new" and "last". A run
 * record written before records carried the claim's token is still joined. With `replace`, the process that
 * emptied the folder marks only its own replace record: one removed and created anew by another process of the
 * run meanwhile is left to that process, and a record it marked stays when its setup fails afterwards. Over the
 * memory backend, local disk, MinIO and fake-gcs-server.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { DeleteOptions, StorageBackend } from "../../src/backends/backend.ts";
import { RetryPolicy } from "../../src/backends/retry-policy.ts";
import { TransientError } from "../../src/errors.ts";
import { Snapshot, type SetupOptions } from "../../src/index.ts";
import { allBackendFactories } from "../support/backends.ts";
import { collectKeys, expectCode, readText } from "../support/assertions.ts";

const factories = allBackendFactories().filter((factory) => /^(memory|local|minio|gcs)\b/.test(factory.label));

async function folderOf(backend: StorageBackend, name: string, options: Partial<SetupOptions>): Promise<string> {
  const snapshot = await Snapshot.setup({ name, backend, console: false, ...options } as SetupOptions);
  const folder = snapshot.versionName;
  await snapshot.close();
  return folder;
}

/** Deletes version `version` of `name` by hand: its folder and its claim. */
async function deleteVersion(backend: StorageBackend, name: string, version: number): Promise<void> {
  await backend.deleteMany(await collectKeys(backend, `${name}/v${version}/`));
  await backend.delete(`${name}/.opencrate/versions/${String(version).padStart(10, "0")}.json`);
}

/** Every key under `<name>/` with its body. */
async function contentsOf(backend: StorageBackend, name: string): Promise<Record<string, string>> {
  const contents: Record<string, string> = {};
  for (const key of await collectKeys(backend, `${name}/`)) contents[key] = await readText(backend, key);
  return contents;
}

/**
 * The backend, except that its first `deleteMany` (the emptying of the replaced folder) is preceded by another
 * process of run `runId` removing the replace record and creating its own.
 */
function replacedWhileEmptying(backend: StorageBackend, name: string, runId: string): { backend: StorageBackend; other: string } {
  const key = `${name}/.opencrate/replaces/${runId}.json`;
  const other = JSON.stringify({ runId, token: "another process", state: "emptying", target: { version: 0, folder: "v0" } });
  let done = false;
  const wrapped = new Proxy(backend, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      // The emptying: each object deleted at its listed revision (delete), or in batches where it cannot (deleteMany).
      const replaceRecord = async () => {
        if (done) return;
        done = true;
        await target.delete(key);
        await target.put(key, other, { mode: { kind: "create" } });
      };
      if (property === "delete") {
        return async (doomed: string, options?: DeleteOptions) => {
          if (doomed.startsWith(`${name}/v`)) await replaceRecord();
          return target.delete(doomed, options);
        };
      }
      if (property === "deleteMany") {
        return async (keys: Iterable<string> | AsyncIterable<string>) => {
          await replaceRecord();
          return target.deleteMany(keys);
        };
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { backend: wrapped, other };
}

/**
 * The backend, with one attempt per conditional write, where marking run `runId`'s replace record emptied lands
 * but its answer is lost (TRANSIENT), so the setup that emptied the folder fails after the mark.
 */
function markAnswerLost(backend: StorageBackend, name: string, runId: string): StorageBackend {
  const key = `${name}/.opencrate/replaces/${runId}.json`;
  const retryPolicy = new RetryPolicy({ attempts: 1 });
  return new Proxy(backend, {
    get(target, property) {
      if (property === "retryPolicy") return retryPolicy;
      const value: unknown = Reflect.get(target, property, target);
      if (property === "put") {
        return async (...args: Parameters<StorageBackend["put"]>) => {
          const info = await target.put(...args);
          if (args[0] === key && args[2]?.mode?.kind === "replace") throw new TransientError(`the answer for ${key} was lost`);
          return info;
        };
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

for (const factory of factories) {
  describe(`joining a run's version on ${factory.label}`, { skip: factory.skip }, () => {
    let backend: StorageBackend;
    before(async () => {
      backend = await factory.make();
    });
    after(() => factory.cleanup());

    it("'new': a version deleted and claimed again by another job is not joined (ALREADY_EXISTS, nothing written)", async () => {
      assert.equal(await folderOf(backend, "jn", {}), "v0");
      assert.equal(await folderOf(backend, "jn", { runId: "job-a" }), "v1");
      await deleteVersion(backend, "jn", 1);
      assert.equal(await folderOf(backend, "jn", {}), "v1", "another job claims the number again");
      const before = await contentsOf(backend, "jn");
      const error = await expectCode(Snapshot.setup({ name: "jn", backend, console: false, runId: "job-a" }), "ALREADY_EXISTS");
      assert.match(error.message, /job-a/);
      assert.match(error.message, /version 1\b/);
      assert.deepEqual(await contentsOf(backend, "jn"), before);
    });

    it("'last': a version deleted and claimed again by another job is not joined (ALREADY_EXISTS, nothing written)", async () => {
      assert.equal(await folderOf(backend, "jl", {}), "v0");
      assert.equal(await folderOf(backend, "jl", {}), "v1");
      assert.equal(await folderOf(backend, "jl", { start: "last", runId: "job-l" }), "v1");
      assert.equal(await folderOf(backend, "jl", { start: "last", runId: "job-l" }), "v1", "a later process of the run joins");
      await deleteVersion(backend, "jl", 1);
      assert.equal(await folderOf(backend, "jl", {}), "v1", "another job claims the number again");
      const before = await contentsOf(backend, "jl");
      const error = await expectCode(Snapshot.setup({ name: "jl", backend, console: false, start: "last", runId: "job-l" }), "ALREADY_EXISTS");
      assert.match(error.message, /job-l/);
      assert.match(error.message, /version 1\b/);
      assert.deepEqual(await contentsOf(backend, "jl"), before);
    });

    it("a run record written without the claim's token is joined as before", async () => {
      assert.equal(await folderOf(backend, "jo", { runId: "job-o" }), "v0");
      const key = "jo/.opencrate/runs/job-o.json";
      const record = JSON.parse(await readText(backend, key)) as Record<string, unknown>;
      await backend.put(key, JSON.stringify({ runId: record.runId, token: record.token, state: "allocated", version: 0 }));
      assert.equal(await folderOf(backend, "jo", {}), "v1");
      assert.equal(await folderOf(backend, "jo", { runId: "job-o" }), "v0");
    });

    it("replace: a replace record removed and created anew by another process meanwhile is not marked (TRANSIENT)", async () => {
      const run = await Snapshot.setup({ name: "jr", backend, console: false });
      await run.text("old.txt").save("old");
      await run.close();
      const { backend: racing, other } = replacedWhileEmptying(backend, "jr", "job-e");
      await expectCode(Snapshot.setup({ name: "jr", backend: racing, console: false, start: 0, replace: true, runId: "job-e" }), "TRANSIENT");
      assert.equal(await readText(backend, "jr/.opencrate/replaces/job-e.json"), other, "the other process's record is left alone");
    });

    it("replace: a record marked emptied is kept when the setup that marked it fails, so the run does not empty it again", async () => {
      const run = await Snapshot.setup({ name: "jk", backend, console: false });
      await run.text("old.txt").save("old");
      await run.close();
      const lossy = markAnswerLost(backend, "jk", "job-k");
      await expectCode(Snapshot.setup({ name: "jk", backend: lossy, console: false, start: 0, replace: true, runId: "job-k" }), "TRANSIENT");
      const record = JSON.parse(await readText(backend, "jk/.opencrate/replaces/job-k.json")) as Record<string, unknown>;
      assert.equal(record.state, "emptied");
      // Another rank of the run saw the mark and joined the folder.
      const joined = await Snapshot.setup({ name: "jk", backend, console: false, start: 0, replace: true, runId: "job-k" });
      await joined.text("joined.txt").save("joined");
      await joined.close();
      const restarted = await Snapshot.setup({ name: "jk", backend, console: false, start: 0, replace: true, runId: "job-k" });
      await restarted.close();
      assert.deepEqual(await collectKeys(backend, "jk/v0/texts/"), ["jk/v0/texts/joined.txt"], "the joined rank's artifact stays");
    });
  });
}
