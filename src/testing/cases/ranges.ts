/** Byte ranges through `get` and `getStream`: the same slices either way, cut at the end of the object. */
import assert from "node:assert/strict";
import type { ByteRange } from "../../backends/backend.ts";
import type { ConformanceFixture } from "../fixture.ts";
import { assertSameBytes, MiB, randomBody, readStream, rejectsWithCode } from "../helpers.ts";

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
];

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

  fixture.it("streams a whole object, and an empty one", async (backend) => {
    const body = randomBody(3 * MiB + 1);
    await backend.put("ranges/whole.bin", body);
    await backend.put("ranges/empty.bin", new Uint8Array(0));
    assertSameBytes(await readStream(await backend.getStream("ranges/whole.bin")), body, "whole");
    assert.equal((await readStream(await backend.getStream("ranges/empty.bin"))).byteLength, 0);
    assert.equal((await backend.get("ranges/empty.bin", { range: { offset: 0 } })).byteLength, 0);
  });

  fixture.it("rejects negative or fractional ranges as INVALID_ARGUMENT", async (backend) => {
    await backend.put("ranges/small.bin", BODY);
    for (const range of [{ offset: -1 }, { offset: 1.5 }, { offset: 0, length: -2 }]) {
      await rejectsWithCode(backend.get("ranges/small.bin", { range }), "INVALID_ARGUMENT", `get ${JSON.stringify(range)}`);
      await rejectsWithCode(backend.getStream("ranges/small.bin", { range }), "INVALID_ARGUMENT", `getStream ${JSON.stringify(range)}`);
    }
  });
}
