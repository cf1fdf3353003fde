/**
 * `start: "last"` with a run id is decided once per run: the first process of the run picks the highest number
 * and names it in the run record; the run's other processes join that number even after another job has claimed
 * a higher one (tagged folders, folders written by other tools without claims). A run whose first process fails
 * to decide leaves no record behind for the others to wait on. Over the memory backend and local disk.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { StorageBackend } from "../../src/backends/backend.ts";
import { LocalBackend } from "../../src/backends/local/index.ts";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { Snapshot, type SetupOptions } from "../../src/index.ts";
import { TransientError } from "../../src/errors.ts";
import { collectKeys, expectCode } from "../support/assertions.ts";

const folders: string[] = [];
after(() => Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true }))));

const makers: [string, () => Promise<StorageBackend>][] = [
  ["memory", async () => new MemoryBackend({ name: `run-last-${Math.random()}` })],
  [
    "local",
    async () => {
      const root = await mkdtemp(join(tmpdir(), "opencrate-run-last-"));
      folders.push(root);
      return new LocalBackend({ root });
    },
  ],
];

async function folderOf(backend: StorageBackend, options: Partial<SetupOptions>): Promise<string> {
  const snapshot = await Snapshot.setup({ name: "t", backend, console: false, ...options } as SetupOptions);
  const folder = snapshot.versionName;
  await snapshot.close();
  return folder;
}

for (const [label, make] of makers) {
  describe(`start "last" with a run id on ${label}`, () => {
    it("with a tag: the run's processes share the tagged sibling folder of the number the first one picked", async () => {
      const backend = await make();
      assert.equal(await folderOf(backend, {}), "v0");
      assert.equal(await folderOf(backend, { start: "last", tag: "eval", runId: "job-t" }), "v0:eval");
      assert.equal(await folderOf(backend, {}), "v1", "another job claims v1");
      assert.equal(await folderOf(backend, { start: "last", tag: "eval", runId: "job-t" }), "v0:eval");
      assert.deepEqual(await collectKeys(backend, "t/v1/"), ["t/v1/t.log"]);
    });

    it("folders written by another tool (no claims): the run keeps the number it picked", async () => {
      const backend = await make();
      await backend.put("t/v0:initial-run/t.log", "python run\n");
      assert.equal(await folderOf(backend, { start: "last", tag: "initial-run", runId: "job-py" }), "v0:initial-run");
      assert.equal(await folderOf(backend, {}), "v1");
      assert.equal(await folderOf(backend, { start: "last", tag: "initial-run", runId: "job-py" }), "v0:initial-run");
      assert.equal(await folderOf(backend, { start: "last" }), "v1", "without a run id, 'last' is the highest");
    });

    it("a first process that cannot decide (replace with no version) leaves no run record to wait on", async () => {
      const backend = await make();
      await expectCode(Snapshot.setup({ name: "t", backend, console: false, start: "last", replace: true, runId: "job-r" }), "VERSION_NOT_FOUND");
      assert.deepEqual(await collectKeys(backend, "t/.opencrate/runs/"), []);
      const started = Date.now();
      await expectCode(Snapshot.setup({ name: "t", backend, console: false, start: "last", replace: true, runId: "job-r" }), "VERSION_NOT_FOUND");
      assert.ok(Date.now() - started < 10_000, "fails at once instead of waiting for a version nobody will name");
    });

    it("a run whose recorded version was deleted fails with CORRUPT_DATA instead of moving to another version", async () => {
      const backend = await make();
      assert.equal(await folderOf(backend, {}), "v0");
      assert.equal(await folderOf(backend, {}), "v1");
      assert.equal(await folderOf(backend, { start: "last", runId: "job-d" }), "v1");
      for (const key of await collectKeys(backend, "t/v1/")) await backend.delete(key);
      await backend.delete("t/.opencrate/versions/0000000001.json");
      await expectCode(Snapshot.setup({ name: "t", backend, console: false, start: "last", runId: "job-d" }), "CORRUPT_DATA");
    });
  });
}

/** A store where, once the first claim is in, another process of the run deletes the run record and creates its own. */
class RecordReplacedMidway extends MemoryBackend {
  #claimed = false;
  #replaced = false;

  override async put(...args: Parameters<MemoryBackend["put"]>): ReturnType<MemoryBackend["put"]> {
    const info = await super.put(...args);
    if (args[0].includes("/.opencrate/versions/")) this.#claimed = true;
    return info;
  }

  override async head(...args: Parameters<MemoryBackend["head"]>): ReturnType<MemoryBackend["head"]> {
    const [key] = args;
    if (this.#claimed && !this.#replaced && key.endsWith("/.opencrate/runs/job-r.json")) {
      this.#replaced = true;
      await super.delete(key);
      await super.put(key, JSON.stringify({ runId: "job-r", token: "another process", state: "allocating" }));
    }
    return super.head(...args);
  }
}

describe("a run record replaced while its first process names the version", () => {
  it("is not written over: that process fails TRANSIENT and the new record stays the other process's", async () => {
    const backend = new RecordReplacedMidway({ name: `run-record-replaced-${Math.random()}` });
    await expectCode(Snapshot.setup({ name: "t", backend, console: false, runId: "job-r" }), "TRANSIENT");
    const record = JSON.parse(Buffer.from(await backend.get("t/.opencrate/runs/job-r.json")).toString("utf8")) as Record<string, unknown>;
    assert.deepEqual(record, { runId: "job-r", token: "another process", state: "allocating" });
  });
});

/** A store that never lets the run record be updated: naming the version fails TRANSIENT. */
class RecordNotUpdatable extends MemoryBackend {
  override async put(...args: Parameters<MemoryBackend["put"]>): ReturnType<MemoryBackend["put"]> {
    const [key, , options] = args;
    if (key.includes("/.opencrate/runs/") && options?.mode?.kind === "replace") throw new TransientError(`no update of ${key}`);
    return super.put(...args);
  }
}

describe("a first process that cannot name its version in the run record", () => {
  it("removes its record, so the run's other processes do not wait for it", async () => {
    const backend = new RecordNotUpdatable({ name: `run-record-stuck-${Math.random()}` });
    await expectCode(Snapshot.setup({ name: "t", backend, console: false, runId: "job-s" }), "TRANSIENT");
    assert.deepEqual(await collectKeys(backend, "t/.opencrate/runs/"), []);
  });
});
