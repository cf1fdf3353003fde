import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, realpath, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { ObjectInfo, StorageBackend } from "../../src/backends/backend.ts";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { downloadFile, type DownloadOutcome } from "../../src/cli/pull/download.ts";
import { FolderMaker } from "../../src/cli/pull/folders.ts";
import { isOpenCrateError } from "../../src/errors.ts";
import { removeDir, tempDir } from "./helpers.ts";

const BODY = new TextEncoder().encode("checkpoint bytes ".repeat(1000));
const md5 = (bytes: Uint8Array): string => createHash("md5").update(bytes).digest("hex");

/** A backend whose head reports an MD5 checksum (as S3 and GCS do), possibly a wrong one. */
function withChecksum(inner: StorageBackend, checksumOf: (key: string) => string): StorageBackend {
  return new Proxy(inner, {
    get(target, property) {
      if (property === "head") {
        return async (key: string): Promise<ObjectInfo> => ({
          ...(await target.head(key)),
          checksum: { algorithm: "md5", value: checksumOf(key) },
        });
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

describe("pull downloads with checksums", () => {
  let dir: string;
  let inner: MemoryBackend;

  before(async () => {
    dir = await tempDir("download");
    inner = new MemoryBackend({ name: `cli-download-${Date.now()}` });
    await inner.put("v/model.bin", BODY);
  });
  after(() => removeDir(dir));

  async function pullOne(backend: StorageBackend, dest: string): Promise<DownloadOutcome> {
    return downloadFile(
      // The listing's view of the object, here with the checksum GCS listings carry.
      { key: "v/model.bin", path: "model.bin", segments: ["checkpoints", "model.bin"], listed: await backend.head("v/model.bin") },
      { backend, folders: new FolderMaker(await realpath(dest)), signal: new AbortController().signal, onBytes: () => {} },
    );
  }

  it("verifies the MD5 the store gives and says so", async () => {
    const dest = join(dir, "good");
    await mkdir(dest);
    const outcome = await pullOne(withChecksum(inner, () => md5(BODY)), dest);
    assert.deepEqual(outcome, { kind: "downloaded", size: BODY.byteLength, resumedFrom: 0, verified: "md5" });
    assert.deepEqual(new Uint8Array(await readFile(join(dest, "checkpoints/model.bin"))), BODY);
  });

  it("rejects content whose MD5 differs and leaves neither the file nor a partial", async () => {
    const dest = join(dir, "bad");
    await mkdir(dest);
    await assert.rejects(pullOne(withChecksum(inner, () => "0".repeat(32)), dest), (error: unknown) => {
      assert.ok(isOpenCrateError(error, "CORRUPT_DATA"));
      assert.match(error.message, /Checksum mismatch pulling .*v\/model\.bin: md5 [0-9a-f]{32} instead of 0{32}/);
      return true;
    });
    assert.deepEqual(await readdir(join(dest, "checkpoints")), []);
  });

  it("replaces a same-size file whose MD5 differs, and skips one whose MD5 matches", async () => {
    const dest = join(dir, "same-size");
    await mkdir(join(dest, "checkpoints"), { recursive: true });
    const wrong = new Uint8Array(BODY.byteLength).fill(120);
    await writeFile(join(dest, "checkpoints/model.bin"), wrong);
    const backend = withChecksum(inner, () => md5(BODY));
    assert.equal((await pullOne(backend, dest)).kind, "downloaded");
    assert.deepEqual(new Uint8Array(await readFile(join(dest, "checkpoints/model.bin"))), BODY);
    assert.deepEqual(await pullOne(backend, dest), { kind: "complete", size: BODY.byteLength });
  });
});
