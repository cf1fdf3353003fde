/**
 * A download in parallel ranges that may be continued (what `pull` asks for): when it fails, the ranges already on
 * disk are named in a journal beside the partial file, and the next download of the same revision reads only the
 * others; a journal of another revision, size or a torn one is not trusted; a one-stream partial is continued in
 * ranges from the end of its prefix; a download that is not to be continued leaves nothing. On MinIO and
 * fake-gcs-server (local disk reads in one stream).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, realpath, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import type { BodySink, ObjectInfo, RangeIntoOptions, ReadOptions, StorageBackend } from "../../src/backends/backend.ts";
import { isOpenCrateError, TransientError } from "../../src/errors.ts";
import { downloadToFile, partialEntries, type FileDownloaded } from "../../src/transfer/download-file.ts";
import { SafeFolder } from "../../src/transfer/safe-folder.ts";
import type { BackendFactory } from "../support/backends.ts";
import { gcsFactory } from "../support/gcs.ts";
import { minioFactory } from "../support/s3.ts";
import { removeDir, tempDir } from "../cli/helpers.ts";

const MiB = 1024 * 1024;
const RANGE = 16 * MiB;
/** Three ranges: 16 MiB, 16 MiB and the rest. */
const BIG_BYTES = 40 * MiB + 12_345;
const PARTIAL = ".part-out.bin";
const [, RANGED, JOURNAL] = partialEntries(PARTIAL) as [string, string, string];

function patterned(size: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i += 1) bytes[i] = (i * 131 + seed + (i >>> 12)) & 0xff;
  return bytes;
}

const sha256 = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");

interface Recorded {
  readonly backend: StorageBackend;
  /** Offsets of the ranged reads opened. */
  readonly offsets: number[];
}

/**
 * A backend recording the offset of every ranged read (getStream, or readRangeInto into reused buffers); with
 * `failFrom`, a read from that offset fails TRANSIENT once every read before it has been consumed to its end (so
 * those ranges are finished, deterministically).
 */
