/**
 * streamFolder (src/cli/files.ts), which `pull` reads its listing through: a short first page, then the store's own
 * pages from the last key of it. Every key comes once, in key order, whatever the count around the first page's
 * size; the first request asks for the short page.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ListOptions, ObjectInfo } from "../../src/backends/backend.ts";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { listFolder, streamFolder } from "../../src/cli/files.ts";

/** A memory backend that records the options of every listing asked of it. */
class RecordingBackend extends MemoryBackend {
  readonly listings: ListOptions[] = [];

  override list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectInfo> {
    this.listings.push(options);
    return super.list(prefix, options);
  }
}

async function backendWith(count: number): Promise<RecordingBackend> {
  const backend = new RecordingBackend();
  for (let i = 0; i < count; i++) await backend.put(`run/v0/jsons/item_${String(i).padStart(4, "0")}.json`, "{}");
  // Beside the folder: never listed.
  await backend.put("run/v1/jsons/other.json", "{}");
  await backend.put("run/v00.json", "{}");
  return backend;
}

describe("streamFolder", () => {
  for (const count of [0, 1, 199, 200, 201, 450]) {
    it(`gives each of ${count} keys once, in key order, as listFolder does`, async () => {
      const backend = await backendWith(count);
      const streamed: string[] = [];
      for await (const file of streamFolder(backend, "run/v0/")) streamed.push(file.path);
      const listed = (await listFolder(backend, "run/v0/")).map((file) => file.path);
      assert.equal(streamed.length, count);
      assert.deepEqual(streamed, listed);
      assert.equal(backend.listings[0]?.pageSize, 200, "the first request asks for a short page");
      // A second listing starts after the first page's last key, only when that page was full.
      const second = backend.listings.slice(1).find((options) => options.startAfter !== undefined);
      assert.equal(second?.startAfter, count >= 200 ? "run/v0/jsons/item_0199.json" : undefined);
    });
  }

  it("passes the caller's signal to every listing it asks for", async () => {
    const backend = await backendWith(450);
    const controller = new AbortController();
    let count = 0;
    for await (const file of streamFolder(backend, "run/v0/", controller.signal)) count += file.size >= 0 ? 1 : 0;
    assert.equal(count, 450);
    assert.equal(backend.listings.length, 2);
    for (const options of backend.listings) assert.equal(options.signal, controller.signal);
  });
});
