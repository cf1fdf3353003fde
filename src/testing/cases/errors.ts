/** Missing objects and invalid keys: stable codes, messages naming the key, and nothing written. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { StorageBackend } from "../../backends/backend.ts";
import type { ConformanceFixture } from "../fixture.ts";
import { collect, listKeys, rejectsWithCode } from "../helpers.ts";

const INVALID_KEYS = [
  "../x", "a/../b", "/abs", "a//b", "a/./b", ".", "", "a/", "k".repeat(1025), "é".repeat(513),
  // One naming rule on every store: control characters and the library's reserved ".~oc-" prefix.
  "a\nb.json", "tab\t.txt", "nul\0", "del\u007f", ".~oc-tmp-x.json", "dir/.~oc-lock-1",
];

/** Every method that takes a key, called on `key`. */
function keyedCalls(backend: StorageBackend, key: string, body: AsyncIterable<Uint8Array>): Array<[string, () => Promise<unknown>]> {
  return [
    ["head", () => backend.head(key)],
    ["get", () => backend.get(key)],
    ["getStream", () => backend.getStream(key)],
    ["put", () => backend.put(key, "x")],
    ["putStream", () => backend.putStream(key, body)],
    ["delete", () => backend.delete(key)],
    ["deleteMany", () => backend.deleteMany([key])],
    ["copy from", () => backend.copy(key, "valid/target.txt")],
    ["copy to", () => backend.copy("valid/source.txt", key)],
  ];
}

export function errorCases(fixture: ConformanceFixture): void {
  fixture.it("a missing key is NOT_FOUND for head, get, getStream and copy, naming the key", async (backend) => {
    const key = "missing/v0:run/thing.json";
    for (const [name, call] of [
      ["head", () => backend.head(key)],
      ["get", () => backend.get(key)],
      ["get with a range", () => backend.get(key, { range: { offset: 1, length: 2 } })],
      ["getStream", () => backend.getStream(key)],
      ["copy", () => backend.copy(key, "elsewhere.json")],
    ] as const) {
      const error = await rejectsWithCode(call(), "NOT_FOUND", name);
      assert.ok(error.message.includes(key), `${name}: the message names the key: ${error.message}`);
    }
    assert.deepEqual(await listKeys(backend, ""), [], "a failed copy writes nothing");
  });

  fixture.it("invalid keys are INVALID_ARGUMENT before any I/O", async (backend) => {
    await backend.put("valid/source.txt", "source");
    for (const key of INVALID_KEYS) {
      let bodyRead = false;
      async function* body(): AsyncGenerator<Uint8Array> {
        bodyRead = true;
        yield Buffer.from("never");
      }
      for (const [name, call] of keyedCalls(backend, key, body())) {
        await rejectsWithCode(call(), "INVALID_ARGUMENT", `${name} ${JSON.stringify(key.slice(0, 20))}`);
      }
      assert.equal(bodyRead, false, `putStream read no body for ${JSON.stringify(key.slice(0, 20))}`);
    }
    assert.deepEqual(await listKeys(backend, ""), ["valid/source.txt"], "nothing was written");
  });

  fixture.it("listing or deleting under a missing prefix is empty, not an error", async (backend) => {
    assert.deepEqual(await collect(backend.list("nothing/here/")), []);
    assert.deepEqual(await backend.listPage("nothing/here/"), { objects: [], prefixes: [] });
    await backend.delete("nothing/here/either.txt");
    await rejectsWithCode(backend.head("nothing"), "NOT_FOUND", "head");
  });

  fixture.it("putFile, where offered, refuses a missing file, a folder and a pipe with INVALID_ARGUMENT naming it", async (backend) => {
    if (backend.putFile === undefined) return;
    const folder = await mkdtemp(join(tmpdir(), "oc-conformance-putfile-"));
    try {
      // Opening a named pipe with no writer would block for ever: it must be refused before it is opened.
      const pipe = join(folder, "pipe");
      execFileSync("mkfifo", [pipe]);
      for (const [name, localPath] of [
        ["a missing file", join(folder, "absent.bin")],
        ["a folder", folder],
        ["a named pipe", pipe],
      ] as const) {
        const error = await rejectsWithCode(backend.putFile("uploads/bad.bin", localPath), "INVALID_ARGUMENT", name);
        assert.ok(error.message.includes(localPath), `${name}: the message names the local path: ${error.message}`);
      }
      assert.deepEqual(await listKeys(backend, ""), [], "nothing was written");
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });
}
