/**
 * PositionalWriter: bytes land at their offsets (or at the end, appending) whether written in the calling thread or
 * in the thread pool, and one write that held the thread past the limit sends every later write to the pool.
 */
import assert from "node:assert/strict";
import { type FileHandle, open, readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { PositionalWriter, type WriteTime } from "../../src/transfer/file-writes.ts";
import { removeDir, tempDir } from "../cli/helpers.ts";

let dir: string;
before(async () => {
  dir = await tempDir("positional-writer");
});
after(async () => {
  await removeDir(dir);
});

const filled = (length: number, value: number): Uint8Array => new Uint8Array(length).fill(value);

/** Opens `name` with `flags`, runs `writes` on it, closes it, and gives back what the file then holds. */
async function afterWrites(name: string, flags: "w" | "a", writes: (handle: FileHandle) => Promise<void>): Promise<Buffer> {
  const path = join(dir, name);
  const handle = await open(path, flags);
  try {
    await writes(handle);
  } finally {
    await handle.close();
  }
  return readFile(path);
}

test("writes in the calling thread while writes are quick, each at its offset, out of order", async () => {
  const spent: WriteTime = { ms: 0 };
  const bytes = await afterWrites("quick.bin", "w", async (handle) => {
    // An hour per write: no write here is slow.
    const history = { slow: false };
    const writer = new PositionalWriter(handle, 3_600_000, history);
    const pending = writer.write(filled(4096, 2), 4096, spent);
    // Made before write() returned: the bytes are in the file already.
    assert.equal((await handle.stat()).size, 8192);
    await pending;
    await writer.write(filled(4096, 1), 0, spent);
    await writer.write(filled(100, 3), 8192, spent);
    assert.equal(history.slow, false);
  });
  assert.deepEqual(bytes, Buffer.concat([filled(4096, 1), filled(4096, 2), filled(100, 3)]));
});

test("after one slow write, later writes go to the thread pool and still land at their offsets", async () => {
  const spent: WriteTime = { ms: 0 };
  const bytes = await afterWrites("slow.bin", "w", async (handle) => {
    // Every write counts as slow: the first one, made in the calling thread, switches the writer.
    const history = { slow: false };
    const writer = new PositionalWriter(handle, 0, history);
    await writer.write(filled(10, 7), 10, spent);
    assert.equal(history.slow, true);
    await Promise.all([writer.write(filled(10, 6), 0, spent), writer.write(filled(5, 8), 20, spent)]);
  });
  assert.deepEqual(bytes, Buffer.concat([filled(10, 6), filled(10, 7), filled(5, 8)]));
});

test("appends, with no position, to a file opened to append, in the calling thread and in the pool", async () => {
  const bytes = await afterWrites("append.bin", "a", async (handle) => {
    const quick = new PositionalWriter(handle, 3_600_000, { slow: false });
    await quick.write(filled(3, 1), null);
    await quick.write(filled(2, 2), null);
    const history = { slow: false };
    const pooled = new PositionalWriter(handle, 0, history);
    await pooled.write(filled(1, 3), null);
    assert.equal(history.slow, true);
    await pooled.write(filled(4, 4), null);
  });
  assert.deepEqual(bytes, Buffer.concat([filled(3, 1), filled(2, 2), filled(1, 3), filled(4, 4)]));
});
