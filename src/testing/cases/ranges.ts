/** Byte ranges through `get` and `getStream`: the same slices either way, cut at the end of the object; a range
 * that starts at or past the end is empty, never an error; a suffix longer than the object is all of it. */
import assert from "node:assert/strict";
import type { ByteRange, RangeIntoOptions, ReadOptions, StorageBackend } from "../../backends/backend.ts";
import type { ConformanceFixture } from "../fixture.ts";
import { assertSameBytes, chunksOf, MiB, randomBody, readStream, rejectsWithCode } from "../helpers.ts";

const SIZE = 100;
const BODY = Uint8Array.from({ length: SIZE }, (_, index) => index);

const CASES: ReadonlyArray<{ readonly name: string; readonly range: ByteRange; readonly start: number; readonly end: number }> = [
  { name: "from an offset to the end", range: { offset: 10 }, start: 10, end: SIZE },
  { name: "offset and length", range: { offset: 10, length: 5 }, start: 10, end: 15 },
  { name: "the first byte", range: { offset: 0, length: 1 }, start: 0, end: 1 },
  { name: "the last byte", range: { offset: SIZE - 1, length: 1 }, start: SIZE - 1, end: SIZE },
  { name: "a length past the end (cut at the end)", range: { offset: 95, length: 10 }, start: 95, end: SIZE },
  { name: "the whole object by range", range: { offset: 0, length: SIZE }, start: 0, end: SIZE },
  { name: "zero bytes", range: { offset: 10, length: 0 }, start: 10, end: 10 },
  { name: "an offset at the end (empty)", range: { offset: SIZE }, start: SIZE, end: SIZE },
  { name: "an offset past the end (empty)", range: { offset: SIZE + 50 }, start: SIZE, end: SIZE },
  { name: "an offset past the end with a length (empty)", range: { offset: SIZE + 50, length: 10 }, start: SIZE, end: SIZE },
  { name: "zero bytes at the end", range: { offset: SIZE, length: 0 }, start: SIZE, end: SIZE },
  { name: "the last 10 bytes by offset", range: { offset: SIZE - 10 }, start: SIZE - 10, end: SIZE },
  { name: "a suffix: the last 10 bytes", range: { suffix: 10 }, start: SIZE - 10, end: SIZE },
  { name: "a suffix of the whole size", range: { suffix: SIZE }, start: 0, end: SIZE },
  { name: "a suffix longer than the object (all of it)", range: { suffix: SIZE + 50 }, start: 0, end: SIZE },
  { name: "an empty suffix", range: { suffix: 0 }, start: SIZE, end: SIZE },
];

/** Ranges of an empty object: every one is empty. */
const EMPTY_RANGES: readonly ByteRange[] = [
  { offset: 0 },
  { offset: 0, length: 4 },
  { offset: 1 },
  { offset: 5, length: 3 },
  { suffix: 0 },
  { suffix: 10 },
];

async function expectSlice(backend: StorageBackend, key: string, options: ReadOptions, expected: Uint8Array, what: string): Promise<void> {
  assertSameBytes(await backend.get(key, options), expected, `get ${what}`);
  assertSameBytes(await readStream(await backend.getStream(key, options)), expected, `getStream ${what}`);
}

