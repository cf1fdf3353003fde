/**
 * The shared download to file on every backend: content equal to the object, the checksum the store gives
 * verified, reads pinned to one revision (an object replaced mid-download fails TRANSIENT and leaves nothing), no
 * partial file left behind, and a destination folder swapped mid-download stops it by name with nothing written
 * outside. Large objects on MinIO and fake-gcs-server go through parallel ranged streams.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fs from "node:fs";
import { mkdir, readdir, readFile, realpath, rename, symlink, writeFile } from "node:fs/promises";
import { syncBuiltinESMExports } from "node:module";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, it, mock, test } from "node:test";
import type { BodySink, ObjectInfo, RangeIntoOptions, ReadOptions, StorageBackend } from "../../src/backends/backend.ts";
import { crc32c, crc32cCombine } from "../../src/backends/crc32c.ts";
import { CorruptDataError, isOpenCrateError } from "../../src/errors.ts";
import { crc32cHex } from "../../src/transfer/content-check.ts";
import { downloadToFile, type FileDownloaded } from "../../src/transfer/download-file.ts";
import { SafeFolder } from "../../src/transfer/safe-folder.ts";
import { localFactory, memoryFactory, type BackendFactory } from "../support/backends.ts";
import { gcsFactory } from "../support/gcs.ts";
import { minioFactory } from "../support/s3.ts";
import { removeDir, tempDir } from "../cli/helpers.ts";

const MiB = 1024 * 1024;
/** Past the size from which network stores are read in parallel ranges (two ranges of 16 MiB). */
const BIG_BYTES = 40 * MiB + 12_345;
const SMALL = new TextEncoder().encode("small object ".repeat(100));

function patterned(size: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i += 1) bytes[i] = (i * 131 + seed + (i >>> 12)) & 0xff;
  return bytes;
}

const sha256 = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");

/** A backend that runs `meanwhile` once, before the `nth` read (0-based) is opened: a getStream or a ranged read into
 * reused buffers (readRangeInto). */
