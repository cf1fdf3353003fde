/** One version's page reads the versions of its name without listing their folders. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ObjectInfo, StorageBackend } from "../../src/backends/backend.ts";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { Catalog } from "../../src/ui/catalog.ts";
import { isOpenCrateError } from "../../src/errors.ts";

/** `backend`, counting the objects its recursive listings give under a version folder of `train`. */
function countingListed(backend: StorageBackend, counter: { listed: number }): StorageBackend {
  return new Proxy(backend, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== "function") return value;
      if (property !== "list") return value.bind(target);
      return async function* list(prefix: string, ...rest: unknown[]): AsyncIterable<ObjectInfo> {
        for await (const info of (value as (...args: unknown[]) => AsyncIterable<ObjectInfo>).call(target, prefix, ...rest)) {
          if (/^train\/v\d+\//.test(info.key)) counter.listed++;
          yield info;
        }
      };
    },
  });
}

describe("the versions of a name for one version's page", () => {
  it("gives versions() rows without sizes, reading no version folder's listing past its first file", async () => {
    const memory = new MemoryBackend({ name: `ui-version-runs-${process.pid}` });
    const folders = 5;
    const files = 50;
    for (let version = 0; version < folders; version++) {
      for (let file = 0; file < files; file++) await memory.put(`train/v${version}/f${file}.txt`, new TextEncoder().encode("x"));
    }
    const counter = { listed: 0 };
    const catalog = new Catalog(countingListed(memory, counter));
    const runs = await catalog.versionRuns("train");
    assert.deepEqual(runs.map((run) => [run.versionName, run.hasFolder]), [0, 1, 2, 3, 4].map((version) => [`v${version}`, true]));
    assert.ok(runs.every((run) => !("size" in run) && !("files" in run)));
    // Finding a version looks at its folder's first file; nothing more is read.
    assert.ok(counter.listed <= folders, `${counter.listed} objects listed`);
    counter.listed = 0;
    const sized = await catalog.versions("train");
    assert.ok(counter.listed >= folders * files, "versions() lists every file of every folder");
    assert.deepEqual(sized.map(({ size: _size, files: _files, ...run }) => run), runs);
    await assert.rejects(catalog.versionRuns("missing"), (error: unknown) => isOpenCrateError(error, "NOT_FOUND"));
  });
});