export function rangeCases(fixture: ConformanceFixture): void {
  fixture.it("reads ranges with get and getStream alike", async (backend) => {
    await backend.put("ranges/hundred.bin", BODY);
    for (const { name, range, start, end } of CASES) {
      const expected = BODY.slice(start, end);
      assertSameBytes(await backend.get("ranges/hundred.bin", { range }), expected, `get ${name}`);
      assertSameBytes(await readStream(await backend.getStream("ranges/hundred.bin", { range })), expected, `getStream ${name}`);
    }
  });

  fixture.it("reads a range deep inside a large object", async (backend) => {
    const body = randomBody(6 * MiB + 7);
    await backend.put("ranges/large.bin", body);
    const range = { offset: 5 * MiB - 3, length: MiB + 9 };
    const expected = body.slice(range.offset, range.offset + range.length);
    assertSameBytes(await backend.get("ranges/large.bin", { range }), expected, "get");
    assertSameBytes(await readStream(await backend.getStream("ranges/large.bin", { range })), expected, "getStream");
  });

  fixture.it("reads suffixes and past-the-end ranges of an object stored in several parts", async (backend) => {
    // Above the multipart / resumable threshold, so the object is stored in parts where the store has them.
    const size = (backend.capabilities.multipartThreshold ?? 8 * MiB) + MiB + 3;
    const body = randomBody(size);
    await backend.putStream("ranges/parts.bin", chunksOf(body, MiB));
    assert.equal((await backend.head("ranges/parts.bin")).size, size);
    const cases: ReadonlyArray<[string, ByteRange, number, number]> = [
      ["the last byte", { offset: size - 1 }, size - 1, size],
      ["the last 1 MiB + 2 bytes by offset", { offset: size - MiB - 2 }, size - MiB - 2, size],
      ["a suffix of 1 MiB + 2 bytes", { suffix: MiB + 2 }, size - MiB - 2, size],
      ["a suffix of the whole object", { suffix: size + 1 }, 0, size],
      ["a length past the end", { offset: size - 5, length: MiB }, size - 5, size],
      ["an offset at the end", { offset: size }, size, size],
      ["an offset past the end with a length", { offset: size + MiB, length: 7 }, size, size],
    ];
    for (const [name, range, start, end] of cases) await expectSlice(backend, "ranges/parts.bin", { range }, body.subarray(start, end), name);
  });

  fixture.it("every range of an empty object is empty", async (backend) => {
    await backend.put("ranges/nothing.bin", new Uint8Array(0));
    for (const range of EMPTY_RANGES) await expectSlice(backend, "ranges/nothing.bin", { range }, new Uint8Array(0), JSON.stringify(range));
  });

  fixture.it("ranges pinned to a revision read that revision and refuse a newer one, past the end too", async (backend) => {
    const first = await backend.put("ranges/pinned.bin", BODY);
    await expectSlice(backend, "ranges/pinned.bin", { range: { offset: 90 }, ifRevision: first.revision }, BODY.subarray(90), "at the revision");
    await expectSlice(backend, "ranges/pinned.bin", { range: { offset: SIZE + 1 }, ifRevision: first.revision }, new Uint8Array(0), "past the end at the revision");
    await expectSlice(backend, "ranges/pinned.bin", { range: { suffix: 4 }, ifRevision: first.revision }, BODY.subarray(SIZE - 4), "a suffix at the revision");
    await backend.put("ranges/pinned.bin", BODY.subarray(0, 50));
    for (const range of [{ offset: 10, length: 5 }, { offset: SIZE + 1 }, { suffix: 3 }]) {
      const what = `${JSON.stringify(range)} at a replaced revision`;
      await rejectsWithCode(backend.get("ranges/pinned.bin", { range, ifRevision: first.revision }), "PRECONDITION_FAILED", `get ${what}`);
      await rejectsWithCode(backend.getStream("ranges/pinned.bin", { range, ifRevision: first.revision }), "PRECONDITION_FAILED", `getStream ${what}`);
    }
    await backend.delete("ranges/pinned.bin");
    await rejectsWithCode(backend.get("ranges/pinned.bin", { range: { offset: 1 }, ifRevision: first.revision }), "NOT_FOUND", "get once deleted");
  });

  fixture.it("streams a whole object, and an empty one", async (backend) => {
    const body = randomBody(3 * MiB + 1);
    await backend.put("ranges/whole.bin", body);
    await backend.put("ranges/empty.bin", new Uint8Array(0));
    assertSameBytes(await readStream(await backend.getStream("ranges/whole.bin")), body, "whole");
    assert.equal((await readStream(await backend.getStream("ranges/empty.bin"))).byteLength, 0);
    assert.equal((await backend.get("ranges/empty.bin", { range: { offset: 0 } })).byteLength, 0);
  });

  fixture.itNeeding(["readRangeInto"], "readRangeInto hands a range's bytes in order, or takes nothing", async (backend) => {
    const readInto = backend.readRangeInto!.bind(backend);
    const size = 3 * MiB + 5;
    const body = randomBody(size);
    const { revision } = await backend.put("ranges/into.bin", body);
    const ranges = [{ offset: 0, length: size }, { offset: MiB - 3, length: MiB + 7 }, { offset: size - 1, length: 1 }];
    for (const range of ranges) {
      const handed: Buffer[] = [];
      const sink = { write: async (bytes: Uint8Array) => void handed.push(Buffer.from(bytes)) }; // copied: reused after
      const count = await readInto("ranges/into.bin", { range, ifRevision: revision }, sink);
      const what = JSON.stringify(range);
      if (count === undefined) {
        assert.equal(handed.length, 0, `${what}: a read not taken hands nothing`);
        continue;
      }
      assert.equal(count, range.length, `${what}: the count handed`);
      assertSameBytes(Buffer.concat(handed), body.subarray(range.offset, range.offset + range.length), what);
    }
    const handed: Uint8Array[] = [];
    const missing = readInto("ranges/absent.bin", { range: { offset: 0, length: 10 } }, { write: async (bytes) => void handed.push(bytes) });
    const outcome = await missing.then((count) => ({ count }), (error: unknown) => ({ error }));
    if ("count" in outcome) assert.equal(outcome.count, undefined, "a missing key is not taken, or fails NOT_FOUND");
    else await rejectsWithCode(Promise.reject(outcome.error), "NOT_FOUND", "a missing key");
    assert.equal(handed.length, 0, "nothing handed for a missing key");
    const noLength = { offset: 0 } as RangeIntoOptions["range"];
    const suffix = { suffix: 4 } as unknown as RangeIntoOptions["range"];
    for (const range of [noLength, suffix, { offset: -1, length: 2 }]) {
      const sink = { write: async (bytes: Uint8Array) => void handed.push(bytes) };
      await rejectsWithCode(readInto("ranges/into.bin", { range }, sink), "INVALID_ARGUMENT", `readRangeInto ${JSON.stringify(range)}`);
    }
    assert.equal(handed.length, 0, "nothing handed for a refused range");
  });

  fixture.it("rejects negative, fractional or mixed ranges as INVALID_ARGUMENT", async (backend) => {
    await backend.put("ranges/small.bin", BODY);
    const mixed = { offset: 0, suffix: 4 } as ByteRange;
    for (const range of [{ offset: -1 }, { offset: 1.5 }, { offset: 0, length: -2 }, { suffix: -1 }, { suffix: 2.5 }, mixed]) {
      await rejectsWithCode(backend.get("ranges/small.bin", { range }), "INVALID_ARGUMENT", `get ${JSON.stringify(range)}`);
      await rejectsWithCode(backend.getStream("ranges/small.bin", { range }), "INVALID_ARGUMENT", `getStream ${JSON.stringify(range)}`);
    }
  });
}