function recording(inner: StorageBackend, failFrom?: number): Recorded {
  const offsets: number[] = [];
  const ended: Promise<void>[] = [];
  /** Reads into reused buffers that were not taken, by offset: the getStream that follows ends them. */
  const handedOver = new Map<number, () => void>();
  const backend = new Proxy(inner, {
    get(target, property) {
      if (property === "readRangeInto" && target.readRangeInto !== undefined) {
        const readRangeInto = target.readRangeInto.bind(target);
        return async (key: string, options: RangeIntoOptions, sink: BodySink): Promise<number | undefined> => {
          const offset = options.range.offset;
          if (failFrom !== undefined && offset >= failFrom) {
            offsets.push(offset);
            await Promise.all(ended);
            throw new TransientError("the network went away (test)");
          }
          let end = (): void => {};
          ended.push(new Promise((resolve) => (end = resolve)));
          const count = await readRangeInto(key, options, sink).catch((error: unknown) => {
            end();
            throw error;
          });
          if (count === undefined) handedOver.set(offset, end);
          else {
            offsets.push(offset);
            end();
          }
          return count;
        };
      }
      if (property === "getStream") {
        return async (key: string, options?: ReadOptions): Promise<Readable> => {
          const offset = options?.range !== undefined && "offset" in options.range ? options.range.offset : 0;
          offsets.push(offset);
          if (failFrom !== undefined && offset >= failFrom) {
            await Promise.all(ended);
            throw new TransientError("the network went away (test)");
          }
          const stream = await target.getStream(key, options);
          const end = handedOver.get(offset);
          handedOver.delete(offset);
          ended.push(new Promise((resolve) => stream.once("end", () => resolve())));
          if (end !== undefined) stream.once("end", end);
          return stream;
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { backend, offsets };
}

async function download(backend: StorageBackend, info: ObjectInfo, dest: string, resume: boolean, streams?: number): Promise<FileDownloaded> {
  const folder = await SafeFolder.open(await realpath(dest));
  try {
    return await downloadToFile({ backend, key: info.key, info, folder, name: "out.bin", partialName: PARTIAL, resume, streams });
  } finally {
    await folder.close();
  }
}

for (const factory of [minioFactory(), gcsFactory()] satisfies BackendFactory[]) {
  describe(`continued ranged downloads on ${factory.label}`, { skip: factory.skip }, () => {
    let dir: string;
    let backend: StorageBackend;
    let info: ObjectInfo;
    const big = patterned(BIG_BYTES, 11);
    let count = 0;
    const freshDest = async (): Promise<string> => {
      const dest = join(dir, `dest-${count++}`);
      await mkdir(dest);
      return dest;
    };

    before(async () => {
      dir = await tempDir(`ranged-resume-${factory.label}`);
      backend = await factory.make();
      await backend.putStream("big.bin", Readable.from([big]), { size: big.length });
      info = await backend.head("big.bin");
    });
    after(async () => {
      await factory.cleanup();
      await removeDir(dir);
    });

    it("a failed download keeps its finished ranges, and the next one reads only the others", async () => {
      const dest = await freshDest();
      const failing = recording(backend, 2 * RANGE);
      await assert.rejects(download(failing.backend, info, dest, true, 2), (error: unknown) => error instanceof TransientError);
      assert.deepEqual((await readdir(dest)).sort(), [RANGED, JOURNAL].sort(), "the partial and its journal stay");
      assert.deepEqual((await readFile(join(dest, JOURNAL), "utf8")).split("\n").slice(1).sort(), ["", "0", "1"], "ranges 0 and 1 recorded");

      const second = recording(backend);
      const done = await download(second.backend, info, dest, true, 2);
      assert.equal(done.resumedFrom, 2 * RANGE);
      assert.deepEqual(second.offsets, [2 * RANGE], "only the missing range is read");
      assert.equal(sha256(await readFile(join(dest, "out.bin"))), sha256(big));
      assert.deepEqual(await readdir(dest), ["out.bin"], "neither partial nor journal is left");
    });

    it("does not trust a journal of another revision, or a torn or garbled one", async () => {
      for (const journal of [
        `${JSON.stringify({ revision: "another", size: BIG_BYTES, rangeBytes: RANGE })}\n0\n1\n`,
        `${JSON.stringify({ revision: info.revision, size: BIG_BYTES + 1, rangeBytes: RANGE })}\n0\n`,
        `${JSON.stringify({ revision: info.revision, size: BIG_BYTES, rangeBytes: RANGE })}\n0\nx\n`,
        `${JSON.stringify({ revision: info.revision, size: BIG_BYTES, rangeBytes: RANGE })}\n7\n`,
        `{"revision": "${info.revision}", "si`,
      ]) {
        const dest = await freshDest();
        await writeFile(join(dest, RANGED), new Uint8Array(2 * RANGE)); // zeros where the journal claims data
        await writeFile(join(dest, JOURNAL), journal);
        const done = await download(backend, info, dest, true);
        assert.equal(done.resumedFrom, 0, journal);
        assert.equal(sha256(await readFile(join(dest, "out.bin"))), sha256(big), journal);
      }
    });

    it("keeps a torn last line's ranges before it", async () => {
      const dest = await freshDest();
      const failing = recording(backend, 2 * RANGE);
      await assert.rejects(download(failing.backend, info, dest, true, 2));
      await writeFile(join(dest, JOURNAL), `${(await readFile(join(dest, JOURNAL), "utf8")).trimEnd().split("\n").slice(0, 2).join("\n")}\n1`);
      const done = await download(backend, info, dest, true);
      assert.equal(done.resumedFrom, RANGE, "the range on the torn line is read again");
      assert.equal(sha256(await readFile(join(dest, "out.bin"))), sha256(big));
    });

    it("continues a one-stream partial in ranges, from the end of its prefix", async () => {
      const dest = await freshDest();
      await writeFile(join(dest, PARTIAL), big.subarray(0, RANGE + 5 * MiB));
      const second = recording(backend);
      const done = await download(second.backend, info, dest, true);
      assert.equal(done.resumedFrom, RANGE + 5 * MiB);
      assert.deepEqual(second.offsets.sort((a, b) => a - b), [RANGE + 5 * MiB, 2 * RANGE]);
      assert.equal(sha256(await readFile(join(dest, "out.bin"))), sha256(big));
      assert.deepEqual(await readdir(dest), ["out.bin"]);
    });

    it("verifies the whole file against the store's checksum, resumed ranges included", async () => {
      // One PutObject / one upload: S3 gives the MD5, GCS the CRC32C of the whole object.
      await backend.put("whole.bin", big);
      const whole = await backend.head("whole.bin");
      assert.notEqual(whole.checksum, undefined);
      const dest = await freshDest();
      const failing = recording(backend, 2 * RANGE);
      await assert.rejects(download(failing.backend, whole, dest, true, 2));
      const done = await download(backend, whole, dest, true);
      assert.equal(done.resumedFrom, 2 * RANGE);
      assert.equal(done.verified, whole.checksum?.algorithm);
      assert.equal(sha256(await readFile(join(dest, "out.bin"))), sha256(big));

      const forged = await freshDest();
      await writeFile(join(forged, RANGED), new Uint8Array(2 * RANGE));
      await writeFile(join(forged, JOURNAL), `${JSON.stringify({ revision: whole.revision, size: BIG_BYTES, rangeBytes: RANGE })}\n0\n1\n`);
      await assert.rejects(download(backend, whole, forged, true), (error: unknown) => isOpenCrateError(error, "CORRUPT_DATA"));
      assert.deepEqual(await readdir(forged), [], "nothing placed, nothing kept");
    });

    it("a download not to be continued leaves nothing when it fails, and writes no journal", async () => {
      const dest = await freshDest();
      const failing = recording(backend, 2 * RANGE);
      await assert.rejects(download(failing.backend, info, dest, false, 2));
      assert.deepEqual(await readdir(dest), []);
      await download(backend, info, dest, false);
      assert.deepEqual(await readdir(dest), ["out.bin"]);
    });
  });
}
