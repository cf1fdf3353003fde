/** Round trips, overwrite, delete, copy and metadata: what every write and read must do. */
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import type { ConformanceFixture } from "../fixture.ts";
import { assertSameBytes, assertValidInfo, listKeys, MiB, randomBody, readText, rejectsWithCode, utf8 } from "../helpers.ts";

export function basicCases(fixture: ConformanceFixture): void {
  for (const [label, size] of [["0 B", 0], ["1 B", 1], ["8 MiB", 8 * MiB]] as const) {
    fixture.it(`round-trips ${label} of random bytes`, async (backend) => {
      const key = `round-trip/v0:initial-run/${size}.bin`;
      const body = randomBody(size);
      const written = await backend.put(key, body);
      assertValidInfo(written, key, size, "put");
      assertSameBytes(await backend.get(key), body, "get");
      const head = await backend.head(key);
      assertValidInfo(head, key, size, "head");
      assert.equal(head.revision, written.revision, "head reports the revision put returned");
    });
  }

  fixture.it("stores string bodies as UTF-8", async (backend) => {
    const text = "héllo wörld ✓ 🚀 中文";
    const info = await backend.put("texts/greeting.txt", text);
    assert.equal(info.size, Buffer.byteLength(text, "utf8"));
    assertSameBytes(await backend.get("texts/greeting.txt"), Buffer.from(text, "utf8"), "utf-8 bytes");
    assert.equal(await readText(backend, "texts/greeting.txt"), text);
  });

  fixture.it("keeps keys with ':', spaces and non-ASCII names apart", async (backend) => {
    const keys = ["v0:initial-run/logs/a b.txt", "v0/logs/a b.txt", "ünï/κλειδί.json", "v1:x/y:z"];
    for (const key of keys) await backend.put(key, `body of ${key}`);
    for (const key of keys) assert.equal(await readText(backend, key), `body of ${key}`);
    assert.deepEqual(await listKeys(backend, ""), [...keys].sort());
  });

  fixture.it("overwrites by default and gives the new object a new revision", async (backend) => {
    const first = await backend.put("doc.txt", "first");
    const second = await backend.put("doc.txt", "second, longer");
    assert.notEqual(second.revision, first.revision);
    assert.equal(await readText(backend, "doc.txt"), "second, longer");
    assert.equal((await backend.head("doc.txt")).size, "second, longer".length);
    const third = await backend.put("doc.txt", "second, LONGER");
    assert.notEqual(third.revision, second.revision, "same size, new content: still a new revision");
  });

  fixture.it("delete removes an object; deleting a missing one is fine", async (backend) => {
    await backend.put("folder/gone.txt", "x");
    await backend.put("folder/kept.txt", "y");
    await backend.delete("folder/gone.txt");
    await rejectsWithCode(backend.head("folder/gone.txt"), "NOT_FOUND", "head after delete");
    await backend.delete("folder/gone.txt");
    await backend.delete("never/existed.txt");
    assert.deepEqual(await listKeys(backend, ""), ["folder/kept.txt"]);
  });

  fixture.it("deleteMany removes keys from arrays and async iterables, ignoring missing ones", async (backend) => {
    const keys = Array.from({ length: 40 }, (_, index) => `many/${String(index).padStart(2, "0")}.txt`);
    for (const key of keys) await backend.put(key, key);
    await backend.put("many-kept.txt", "kept");
    await backend.deleteMany([...keys.slice(0, 20), "many/missing.txt"]);
    async function* rest(): AsyncGenerator<string> {
      yield* keys.slice(20);
      yield "many/also-missing.txt";
    }
    await backend.deleteMany(rest());
    assert.deepEqual(await listKeys(backend, ""), ["many-kept.txt"]);
    const page = await backend.listPage("");
    assert.deepEqual(page.prefixes, [], "a prefix whose objects are all deleted is gone");
  });

  fixture.it("copy duplicates an object, overwriting by default, and leaves the source as it was", async (backend) => {
    const body = randomBody(64 * 1024 + 3);
    const source = await backend.put("src/data.bin", body);
    const copied = await backend.copy("src/data.bin", "dst/v0:copy/data.bin");
    assertValidInfo(copied, "dst/v0:copy/data.bin", body.byteLength, "copy");
    assertSameBytes(await backend.get("dst/v0:copy/data.bin"), body, "copied bytes");
    assertSameBytes(await backend.get("src/data.bin"), body, "source bytes");
    assert.equal((await backend.head("src/data.bin")).revision, source.revision, "source revision unchanged");

    await backend.put("dst/other.bin", "old");
    await backend.copy("src/data.bin", "dst/other.bin");
    assertSameBytes(await backend.get("dst/other.bin"), body, "copy over an existing object");
  });

  fixture.it("keeps user metadata where the backend declares it does", async (backend) => {
    const metadata = { owner: "team-a", "run-id": "42" };
    await backend.put("meta/a.txt", "x", { metadata, contentType: "text/plain" });
    await backend.putStream("meta/b.txt", Readable.from([Buffer.from("y")]), { metadata });
    for (const key of ["meta/a.txt", "meta/b.txt"]) {
      const head = await backend.head(key);
      if (backend.capabilities.userMetadata === false) {
        // A declared capability gap (local disk keeps none): the metadata is dropped whole, never half-kept.
        assert.ok(head.metadata === undefined || Object.keys(head.metadata).length === 0, `${key}: no metadata`);
      } else {
        assert.deepEqual({ ...head.metadata }, metadata, `${key}: metadata round trip`);
      }
    }
    await backend.copy("meta/a.txt", "meta/copied.txt");
    const copied = await backend.head("meta/copied.txt");
    if (backend.capabilities.userMetadata !== false) assert.deepEqual({ ...copied.metadata }, metadata, "copy keeps metadata");
    assert.equal(utf8(await backend.get("meta/copied.txt")), "x");
  });
}
