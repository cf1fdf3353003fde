import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { CRC32C } from "@google-cloud/storage";
import { appendFile, link, mkdir, readdir, readFile, realpath, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { ObjectInfo, StorageBackend } from "../../src/backends/backend.ts";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { downloadFile, FolderEntries, partialFileName, type DownloadContext, type DownloadOutcome } from "../../src/cli/pull/download.ts";
import { PlacementConflictError, PulledFiles } from "../../src/cli/pull/placement.ts";
import { PullRecord } from "../../src/cli/pull/pull-record.ts";
import { RefusedPathError, SafeFolder } from "../../src/transfer/safe-folder.ts";
import { isOpenCrateError } from "../../src/errors.ts";
import { removeDir, tempDir } from "./helpers.ts";

/**
 * What pull hands each download: the destination opened as a SafeFolder (closed when the process ends); with
 * `overwrite`, as `pull --overwrite` does.
 */
async function contextFor(backend: StorageBackend, dest: string, overwrite = false): Promise<DownloadContext> {
  const root = await SafeFolder.open(await realpath(dest));
  return {
    backend,
    root,
    entries: new FolderEntries(),
    record: await PullRecord.read(root),
    pulled: new PulledFiles(),
    overwrite,
    signal: new AbortController().signal,
    onBytes: () => {},
  };
}

const BODY = new TextEncoder().encode("checkpoint bytes ".repeat(1000));
const md5 = (bytes: Uint8Array): string => createHash("md5").update(bytes).digest("hex");

/** A backend whose head reports a checksum (MD5 as S3 and GCS do, CRC32C as GCS does), possibly a wrong one. */
function withChecksum(
  inner: StorageBackend,
  checksumOf: (key: string) => string,
  algorithm: "md5" | "crc32c" = "md5",
): StorageBackend {
  return new Proxy(inner, {
    get(target, property) {
      if (property === "head") {
        return async (key: string): Promise<ObjectInfo> => ({
          ...(await target.head(key)),
          checksum: { algorithm, value: checksumOf(key) },
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

  async function pullOne(backend: StorageBackend, dest: string, overwrite = false): Promise<DownloadOutcome> {
    return downloadFile(
      // The listing's view of the object, here with the checksum GCS listings carry.
      { key: "v/model.bin", path: "model.bin", segments: ["checkpoints", "model.bin"], listed: await backend.head("v/model.bin") },
      await contextFor(backend, dest, overwrite),
    );
  }

  it("verifies the MD5 the store gives and says so", async () => {
    const dest = join(dir, "good");
    await mkdir(dest);
    const outcome = await pullOne(withChecksum(inner, () => md5(BODY)), dest);
    assert.deepEqual(outcome, { kind: "downloaded", size: BODY.byteLength, resumedFrom: 0, verified: "md5" });
    assert.deepEqual(new Uint8Array(await readFile(join(dest, "checkpoints/model.bin"))), BODY);
  });

  it("verifies a CRC32C (all a GCS composite object has) and rejects content whose CRC32C differs", async () => {
    const good = join(dir, "crc-good");
    await mkdir(good, { recursive: true });
    const crc = new CRC32C();
    crc.update(Buffer.from(BODY));
    const expected = Buffer.from(crc.toString(), "base64").toString("hex");
    const outcome = await pullOne(withChecksum(inner, () => expected, "crc32c"), good);
    assert.deepEqual(outcome, { kind: "downloaded", size: BODY.byteLength, resumedFrom: 0, verified: "crc32c" });

    const bad = join(dir, "crc-bad");
    await mkdir(bad, { recursive: true });
    await assert.rejects(pullOne(withChecksum(inner, () => "00000000", "crc32c"), bad), (error: Error) => {
      assert.match(error.message, /Checksum mismatch downloading .*v\/model\.bin: crc32c [0-9a-f]{8} instead of 0{8}/);
      return true;
    });
    assert.deepEqual(await readdir(join(bad, "checkpoints")), [], "neither the file nor a partial");
  });

  it("rejects content whose MD5 differs and leaves neither the file nor a partial", async () => {
    const dest = join(dir, "bad");
    await mkdir(dest);
    await assert.rejects(pullOne(withChecksum(inner, () => "0".repeat(32)), dest), (error: unknown) => {
      assert.ok(isOpenCrateError(error, "CORRUPT_DATA"));
      assert.match(error.message, /Checksum mismatch downloading .*v\/model\.bin: md5 [0-9a-f]{32} instead of 0{32}/);
      return true;
    });
    assert.deepEqual(await readdir(join(dest, "checkpoints")), []);
  });

  it("keeps a same-size file whose MD5 differs that no pull placed, replaces it when told to, then skips it as complete", async () => {
    const dest = join(dir, "same-size");
    await mkdir(join(dest, "checkpoints"), { recursive: true });
    const wrong = new Uint8Array(BODY.byteLength).fill(120);
    await writeFile(join(dest, "checkpoints/model.bin"), wrong);
    const backend = withChecksum(inner, () => md5(BODY));
    await assert.rejects(pullOne(backend, dest), (error: Error) => {
      assert.ok(error instanceof PlacementConflictError && isOpenCrateError(error, "ALREADY_EXISTS"), String(error));
      assert.match(error.message, /same-size\/checkpoints\/model\.bin exists and was not placed by a pull \(or changed since\); pass --overwrite/);
      return true;
    });
    assert.deepEqual(new Uint8Array(await readFile(join(dest, "checkpoints/model.bin"))), wrong);
    assert.deepEqual(await readdir(join(dest, "checkpoints")), ["model.bin"], "no partial was started");
    assert.equal((await pullOne(backend, dest, true)).kind, "downloaded");
    assert.deepEqual(new Uint8Array(await readFile(join(dest, "checkpoints/model.bin"))), BODY);
    assert.deepEqual(await pullOne(backend, dest), { kind: "complete", size: BODY.byteLength });
  });
});

describe("pull downloads with a tentative checksum from the listing (S3 ETags)", () => {
  let dir: string;
  let inner: MemoryBackend;
  let listed: ObjectInfo;

  before(async () => {
    dir = await tempDir("download-tentative");
    inner = new MemoryBackend({ name: `cli-download-tentative-${Date.now()}` });
    listed = await inner.put("v/model.bin", BODY);
  });
  after(() => removeDir(dir));

  /** A backend whose head gives `headChecksum` (none when undefined) and counts its calls. */
  function withHead(headChecksum: ObjectInfo["checksum"]): { backend: StorageBackend; heads: () => number } {
    let heads = 0;
    const backend = new Proxy(inner, {
      get(target, property) {
        if (property === "head") {
          return async (key: string): Promise<ObjectInfo> => {
            heads += 1;
            const { checksum: _none, ...info } = await target.head(key);
            return headChecksum === undefined ? info : { ...info, checksum: headChecksum };
          };
        }
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    return { backend, heads: () => heads };
  }

  async function pullListed(backend: StorageBackend, dest: string, tentativeMd5: string, info: ObjectInfo = listed, context?: DownloadContext): Promise<DownloadOutcome> {
    await mkdir(dest, { recursive: true });
    return downloadFile(
      {
        key: "v/model.bin",
        path: "model.bin",
        segments: ["model.bin"],
        listed: { ...info, checksum: { algorithm: "md5", value: tentativeMd5, tentative: true } },
      },
      context ?? (await contextFor(backend, dest)),
    );
  }

  it("verifies a matching tentative MD5 without a HEAD", async () => {
    const { backend, heads } = withHead({ algorithm: "md5", value: md5(BODY) });
    const outcome = await pullListed(backend, join(dir, "match"), md5(BODY));
    assert.deepEqual(outcome, { kind: "downloaded", size: BODY.byteLength, resumedFrom: 0, verified: "md5" });
    assert.equal(heads(), 0);
  });

  it("accepts a mismatch that head() settles: its exact MD5 matches, or it has none (SSE-KMS: size only)", async () => {
    const exact = withHead({ algorithm: "md5", value: md5(BODY) });
    const confirmed = await pullListed(exact.backend, join(dir, "confirmed"), "e".repeat(32));
    assert.deepEqual(confirmed, { kind: "downloaded", size: BODY.byteLength, resumedFrom: 0, verified: "md5" });
    assert.equal(exact.heads(), 1);

    const none = withHead(undefined);
    const sizeOnly = await pullListed(none.backend, join(dir, "kms"), "e".repeat(32));
    assert.deepEqual(sizeOnly, { kind: "downloaded", size: BODY.byteLength, resumedFrom: 0, verified: undefined });
    assert.deepEqual(new Uint8Array(await readFile(join(dir, "kms", "model.bin"))), BODY);
  });

  it("rejects content that head()'s exact MD5 also contradicts, or an object that changed since the listing", async () => {
    const corrupt = withHead({ algorithm: "md5", value: "e".repeat(32) });
    await assert.rejects(pullListed(corrupt.backend, join(dir, "corrupt"), "e".repeat(32)), (error: unknown) => {
      assert.ok(isOpenCrateError(error, "CORRUPT_DATA"));
      assert.match(error.message, /Checksum mismatch downloading .*v\/model\.bin: md5 [0-9a-f]{32} instead of e{32}\.$/);
      return true;
    });
    assert.deepEqual(await readdir(join(dir, "corrupt")), [], "neither the file nor a partial is left");

    const changed = withHead(undefined);
    const stale = { ...listed, revision: "an older revision" };
    // Every read is pinned to the listed revision: the first one already finds the object replaced.
    await assert.rejects(pullListed(changed.backend, join(dir, "changed"), "e".repeat(32), stale), (error: unknown) => {
      assert.ok(isOpenCrateError(error, "TRANSIENT"), String(error));
      assert.match(error.message, /v\/model\.bin changed since it was listed \(replaced while it was being downloaded\); download it again\.$/);
      return true;
    });
    assert.deepEqual(await readdir(join(dir, "changed")), [], "neither the file nor a partial is left");
  });

  it("treats a tentative mismatch in dest as not complete, never as corruption", async () => {
    const dest = join(dir, "existing");
    await mkdir(dest);
    const wrong = new Uint8Array(BODY.byteLength).fill(120);

    // The store's exact MD5 is the object's: the same-size file in dest is stale and is replaced (as --overwrite).
    await writeFile(join(dest, "model.bin"), wrong);
    const exact = withHead({ algorithm: "md5", value: md5(BODY) });
    assert.equal((await pullListed(exact.backend, dest, md5(BODY), listed, await contextFor(exact.backend, dest, true))).kind, "downloaded");
    assert.deepEqual(new Uint8Array(await readFile(join(dest, "model.bin"))), BODY);

    // The ETag is no MD5 (SSE-KMS) and head() has none: the size alone does not make a file complete (another
    // version's file may have the same size), so it is downloaded again, and found complete by the next pull,
    // which the pull's record tells that it placed this file for this revision. (The file there now was placed by
    // a pull whose record was not saved: as a file no pull placed, it is replaced with --overwrite only.)
    const none = withHead(undefined);
    const context = await contextFor(none.backend, dest, true);
    assert.equal((await pullListed(none.backend, dest, "e".repeat(32), listed, context)).kind, "downloaded");
    assert.deepEqual(await pullListed(none.backend, dest, "e".repeat(32), listed, context), { kind: "complete", size: BODY.byteLength });
    assert.equal(none.heads(), 3, "one head() per check of the same-size file and one for the download");
  });
});

describe("pull downloads into a folder that changes under it", () => {
  let dir: string;
  let backend: MemoryBackend;

  before(async () => {
    dir = await tempDir("download-changes");
    backend = new MemoryBackend({ name: `cli-download-changes-${Date.now()}` });
    await backend.put("v/model.bin", BODY);
  });
  after(() => removeDir(dir));

  /** Reads the destination's names first (as the first download of a pull does), then lets `meanwhile` change it. */
  async function pullAfter(dest: string, meanwhile: (folder: string, info: ObjectInfo) => Promise<unknown>): Promise<DownloadOutcome> {
    await mkdir(dest, { recursive: true });
    const context = await contextFor(backend, dest);
    await context.entries.of(context.root);
    const info = await backend.head("v/model.bin");
    await meanwhile(context.root.path, info);
    return downloadFile({ key: "v/model.bin", path: "model.bin", segments: ["model.bin"], listed: info }, context);
  }

  it("starts a partial that appeared after the folder was read afresh, never after its bytes", async () => {
    const dest = join(dir, "late-partial");
    const outcome = await pullAfter(dest, (folder, info) =>
      writeFile(join(folder, partialFileName("model.bin", info.revision)), "bytes of another pull"),
    );
    assert.equal(outcome.kind, "downloaded");
    assert.deepEqual(new Uint8Array(await readFile(join(dest, "model.bin"))), BODY);
  });

  it("fails, leaving no partial, when another writer adds to the partial file during the download", async () => {
    const dest = join(dir, "shared-partial");
    await mkdir(dest, { recursive: true });
    const info = await backend.head("v/model.bin");
    const partial = join(await realpath(dest), partialFileName("model.bin", info.revision));
    // Another pull into the same folder appends to the same partial while this one fetches the bytes.
    const intruded = new Proxy(backend, {
      get(target, property) {
        if (property === "get") {
          return async (key: string, options: object) => {
            await appendFile(partial, "bytes of another pull");
            return target.get(key, options);
          };
        }
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    await assert.rejects(
      downloadFile(
        { key: "v/model.bin", path: "model.bin", segments: ["model.bin"], listed: info },
        await contextFor(intruded, dest),
      ),
      (error: Error) => {
        assert.ok(isOpenCrateError(error) && error.code === "CORRUPT_DATA", String(error));
        assert.match(error.message, /changed while .*model\.bin was written to it/);
        return true;
      },
    );
    assert.deepEqual(await readdir(dest), [], "neither the file nor the partial");
  });

  it("leaves a file that appeared at the target during the download as it is, and no partial; --overwrite replaces it", async () => {
    for (const overwrite of [false, true]) {
      const dest = join(dir, `late-file-${overwrite}`);
      await mkdir(dest, { recursive: true });
      const context = await contextFor(backend, dest, overwrite);
      // The folder is read (empty) before the file appears: only the check right before the move can see it.
      await context.entries.of(context.root);
      const info = await backend.head("v/model.bin");
      await writeFile(join(dest, "model.bin"), "the user's own file");
      const download = downloadFile({ key: "v/model.bin", path: "model.bin", segments: ["model.bin"], listed: info }, context);
      if (overwrite) {
        assert.equal((await download).kind, "downloaded");
        assert.deepEqual(new Uint8Array(await readFile(join(dest, "model.bin"))), BODY);
      } else {
        await assert.rejects(download, (error: Error) => {
          assert.ok(error instanceof PlacementConflictError, String(error));
          assert.match(error.message, /late-file-false\/model\.bin exists and was not placed by a pull/);
          return true;
        });
        assert.equal(await readFile(join(dest, "model.bin"), "utf8"), "the user's own file");
      }
      assert.deepEqual(await readdir(dest), ["model.bin"], "no partial left");
    }
  });

  it("does not let a second key replace the file this pull placed for another key at the same file, even with --overwrite", async () => {
    // What a case-insensitive disk does with "Case.bin" and "CASE.bin": one file under two names (here a hard link).
    await backend.put("v/Case.bin", new TextEncoder().encode("first key"));
    await backend.put("v/CASE.bin", new TextEncoder().encode("second key"));
    const dest = join(dir, "two-keys");
    await mkdir(dest, { recursive: true });
    const context = await contextFor(backend, dest, true);
    const first = { key: "v/Case.bin", path: "Case.bin", segments: ["Case.bin"], listed: await backend.head("v/Case.bin") };
    assert.equal((await downloadFile(first, context)).kind, "downloaded");
    await link(join(dest, "Case.bin"), join(dest, "CASE.bin"));
    const second = { key: "v/CASE.bin", path: "CASE.bin", segments: ["CASE.bin"], listed: await backend.head("v/CASE.bin") };
    await assert.rejects(downloadFile(second, context), (error: Error) => {
      assert.ok(error instanceof PlacementConflictError, String(error));
      assert.match(error.message, /two-keys\/CASE\.bin is the file this pull wrote for "v\/Case\.bin", and "v\/CASE\.bin" lands on it too/);
      return true;
    });
    assert.equal(await readFile(join(dest, "Case.bin"), "utf8"), "first key");
    assert.deepEqual((await readdir(dest)).sort(), ["CASE.bin", "Case.bin"]);
  });

  it("never writes into a partial that is also the placed file (a pull killed between placing it and removing the partial's name)", async () => {
    const dest = join(dir, "linked-partial");
    await mkdir(dest, { recursive: true });
    const info = await backend.head("v/model.bin");
    await writeFile(join(dest, "model.bin"), "short file");
    await link(join(dest, "model.bin"), join(dest, partialFileName("model.bin", info.revision)));
    const context = await contextFor(backend, dest, true);
    const outcome = await downloadFile({ key: "v/model.bin", path: "model.bin", segments: ["model.bin"], listed: info }, context);
    assert.deepEqual(outcome, { kind: "downloaded", size: BODY.byteLength, resumedFrom: 0, verified: outcome.kind === "downloaded" ? outcome.verified : undefined });
    assert.deepEqual(new Uint8Array(await readFile(join(dest, "model.bin"))), BODY);
    assert.deepEqual(await readdir(dest), ["model.bin"]);
  });

  it("refuses, by name, a target that became a folder meanwhile, and leaves no partial", async () => {
    const dest = join(dir, "late-folder");
    await assert.rejects(
      pullAfter(dest, (folder) => mkdir(join(folder, "model.bin", "inner"), { recursive: true })),
      (error: Error) => {
        assert.ok(error instanceof RefusedPathError, String(error));
        assert.match(error.message, /model\.bin is a folder, not a file/);
        return true;
      },
    );
    assert.deepEqual(await readdir(dest), ["model.bin"], "only the folder, no partial");
  });
});