function onStream(inner: StorageBackend, nth: number, meanwhile: () => Promise<unknown>): StorageBackend {
  let opened = 0;
  return new Proxy(inner, {
    get(target, property) {
      if (property === "getStream") {
        return async (key: string, options?: ReadOptions): Promise<Readable> => {
          if (opened++ === nth) await meanwhile();
          return target.getStream(key, options);
        };
      }
      if (property === "readRangeInto" && target.readRangeInto !== undefined) {
        const readRangeInto = target.readRangeInto.bind(target);
        return async (key: string, options: RangeIntoOptions, sink: BodySink): Promise<number | undefined> => {
          if (opened++ === nth) await meanwhile();
          const count = await readRangeInto(key, options, sink);
          // Not taken: the same read goes out again as a getStream, which is not counted again.
          if (count === undefined) opened -= 1;
          return count;
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

async function download(backend: StorageBackend, key: string, dest: string, name = "out.bin", streams?: number): Promise<FileDownloaded> {
  const folder = await SafeFolder.open(await realpath(dest));
  try {
    return await downloadToFile({ backend, key, info: await backend.head(key), folder, name, partialName: `.part-${name}`, resume: false, streams });
  } finally {
    await folder.close();
  }
}

test("CRC32C of parts combines into the CRC32C of the whole", () => {
  const whole = patterned(3 * MiB + 17, 5);
  const cut = MiB + 3;
  const combined = crc32cCombine(crc32c(whole.subarray(0, cut)), crc32c(whole.subarray(cut)), whole.length - cut);
  assert.equal(combined, crc32c(whole));
  assert.equal(crc32cCombine(crc32c(whole), 0, 0), crc32c(whole));
});

for (const factory of [memoryFactory(), localFactory(), minioFactory(), gcsFactory()] satisfies BackendFactory[]) {
  describe(`download to file on ${factory.label}`, { skip: factory.skip }, () => {
    let dir: string;
    let backend: StorageBackend;
    const big = patterned(BIG_BYTES, 7);

    before(async () => {
      dir = await tempDir(`transfer-${factory.label}`);
      backend = await factory.make();
      await backend.put("small.txt", SMALL);
      await backend.putStream("big.bin", Readable.from([big]), { size: big.length });
    });
    after(async () => {
      await factory.cleanup();
      await removeDir(dir);
    });

    it("downloads a small object and a large one whole, verified where the store gives a checksum, leaving no partial", async () => {
      const dest = join(dir, "whole");
      await mkdir(dest);
      const small = await download(backend, "small.txt", dest, "small.txt");
      assert.deepEqual(new Uint8Array(await readFile(join(dest, "small.txt"))), SMALL);
      assert.equal(small.size, SMALL.length);
      const info = await backend.head("big.bin");
      if (backend.kind === "gcs") assert.equal(info.crc32c, crc32cHex(crc32c(big)), "GCS gives a CRC32C beside the MD5");
      // Read in ranges (network stores), an object checks the CRC32C given beside its checksum (GCS: MD5 and CRC32C).
      const checksum = backend.kind === "gcs" ? "crc32c" : info.checksum?.algorithm;
      const large = await download(backend, "big.bin", dest, "big.bin");
      assert.equal(sha256(await readFile(join(dest, "big.bin"))), sha256(big));
      assert.equal(large.verified, checksum, "verified with the checksum the store gives (none for a multipart ETag)");
      assert.deepEqual((await readdir(dest)).sort(), ["big.bin", "small.txt"]);
    });

    // Local and memory stores are read in one stream, checked against the checksum itself.
    const ranged = factory.label !== "memory" && factory.label !== "local";
    if (ranged) {
      it("checks a ranged download against the CRC32C given beside the checksum: a wrong one fails CORRUPT_DATA, leaving nothing", async () => {
        const dest = join(dir, "crc32c-beside");
        await mkdir(dest);
        const real = await backend.head("big.bin");
        const right = crc32cHex(crc32c(big));
        const wrongMd5 = { algorithm: "md5", value: "0".repeat(32) } as const;
        const folder = await SafeFolder.open(await realpath(dest));
        try {
          const fetch = (name: string, info: ObjectInfo): Promise<FileDownloaded> =>
            downloadToFile({ backend, key: "big.bin", info, folder, name, partialName: `.part-${name}`, resume: false });
          // The CRC32C decides; the MD5 beside it is not computed.
          const checked = await fetch("right.bin", { ...real, checksum: wrongMd5, crc32c: right });
          assert.equal(checked.verified, "crc32c");
          assert.equal(sha256(await readFile(join(dest, "right.bin"))), sha256(big));
          await assert.rejects(fetch("wrong.bin", { ...real, checksum: wrongMd5, crc32c: "0badc0de" }), (error: unknown) => {
            assert.ok(isOpenCrateError(error, "CORRUPT_DATA"), String(error));
            assert.match((error as Error).message, /big\.bin: crc32c [0-9a-f]{8} instead of 0badc0de/);
            return true;
          });
        } finally {
          await folder.close();
        }
        assert.deepEqual(await readdir(dest), ["right.bin"]);
      });
    }

    it("downloads the same bytes with one stream and with many", async () => {
      const dest = join(dir, "streams");
      await mkdir(dest);
      await download(backend, "big.bin", dest, "one.bin", 1);
      await download(backend, "big.bin", dest, "many.bin", 8);
      assert.equal(sha256(await readFile(join(dest, "one.bin"))), sha256(big));
      assert.equal(sha256(await readFile(join(dest, "many.bin"))), sha256(big));
    });

    it("fails TRANSIENT, leaving nothing, when the object is replaced during the download", async () => {
      const dest = join(dir, "replaced");
      await mkdir(dest);
      await backend.putStream("moving.bin", Readable.from([big]), { size: big.length });
      // Local and memory stores read in one stream: replaced before it opens; network stores between two ranges.
      const nth = backend.kind === "local" || backend.kind === "memory" ? 0 : 1;
      const replacing = onStream(backend, nth, () => backend.putStream("moving.bin", Readable.from([patterned(BIG_BYTES, 9)]), { size: BIG_BYTES }));
      await assert.rejects(download(replacing, "moving.bin", dest, "moving.bin", 2), (error: unknown) => {
        assert.ok(isOpenCrateError(error, "TRANSIENT") || isOpenCrateError(error, "NOT_FOUND"), String(error));
        assert.match((error as Error).message, /moving\.bin/);
        return true;
      });
      assert.deepEqual(await readdir(dest), [], "neither the file nor a partial");
    });

    it("stops, naming the folder, when the destination folder is swapped for a link mid-download; nothing lands outside", async () => {
      const shared = join(dir, "shared");
      const outside = join(dir, "outside");
      await mkdir(join(shared, "models"), { recursive: true });
      await mkdir(outside);
      const models = join(await realpath(shared), "models");
      const swapping = onStream(backend, 0, async () => {
        await rename(models, `${models}-moved`);
        await symlink(outside, models);
      });
      const folder = await SafeFolder.open(models);
      try {
        await assert.rejects(
          downloadToFile({ backend: swapping, key: "big.bin", info: await backend.head("big.bin"), folder, name: "big.bin", partialName: ".part", resume: false }),
          (error: unknown) => {
            assert.ok(isOpenCrateError(error, "PRECONDITION_FAILED"), String(error));
            assert.match((error as Error).message, new RegExp(`${models.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} was moved or replaced`));
            return true;
          },
        );
      } finally {
        await folder.close();
      }
      assert.deepEqual(await readdir(outside), [], "nothing landed outside");
      assert.deepEqual(await readdir(`${models}-moved`), [], "no partial left in the moved folder");
    });

    it("pins reads to a revision: another revision is refused", async () => {
      const info = await backend.head("small.txt");
      assert.deepEqual(new Uint8Array(await backend.get("small.txt", { ifRevision: info.revision })), SMALL);
      await backend.put("small.txt", "changed");
      await assert.rejects(backend.get("small.txt", { ifRevision: info.revision }), (error: unknown) => {
        assert.ok(isOpenCrateError(error, "PRECONDITION_FAILED") || isOpenCrateError(error, "NOT_FOUND"), String(error));
        return true;
      });
    });
  });
}

describe("download to file on a full disk", () => {
  let dir: string;
  let backend: StorageBackend;
  before(async () => {
    dir = await tempDir("transfer-full-disk");
    backend = await memoryFactory().make();
    await backend.put("small.txt", SMALL);
    const streamed = patterned(3 * MiB, 3);
    await backend.putStream("streamed.bin", Readable.from([streamed]), { size: streamed.length });
  });
  after(() => removeDir(dir));

  for (const key of ["small.txt", "streamed.bin"]) {
    it(`fails TRANSIENT naming the local file, leaving the old file and no partial (${key})`, async () => {
      const dest = join(dir, key.replace(/\W/g, "-"));
      await mkdir(dest);
      await writeFile(join(dest, "out.bin"), "old content");
      // Every write the download makes fails as on a full disk: in the calling thread, or through the thread pool
      // (taken after a slow write, which earlier tests in this process may have had).
      const noSpace = () => Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC", errno: -28, syscall: "write" });
      const full = mock.method(fs, "writeSync", () => {
        throw noSpace();
      });
      const probe = await fs.promises.open(join(dest, "out.bin"), "r");
      const handles = Object.getPrototypeOf(probe) as { write: (...args: unknown[]) => Promise<unknown> };
      await probe.close();
      const fullPool = mock.method(handles, "write", () => Promise.reject(noSpace()));
      syncBuiltinESMExports();
      try {
        await assert.rejects(download(backend, key, dest), (error: unknown) => {
          assert.ok(isOpenCrateError(error, "TRANSIENT"), String(error));
          assert.equal((error as Error).message, `Cannot write ${join(dest, "out.bin")}: no space left on the device (ENOSPC).`);
          assert.equal((error as { path?: string }).path, join(dest, "out.bin"));
          return true;
        });
      } finally {
        full.mock.restore();
        fullPool.mock.restore();
        syncBuiltinESMExports();
      }
      assert.equal(await readFile(join(dest, "out.bin"), "utf8"), "old content");
      assert.deepEqual(await readdir(dest), ["out.bin"]);
    });
  }

  it("leaves a failure on the way from the store (a TLS or socket error code) as it is, not as a failed local write", async () => {
    const dest = join(dir, "network");
    await mkdir(dest);
    for (const code of ["EPROTO", "ENETRESET", "ECONNRESET"]) {
      const failure = Object.assign(new Error(`${code}: the connection failed`), { code });
      const failing = mock.method(backend, "get", () => Promise.reject(failure));
      try {
        await assert.rejects(download(backend, "small.txt", dest), (error: unknown) => error === failure);
      } finally {
        failing.mock.restore();
      }
    }
  });
});

describe("a download kept for a later one, failing CORRUPT_DATA", () => {
  let dir: string;
  const factory = memoryFactory();
  // Over 1 MiB: streamed, so what it got would be kept.
  const bytes = patterned(2 * MiB + 3, 11);

  before(async () => {
    dir = await tempDir("transfer-corrupt");
  });
  after(async () => {
    await factory.cleanup();
    await removeDir(dir);
  });

  it("leaves no partial file, whether the store's read or the final check found the bytes bad", async () => {
    const inner = await factory.make();
    await inner.put("big.bin", bytes);
    const info = await inner.head("big.bin");
    // A read that fails its own checksum check after half the bytes came, as a store client's validation does.
    const badRead = new Proxy(inner, {
      get(target, property) {
        if (property === "getStream") {
          return async (): Promise<Readable> =>
            Readable.from(
              (async function* () {
                yield bytes.subarray(0, MiB);
                throw new CorruptDataError("Checksum mismatch while trying to read big.bin: test", { path: "big.bin" });
              })(),
            );
        }
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const dest = join(dir, "corrupt");
    await mkdir(dest);
    const folder = await SafeFolder.open(await realpath(dest));
    try {
      const fetch = (backend: StorageBackend, checked: ObjectInfo): Promise<FileDownloaded> =>
        downloadToFile({ backend, key: "big.bin", info: checked, folder, name: "big.bin", partialName: ".part-big", resume: false, keep: true });
      await assert.rejects(fetch(badRead, info), (error) => isOpenCrateError(error, "CORRUPT_DATA"));
      assert.deepEqual(await readdir(dest), [], "nothing kept of a read the store found bad");
      const wrong = { ...info, checksum: { algorithm: "sha256", value: "0".repeat(64) } } as const;
      await assert.rejects(fetch(inner, wrong), (error) => isOpenCrateError(error, "CORRUPT_DATA"));
      assert.deepEqual(await readdir(dest), [], "nothing kept of bytes that failed the checksum");
    } finally {
      await folder.close();
    }
  });
});
