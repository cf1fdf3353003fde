/**
 * Downloads one object into the destination: streamed into a partial file beside the target, checked (size, and
 * the store's MD5, SHA-256 or CRC32C when it gives one), then renamed into place. The partial file's name is derived
 * from the object's revision, so an interrupted pull continues it with a ranged read, and a partial of an older
 * revision is never continued.
 *
 * A listing's checksum may be tentative (an S3 ETag is the MD5 unless the object is SSE-KMS/SSE-C encrypted): it
 * is checked as usual, and only a mismatch costs a HEAD, whose exact answer decides.
 */
import { createHash } from "node:crypto";
import { constants, createReadStream } from "node:fs";
import { lstat, open, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { ObjectInfo, StorageBackend } from "../../backends/backend.ts";
import { Crc32c } from "../../backends/crc32c.ts";
import { CorruptDataError } from "../../errors.ts";
import { formatSize } from "../../io/size.ts";
import { RefusedPathError, type FolderMaker } from "./folders.ts";

export interface DownloadTask {
  readonly key: string;
  /** The path under the version folder (for messages). */
  readonly path: string;
  readonly segments: readonly string[];
  /** What the listing said of the object. */
  readonly listed: ObjectInfo;
}

/** Objects up to this size are read in one request into memory, without the cost of a stream per file. */
const WHOLE_READ_MAX_BYTES = 1024 * 1024;

export type DownloadOutcome =
  | {
      readonly kind: "downloaded";
      readonly size: number;
      readonly resumedFrom: number;
      /** The checksum algorithm the content was verified with, when the store gave one. */
      readonly verified: string | undefined;
    }
  | { readonly kind: "complete"; readonly size: number };

export interface DownloadContext {
  readonly backend: StorageBackend;
  readonly folders: FolderMaker;
  readonly signal: AbortSignal;
  /** Bytes that count towards the total (received, resumed or found complete). */
  readonly onBytes: (count: number) => void;
}

const PARTIAL_PREFIX = ".ocpart-";
const NO_FOLLOW = constants.O_NOFOLLOW ?? 0;

/** The partial file name for an object of `name` at `revision` (same folder as the target). */
export function partialFileName(name: string, revision: string): string {
  return `${PARTIAL_PREFIX}${createHash("sha256").update(`${name}\0${revision}`).digest("hex").slice(0, 32)}`;
}

export async function downloadFile(task: DownloadTask, context: DownloadContext): Promise<DownloadOutcome> {
  const { backend } = context;
  // What a head() would say too: no backend gives a checksum there that its listing lacks.
  const info = task.listed;
  const folder = await context.folders.ensure(task.segments.slice(0, -1));
  const present = await context.folders.entriesBefore(folder);
  const name = task.segments.at(-1) ?? "";
  const target = join(folder, name);

  if (present.has(name) && (await isComplete(target, info, task.key, context))) {
    context.onBytes(info.size);
    return { kind: "complete", size: info.size };
  }

  const partialName = partialFileName(name, info.revision);
  const partial = join(folder, partialName);
  const resumedFrom = present.has(partialName) ? await resumableSize(partial, info.size) : 0;
  const hash = hashFor(info);
  // Truncated unless continued: a partial that appeared after the folder was read (another pull into the same
  // dest) must not end up in front of this download's bytes.
  const fresh = resumedFrom === 0 ? constants.O_TRUNC : 0;
  const handle = await open(partial, constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | fresh | NO_FOLLOW, 0o644);
  let written = resumedFrom;
  let onDisk = -1;
  const received = async (bytes: Uint8Array): Promise<void> => {
    await writeAll(handle, bytes);
    hash?.update(bytes);
    written += bytes.byteLength;
    context.onBytes(bytes.byteLength);
  };
  try {
    if (hash !== undefined && resumedFrom > 0) await hashFile(partial, hash);
    context.onBytes(resumedFrom);
    if (resumedFrom === 0 && info.size <= WHOLE_READ_MAX_BYTES) {
      // One byte past the listed size: an object replaced by a bigger one shows as a size mismatch without being
      // read whole into memory.
      await received(await backend.get(task.key, { signal: context.signal, range: { offset: 0, length: info.size + 1 } }));
    } else if (written < info.size) {
      const stream = await backend.getStream(task.key, {
        signal: context.signal,
        ...(resumedFrom > 0 ? { range: { offset: resumedFrom } } : {}),
      });
      for await (const chunk of stream) await received(chunk as Uint8Array);
    }
    await handle.utimes(info.lastModified, info.lastModified);
    onDisk = (await handle.stat()).size;
  } finally {
    await handle.close();
  }

  const where = backend.describe(task.key);
  if (onDisk !== written) {
    // Checks below count the bytes received; the file must hold exactly those (not another writer's too).
    await unlink(partial).catch(() => {});
    throw new CorruptDataError(
      `${partial} changed while ${where} was written to it (${onDisk} bytes on disk, ${written} written): is another pull ` +
        "writing into the same folder? Pull again.",
      { path: partial },
    );
  }
  if (written !== info.size) {
    await unlink(partial).catch(() => {});
    throw new CorruptDataError(
      `Size mismatch pulling ${where}: expected ${info.size} bytes, received ${written} (the object may have changed; pull again).`,
      { path: where },
    );
  }
  let verified: string | undefined;
  if (hash !== undefined && info.checksum !== undefined) {
    const actual = hash.digest();
    const check = await checkContent(actual, info, task.key, context);
    if (check.kind === "mismatch") {
      await unlink(partial).catch(() => {});
      throw new CorruptDataError(`Checksum mismatch pulling ${where}: ${check.detail}.`, { path: where });
    }
    verified = check.kind === "verified" ? check.algorithm : undefined;
  }
  await placeFile(partial, target);
  return { kind: "downloaded", size: info.size, resumedFrom, verified };
}

/** Renames the finished partial into place; a folder at the target (another key made it one) is refused. */
async function placeFile(partial: string, target: string): Promise<void> {
  try {
    await rename(partial, target);
  } catch (error) {
    await unlink(partial).catch(() => {});
    if ((await lstat(target).catch(() => undefined))?.isDirectory() === true) {
      throw new RefusedPathError(`${target} is a folder, not a file`, { path: target });
    }
    throw error;
  }
}

type ContentCheck =
  | { readonly kind: "verified"; readonly algorithm: string }
  /** The store has no checksum for the object after all: only the size was checked. */
  | { readonly kind: "size-only" }
  | { readonly kind: "mismatch"; readonly detail: string };

/**
 * Compares the hex digest of content of the listed size with the checksum `info` gives. A mismatch with a
 * tentative checksum is settled by head(): its exact checksum, or none (the size then stands alone); an object whose
 * revision changed since the listing is a mismatch.
 */
async function checkContent(actual: string, info: ObjectInfo, key: string, context: DownloadContext): Promise<ContentCheck> {
  const { checksum } = info;
  if (checksum === undefined) return { kind: "size-only" };
  if (actual === checksum.value.toLowerCase()) return { kind: "verified", algorithm: checksum.algorithm };
  const claim = `${checksum.algorithm} ${actual} instead of ${checksum.value}`;
  if (checksum.tentative !== true) return { kind: "mismatch", detail: claim };

  const exact = await context.backend.head(key, { signal: context.signal });
  if (exact.revision !== info.revision) {
    return { kind: "mismatch", detail: `${claim}, and the object changed since it was listed (pull again)` };
  }
  if (exact.checksum === undefined) return { kind: "size-only" };
  if (exact.checksum.tentative !== true && exact.checksum.algorithm === checksum.algorithm) {
    return actual === exact.checksum.value.toLowerCase()
      ? { kind: "verified", algorithm: exact.checksum.algorithm }
      : { kind: "mismatch", detail: `${exact.checksum.algorithm} ${actual} instead of ${exact.checksum.value}` };
  }
  return { kind: "mismatch", detail: `${claim} (the store could not confirm it)` };
}

/** Describes a finished download for the plain-lines output. */
export function describeOutcome(path: string, outcome: DownloadOutcome): string {
  if (outcome.kind === "complete") return `complete  ${path} (${formatSize(outcome.size)}, already there)`;
  const resumed = outcome.resumedFrom > 0 ? `, resumed at ${formatSize(outcome.resumedFrom)}` : "";
  const verified = outcome.verified === undefined ? "" : `, ${outcome.verified} verified`;
  return `pulled    ${path} (${formatSize(outcome.size)}${resumed}${verified})`;
}

/**
 * An existing regular file (not a link) of the right size and, when the store gives one, the right checksum. A
 * mismatch never means corruption here, only that the file is downloaded again; a tentative checksum that does not
 * match is settled by head() first, so objects whose ETag is no MD5 (SSE-KMS) are not downloaded on every pull.
 */
async function isComplete(target: string, info: ObjectInfo, key: string, context: DownloadContext): Promise<boolean> {
  const existing = await lstat(target).catch(() => undefined);
  if (existing === undefined || existing.isSymbolicLink()) return false;
  if (existing.isDirectory()) throw new RefusedPathError(`${target} is a folder, not a file`, { path: target });
  if (!existing.isFile() || existing.size !== info.size) return false;
  const hash = hashFor(info);
  if (hash === undefined) return true;
  await hashFile(target, hash);
  return (await checkContent(hash.digest(), info, key, context)).kind !== "mismatch";
}

/** How many bytes of a partial file can be kept; anything unusable is removed. */
async function resumableSize(partial: string, size: number): Promise<number> {
  const existing = await lstat(partial).catch(() => undefined);
  if (existing === undefined) return 0;
  if (existing.isFile() && existing.size <= size) return existing.size;
  await unlink(partial);
  return 0;
}

/** A running checksum whose hex digest compares with ObjectInfo.checksum.value. */
interface ContentHash {
  update(bytes: Uint8Array): void;
  digest(): string;
}

function hashFor(info: ObjectInfo): ContentHash | undefined {
  const algorithm = info.checksum?.algorithm;
  if (algorithm === "crc32c") {
    const crc = new Crc32c();
    return { update: (bytes) => crc.update(bytes), digest: () => crc.toHex() };
  }
  if (algorithm !== "md5" && algorithm !== "sha256") return undefined;
  const hash = createHash(algorithm);
  return { update: (bytes) => hash.update(bytes), digest: () => hash.digest("hex") };
}

async function hashFile(path: string, hash: ContentHash): Promise<void> {
  for await (const chunk of createReadStream(path)) hash.update(chunk as Uint8Array);
}

async function writeAll(handle: Awaited<ReturnType<typeof open>>, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.byteLength) {
    const { bytesWritten } = await handle.write(bytes, offset, bytes.byteLength - offset);
    offset += bytesWritten;
  }
}
