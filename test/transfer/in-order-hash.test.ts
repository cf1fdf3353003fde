/**
 * The in-order hash of a file written in ranges (src/transfer/in-order-hash.ts): ranges finished in any order are
 * hashed in the order of their bytes, each once every range before it is, all read back through one buffer; a
 * range that never finished leaves no digest.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { ContentHash } from "../../src/transfer/content-check.ts";
import { InOrderHash } from "../../src/transfer/in-order-hash.ts";

const MiB = 1024 * 1024;

/** An MD5 that records the memory each piece it is fed comes in. */
function recordingMd5(): ContentHash & { readonly memory: Set<ArrayBufferLike>; updates: number } {
  const hash = createHash("md5");
  const recorder = {
    memory: new Set<ArrayBufferLike>(),
    updates: 0,
    update: (bytes: Uint8Array) => {
      recorder.updates += 1;
      recorder.memory.add(bytes.buffer);
      hash.update(bytes);
    },
    digest: () => hash.digest("hex"),
  };
  return recorder;
}

describe("hashing a file written in ranges, in order", () => {
  let dir: string;
  let path: string;
  const body = randomBytes(9 * MiB + 5);
  const ranges = [0, 3, 6, 9].map((start) => ({ start: start * MiB, end: Math.min((start + 3) * MiB, body.byteLength) })).filter((range) => range.start < range.end);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "in-order-hash-"));
    path = join(dir, "file.bin");
    await writeFile(path, body);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("hashes ranges finished out of order in the order of their bytes, through one read buffer", async () => {
    const hash = recordingMd5();
    const ordered = new InOrderHash(hash, path, ranges);
    for (const index of [2, 0, 3, 1]) ordered.finished(index);
    assert.equal(await ordered.digest(), createHash("md5").update(body).digest("hex"));
    assert.ok(hash.updates >= ranges.length, `${hash.updates} updates`);
    assert.equal(hash.memory.size, 1, "every range read back into the same buffer");
  });

  it("gives no digest while a range has not finished", async () => {
    const ordered = new InOrderHash(recordingMd5(), path, ranges);
    for (const index of [0, 2, 3]) ordered.finished(index);
    assert.equal(await ordered.digest(), undefined);
  });
});
