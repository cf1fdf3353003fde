/**
 * A file range as a request body (file-range-body.ts): piped, it reuses a few buffers, each only after the
 * destination's write callback said the bytes were taken; read as a plain stream it gives the same bytes; a file
 * that ends early destroys the destination with INVALID_ARGUMENT naming the file; a destination that closes stops
 * the reading.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { FileRangeBody, sha256OfRange } from "../../src/backends/file-range-body.ts";
import { openUploadSource, type UploadSource } from "../../src/backends/upload-source.ts";
import { isOpenCrateError } from "../../src/errors.ts";

const KiB = 1024;

/**
 * A destination that holds on to every buffer it is given and completes each write later, checking at that
 * moment that the bytes it holds are still the bytes it was given (a buffer refilled too early would differ).
 */
class SlowDestination extends Writable {
  readonly received: Buffer[] = [];
  readonly distinctBuffers = new Set<ArrayBufferLike>();
  corrupted = 0;

  override _write(chunk: Buffer, _encoding: string, done: (error?: Error | null) => void): void {
    const copy = Buffer.from(chunk);
    this.distinctBuffers.add(chunk.buffer);
    setTimeout(() => {
      if (!chunk.equals(copy)) this.corrupted += 1;
      this.received.push(copy);
      done();
    }, 1);
  }
}

function finished(destination: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    destination.once("finish", resolve);
    destination.once("error", reject);
  });
}

describe("FileRangeBody", () => {
  let folder = "";
  let bytes: Buffer;
  let source: UploadSource;
  before(async () => {
    folder = await mkdtemp(join(tmpdir(), "oc-file-range-"));
    bytes = randomBytes(3 * 1024 * KiB + 123);
    await writeFile(join(folder, "data.bin"), bytes);
    source = await openUploadSource(join(folder, "data.bin"), "test://target");
  });
  after(async () => {
    await source.handle.close();
    await rm(folder, { recursive: true, force: true });
  });

  it("pipes the range through a few reused buffers, refilling none before its write completed", async () => {
    const start = 100 * KiB + 7;
    const end = bytes.byteLength - 5;
    const seen: number[] = [];
    const body = new FileRangeBody(source, start, end, { pieceBytes: 64 * KiB, onPiece: (piece) => seen.push(piece.byteLength) });
    const destination = new SlowDestination();
    body.pipe(destination);
    await finished(destination);
    assert.ok(Buffer.concat(destination.received).equals(bytes.subarray(start, end)), "the range's bytes, in order");
    assert.equal(destination.corrupted, 0, "no buffer was read into while the destination held it");
    assert.ok(destination.distinctBuffers.size <= 3, `${destination.distinctBuffers.size} buffers for ${seen.length} pieces`);
    assert.equal(seen.reduce((sum, length) => sum + length, 0), end - start, "onPiece saw every byte once");
  });

  it("read as a plain stream, gives the same bytes", async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of new FileRangeBody(source, 10, 2 * 1024 * KiB, { pieceBytes: 100 * KiB })) chunks.push(chunk as Buffer);
    assert.ok(Buffer.concat(chunks).equals(bytes.subarray(10, 2 * 1024 * KiB)));
  });

  it("an empty range ends the destination at once", async () => {
    const destination = new SlowDestination();
    new FileRangeBody(source, 50, 50).pipe(destination);
    await finished(destination);
    assert.equal(destination.received.length, 0);
  });

  it("stops reading when the destination closes early", async () => {
    let pieces = 0;
    const body = new FileRangeBody(source, 0, bytes.byteLength, { pieceBytes: 16 * KiB, onPiece: () => (pieces += 1) });
    const destination = new SlowDestination();
    body.pipe(destination);
    await new Promise((resolve) => setTimeout(resolve, 5));
    destination.destroy();
    await new Promise((resolve) => body.once("close", resolve));
    const atClose = pieces;
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(pieces, atClose, "no piece read after the destination closed");
    assert.ok(pieces < bytes.byteLength / (16 * KiB), `stopped early (${pieces} pieces)`);
  });

  it("a file that ends before the range does destroys the destination with INVALID_ARGUMENT naming the file", async () => {
    const path = join(folder, "shrinking.bin");
    await writeFile(path, randomBytes(512 * KiB));
    const shrinking = await openUploadSource(path, "test://target");
    try {
      await truncate(path, 200 * KiB);
      const destination = new SlowDestination();
      new FileRangeBody(shrinking, 0, 512 * KiB, { pieceBytes: 64 * KiB }).pipe(destination);
      await assert.rejects(finished(destination), (error: unknown) => isOpenCrateError(error, "INVALID_ARGUMENT") && error.message.includes(path));
      await assert.rejects(sha256OfRange(shrinking, 0, 512 * KiB, Buffer.alloc(64 * KiB)), (error: unknown) => isOpenCrateError(error, "INVALID_ARGUMENT"));
    } finally {
      await shrinking.handle.close();
    }
  });

  it("sha256OfRange hashes exactly the range", async () => {
    const expected = createHash("sha256").update(bytes.subarray(1000, 2 * 1024 * KiB + 1)).digest("hex");
    assert.equal(await sha256OfRange(source, 1000, 2 * 1024 * KiB + 1, Buffer.alloc(300 * KiB)), expected);
  });
});
