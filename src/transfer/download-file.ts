/**
 * The one way objects are downloaded into local files (artifact.downloadTo and `opencrate pull`): into a partial
 * file beside the target, every read pinned to the revision the download started from, then checked (the size, and
 * the store's MD5, SHA-256 or CRC32C when it gives one), then renamed into place, inside a SafeFolder so that no
 * link planted meanwhile redirects a byte.
 *
 * Large objects on a network store are read as parallel ranged streams written at their offsets (ranged-read.ts);
 * small ones in one request. A download the caller may continue later (keep) leaves what it got when it fails, and a
 * later one (resume) continues it: a one-stream partial holds a prefix, continued with one ranged stream from its
 * end; a partial written in ranges has a journal beside it naming the ranges on disk (range-journal.ts), and only the
 * others are read again.
 */
import { type BigIntStats, closeSync, constants, fstatSync, futimesSync, linkSync, lstatSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { type FileHandle, link, lstat, open, rename, unlink } from "node:fs/promises";
import { basename, join } from "node:path";
import type { ObjectInfo, StorageBackend } from "../backends/backend.ts";
import { isErrno, isNoHardLinks, toLocalError } from "../backends/local/errors.ts";
import { isNetworkErrorCode } from "../backends/network-codes.ts";
import { CorruptDataError, isOpenCrateError, TransientError } from "../errors.ts";
import { checkContent, crc32cHex, hashFile, hashFor } from "./content-check.ts";
import { writeBody } from "./file-writes.ts";
import { InOrderHash } from "./in-order-hash.ts";
import { JournalWriter, type RangeLayout, readJournal } from "./range-journal.ts";
import { preallocate } from "./preallocate.ts";
import { RANGE_BYTES, rangesOf, readRanges } from "./ranged-read.ts";
import { RefusedPathError, type SafeFolder } from "./safe-folder.ts";

/** Objects up to this size are read in one request into memory, without the cost of a stream. */
const WHOLE_READ_MAX_BYTES = 1024 * 1024;
/** Objects from this size are read in parallel ranges (on stores across a network). */
const PARALLEL_MIN_BYTES = 2 * RANGE_BYTES;
const NO_FOLLOW = constants.O_NOFOLLOW ?? 0;
/** Ends the name of a partial file written in parallel ranges. */
const RANGES_SUFFIX = "-ranges";
/** Ends the name of the journal beside it. */
const JOURNAL_SUFFIX = ".done";

export interface FileDownload {
  readonly backend: StorageBackend;
  readonly key: string;
  /** The object as a listing or head() gave it: its size, revision and checksum are what the file must match. */
  readonly info: ObjectInfo;
  readonly folder: SafeFolder;
  /** The target's name in `folder`. */
  readonly name: string;
  /** The partial file's name in `folder` (a partial written in ranges, and its journal, take names derived from it). */
  readonly partialName: string;
  /**
   * Continue what an earlier download of this revision left under `partialName` (see partialEntries); otherwise
   * start afresh.
   */
  readonly resume: boolean;
  /**
   * Leave what this download got under the partial's names when it fails (a prefix, or ranges and their journal), for
   * a later download of the same revision to continue; otherwise leave nothing. Default: `resume`.
   */
  readonly keep?: boolean | undefined;
  /** Parallel ranged streams for a large object; undefined takes the backend's `readConcurrency`, else chooses by
   * size and measured throughput. */
  readonly streams?: number | undefined;
  /** At most this many streams (1: one stream, whose partial holds a prefix). */
  readonly maxStreams?: number | undefined;
  readonly signal?: AbortSignal | undefined;
  /** Bytes that count towards the total (received, or kept from a partial file). */
  readonly onBytes?: ((count: number) => void) | undefined;
  /** Report the placed file's identity (FileDownloaded.placed): "unverified" when no checksum verified its content,
   * "always" whether one did or not. */
  readonly identify?: "unverified" | "always" | undefined;
  /**
   * When given, nothing at the target is replaced unless the guard allows it: the file is moved into place with a
   * call that fails when the target exists, and only then is the guard asked about what is there. Without one, the
   * target is replaced (never followed when it is a link).
   */
  readonly guard?: PlacementGuard | undefined;
}

/** Decides, right before a finished download is moved into place, what it may replace. */
export interface PlacementGuard {
  /** The finished partial file, about to become the target (called once, before it is moved). */
  claim(partial: BigIntStats): void;
  /** Throws, leaving the target as it is, unless `existing` (what is at the target now, not a folder) may be replaced. */
  check(existing: BigIntStats): void;
}

/**
 * A file as it was right after it was placed: any later replacement or change gives another inode or change time.
 * Its modification time is the object's (set before the file is moved into place, which keeps it, while the move
 * changes the change time); an edit in place changes it too, unless the editor sets it back.
 */
export interface PlacedFile {
  readonly ino: string;
  readonly ctimeNs: string;
  readonly mtimeNs: string;
  readonly size: number;
}

export interface FileDownloaded {
  readonly size: number;
  /** Bytes kept from a partial file. */
  readonly resumedFrom: number;
  /** The checksum algorithm the content was verified with, when the store gave one. */
  readonly verified: string | undefined;
  /** As `identify` asks: the placed file, unless another file took its place meanwhile. */
  readonly placed?: PlacedFile | undefined;
}

/** The names a download with this partial name may leave in its folder (to tell whether one is there to resume). */
export function partialEntries(partialName: string): readonly string[] {
  return [partialName, `${partialName}${RANGES_SUFFIX}`, `${partialName}${RANGES_SUFFIX}${JOURNAL_SUFFIX}`];
}

/** Whether a fresh download of an object of `size` bytes is read in one request into memory (else streamed). */
export function readsWhole(size: number): boolean {
  return size <= WHOLE_READ_MAX_BYTES;
}

/**
 * Downloads the object into `folder`/`name`. A local file-system failure (a full disk, a read-only mount, a quota)
 * is an OpenCrateError naming the target file, mapped as the local backend maps its own writes.
 */
export async function downloadToFile(request: FileDownload): Promise<FileDownloaded> {
  try {
    return await download(request);
  } catch (error) {
    throw localFileError(error, join(request.folder.path, request.name));
  }
}

function localFileError(error: unknown, path: string): unknown {
  // Socket failures carry errno-style codes too; they come from the store's side, not from the local disk.
  if (!isErrno(error) || isNetworkErrorCode(error.code)) return error;
  return toLocalError(error, path, "write");
}

async function download(request: FileDownload): Promise<FileDownloaded> {
  const { backend, info, folder } = request;
  const onBytes = request.onBytes ?? (() => {});
  const plan = await planFill(request);
  const partial = plan.partial;
  // Appending unless in ranges: bytes another writer adds to the partial meanwhile then show as a size mismatch.
  const flags =
    // Ranges are read back from the file for their CRC32C.
    (plan.parallel ? constants.O_RDWR : constants.O_WRONLY) |
    constants.O_CREAT |
    NO_FOLLOW |
    (plan.parallel ? 0 : constants.O_APPEND) |
    (plan.resumedFrom === 0 ? constants.O_TRUNC : 0);
  const read = { ifRevision: info.revision, ...(request.signal === undefined ? {} : { signal: request.signal }) };
  const small = !plan.parallel && plan.resumedFrom === 0 && readsWhole(info.size);
  let filled: Filled;
  try {
    filled = small ? await fillSmall(request, partial, flags, read, onBytes) : await fillStreamed(request, partial, flags, plan, read, onBytes);
  } catch (error) {
    // Kept for a later download to continue (an interrupted pull goes on from there), unless nothing in it can be:
    // a small object is read whole before a byte is written, a revision that is gone is not read again, and bytes
    // the store's read found bad must not be continued (with no checksum of the whole, nothing would catch them).
    if (!keeps(request) || small || !keptAfter(error) || !(await holdsBytes(partial))) {
      await unlink(partial).catch(() => {});
      if (plan.journal !== undefined) await unlink(plan.journal).catch(() => {});
    }
    throw replacedWhileRead(error, backend.describe(request.key));
  }

  try {
    const verified = await verify(request, partial, filled);
    await request.folder.verify();
    const identify = request.identify === "always" || (request.identify === "unverified" && verified === undefined);
    const written = filled.stats ?? (await lstat(partial, { bigint: true }));
    await place(request, partial, filled.small, written);
    if (plan.journal !== undefined) await unlink(plan.journal).catch(() => {});
    const placed = identify ? await placedFile(request, written.ino, filled.small) : undefined;
    return { size: info.size, resumedFrom: plan.resumedFrom, verified, placed };
  } catch (error) {
    await unlink(partial).catch(() => {});
    if (plan.journal !== undefined) await unlink(plan.journal).catch(() => {});
    throw error;
  }
}

interface FillPlan {
  /** In parallel ranges (else one stream, appending). */
  readonly parallel: boolean;
  readonly partial: string;
  readonly streams: number | undefined;
  readonly maxStreams: number | undefined;
  /** Bytes already in the partial: its size (one stream), or the ranges in `done`. */
  readonly resumedFrom: number;
  /** Ranges already in the partial. */
  readonly done: ReadonlySet<number>;
  /** Bytes before this offset are in the partial (a one-stream prefix continued in ranges). */
  readonly filledTo: number;
  /** The journal's path, when this download records its ranges (it may be continued). */
  readonly journal: string | undefined;
  readonly layout: RangeLayout;
}

/**
 * One stream or ranges, and what is kept from an earlier attempt: a partial in ranges whose journal matches this
 * revision is continued in ranges (whatever the stream count); a one-stream partial is continued in ranges from the
 * end of its prefix.
 */
async function planFill(request: FileDownload): Promise<FillPlan> {
  const { info, folder, backend } = request;
  const streams = request.streams ?? fixedStreams(backend);
  const maxStreams = request.maxStreams;
  const layout: RangeLayout = { revision: info.revision, size: info.size, rangeBytes: RANGE_BYTES };
  const prefixPartial = folder.entry(request.partialName);
  const rangedPartial = folder.entry(`${request.partialName}${RANGES_SUFFIX}`);
  // Written when what this download gets is kept; read when an earlier one's is continued.
  const journal = keeps(request) ? folder.entry(`${request.partialName}${RANGES_SUFFIX}${JOURNAL_SUFFIX}`) : undefined;
  if (request.resume) await dropLinkedPartials([prefixPartial, rangedPartial]);
  const ranges = rangesOf(0, info.size);
  const bytesOf = (done: ReadonlySet<number>): number =>
    [...done].reduce((sum, index) => sum + ((ranges[index]?.end ?? 0) - (ranges[index]?.start ?? 0)), 0);

  let done = journal === undefined || !request.resume ? undefined : await readJournal(journal, layout);
  if (done !== undefined && !(await holdsAtMost(rangedPartial, info.size))) done = undefined;
  const parallelPays = info.size >= PARALLEL_MIN_BYTES && (streams ?? 2) > 1 && (maxStreams ?? 2) > 1 && acrossNetwork(backend);
  if (done === undefined && !parallelPays) {
    const resumedFrom = request.resume ? await resumableSize(prefixPartial, info.size) : 0;
    return { parallel: false, partial: prefixPartial, streams, maxStreams, resumedFrom, filledTo: 0, done: new Set(), journal: undefined, layout };
  }
  if (done !== undefined) {
    return { parallel: true, partial: rangedPartial, streams, maxStreams, resumedFrom: bytesOf(done), filledTo: 0, done, journal, layout };
  }
  const prefix = request.resume ? await resumableSize(prefixPartial, info.size) : 0;
  const covered = new Set<number>();
  if (prefix > 0) {
    await rename(prefixPartial, rangedPartial);
    ranges.forEach((range, index) => {
      if (range.end <= prefix) covered.add(index);
    });
  }
  return { parallel: true, partial: rangedPartial, streams, maxStreams, resumedFrom: prefix, filledTo: prefix, done: covered, journal, layout };
}

/** Whether what this download gets is left for a later one when it fails. */
function keeps(request: FileDownload): boolean {
  return request.keep ?? request.resume;
}

/** Whether what a download got before it failed with `error` may be continued. */
function keptAfter(error: unknown): boolean {
  return !isOpenCrateError(error, "PRECONDITION_FAILED") && !isOpenCrateError(error, "CORRUPT_DATA");
}

/** Whether a file of at least one byte is at `path`. */
async function holdsBytes(path: string): Promise<boolean> {
  return ((await lstat(path).catch(() => undefined))?.size ?? 0) > 0;
}

/** Whether a regular file of at most `size` bytes is at `path`. */
async function holdsAtMost(path: string, size: number): Promise<boolean> {
  const existing = await lstat(path).catch(() => undefined);
  return existing !== undefined && existing.isFile() && existing.size <= size;
}

interface Filled {
  /** Bytes received (a continued partial's kept bytes included). */
  readonly written: number;
  /** The partial file's size once written. */
  readonly onDisk: number;
  /** Hex digest of the content, when it could be computed on the way (undefined: read the file back). */
  readonly digest: string | undefined;
  /** The digest is the CRC32C the object info gives beside its checksum (ObjectInfo.crc32c), not that checksum. */
  readonly digestIsCrc32c?: boolean;
  /** Read in one request into memory and written with synchronous calls. */
  readonly small: boolean;
  /** The partial file's stats once written and closed (a small file's, from its descriptor). */
  readonly stats?: BigIntStats;
}

type PinnedRead = { readonly ifRevision: string; readonly signal?: AbortSignal };

/**
 * A small object: one request, then a few synchronous calls, which cost less than a trip through the thread pool
 * each. The partial is opened first, so bytes another writer appends meanwhile show as a size mismatch.
 */
async function fillSmall(request: FileDownload, partial: string, flags: number, read: PinnedRead, onBytes: (count: number) => void): Promise<Filled> {
  const { info } = request;
  const hash = hashFor(info);
  const fd = openSync(partial, flags, 0o644);
  try {
    // One byte past the listed size: an object that grew shows as a size mismatch without being read whole.
    const bytes = await request.backend.get(request.key, { ...read, range: { offset: 0, length: info.size + 1 } });
    hash?.update(bytes);
    onBytes(bytes.byteLength);
    for (let done = 0; done < bytes.byteLength; ) done += writeSync(fd, bytes, done, bytes.byteLength - done);
    futimesSync(fd, info.lastModified, info.lastModified);
    const stats = fstatSync(fd, { bigint: true });
    return { written: bytes.byteLength, onDisk: Number(stats.size), digest: hash?.digest(), small: true, stats };
  } finally {
    closeSync(fd);
  }
}

/** A larger object, or the rest of a partial file: parallel ranges, or one stream, written in large blocks. */
async function fillStreamed(
  request: FileDownload,
  partial: string,
  flags: number,
  plan: FillPlan,
  read: PinnedRead,
  onBytes: (count: number) => void,
): Promise<Filled> {
  const { info, backend } = request;
  const hash = plan.parallel ? undefined : hashFor(info);
  const handle = await open(partial, flags, 0o644);
  try {
    if (hash !== undefined && plan.resumedFrom > 0) await hashFile(partial, hash, 0, plan.resumedFrom);
    onBytes(plan.resumedFrom);
    let written = plan.resumedFrom;
    let digest: string | undefined;
    let digestIsCrc32c = false;
    if (plan.parallel) {
      ({ digest, digestIsCrc32c } = await readInRanges(request, partial, handle, plan, onBytes));
      written = info.size;
    } else if (written < info.size) {
      const body = await backend.getStream(request.key, { ...read, range: { offset: plan.resumedFrom } });
      const received = (bytes: Uint8Array): void => {
        hash?.update(bytes);
        onBytes(bytes.byteLength);
      };
      written += await writeBody(body, handle, null, received, info.size + 1 - plan.resumedFrom);
    }
    await handle.utimes(info.lastModified, info.lastModified);
    return { written, onDisk: (await handle.stat()).size, digest: digest ?? hash?.digest(), digestIsCrc32c, small: false };
  } finally {
    await handle.close();
  }
}

/**
 * The ranges not yet in the partial, each recorded in the journal (when kept) once written; the digest of the
 * whole when it could be had on the way: a CRC32C combined from the ranges' (the object's checksum, or the CRC32C
 * its info gives beside an MD5, when every range is read now), else an MD5 or SHA-256 hashed in order behind the
 * download.
 */
async function readInRanges(
  request: FileDownload,
  partial: string,
  handle: FileHandle,
  plan: FillPlan,
  onBytes: (count: number) => void,
): Promise<{ readonly digest: string | undefined; readonly digestIsCrc32c: boolean }> {
  const { info } = request;
  const algorithm = info.checksum?.algorithm;
  const everyRange = plan.done.size === 0 && plan.filledTo === 0;
  const besideChecksum = algorithm !== "crc32c" && info.crc32c !== undefined && everyRange;
  const byCrc32c = algorithm === "crc32c" || besideChecksum;
  const hash = !byCrc32c && (algorithm === "md5" || algorithm === "sha256") ? hashFor(info) : undefined;
  const ordered = hash === undefined ? undefined : new InOrderHash(hash, partial, rangesOf(0, info.size));
  for (const index of plan.done) ordered?.finished(index);
  const journal = plan.journal === undefined ? undefined : await JournalWriter.create(plan.journal, plan.layout, plan.done, handle);
  try {
    // After the journal: it names the ranges a continued prefix covers, which a failure here must not lose.
    await preallocate(handle, info.size, join(request.folder.path, basename(partial)), request.signal);
    const crc = await readRanges({
      backend: request.backend,
      key: request.key,
      revision: info.revision,
      start: 0,
      end: info.size,
      handle,
      streams: plan.streams,
      maxStreams: plan.maxStreams,
      done: plan.done,
      filledTo: plan.filledTo,
      onRangeDone: async (index) => {
        ordered?.finished(index);
        await journal?.finished(index);
      },
      crc32c: byCrc32c,
      signal: request.signal,
      onBytes,
    });
    if (crc !== undefined) return { digest: crc32cHex(crc), digestIsCrc32c: besideChecksum };
    return { digest: await ordered?.digest(), digestIsCrc32c: false };
  } catch (error) {
    // What was written stays usable for the next attempt.
    await journal?.flush().catch(() => {});
    await ordered?.settle();
    throw error;
  } finally {
    await journal?.close();
  }
}

/** The stream count a backend's own options fix (S3Backend's readConcurrency), if any, looked up through the layers
 * that wrap it (each keeps the backend it wraps as `inner`). */
function fixedStreams(backend: StorageBackend): number | undefined {
  for (let layer: unknown = backend, depth = 0; typeof layer === "object" && layer !== null && depth < 8; depth++) {
    const { readConcurrency, inner } = layer as { readonly readConcurrency?: unknown; readonly inner?: unknown };
    if (typeof readConcurrency === "number") return readConcurrency;
    layer = inner;
  }
  return undefined;
}

/** Parallel ranges pay where requests cross a network; a local or in-memory store reads faster in one stream. */
function acrossNetwork(backend: StorageBackend): boolean {
  return backend.kind !== "local" && backend.kind !== "memory";
}

/** A pinned read that found another revision: the object was replaced since the download began. */
function replacedWhileRead(error: unknown, where: string): unknown {
  if (!isOpenCrateError(error, "PRECONDITION_FAILED")) return error;
  return new TransientError(`${where} changed since it was listed (replaced while it was being downloaded); download it again.`, {
    path: where,
    cause: error,
  });
}

/** Size on disk, size received, then the checksum; the algorithm verified, if any. */
async function verify(request: FileDownload, partial: string, counts: Filled): Promise<string | undefined> {
  const { info, backend } = request;
  const where = backend.describe(request.key);
  if (counts.onDisk !== counts.written) {
    // The checks below count the bytes received; the file must hold exactly those (not another writer's too).
    throw new CorruptDataError(
      `${partial} changed while ${where} was written to it (${counts.onDisk} bytes on disk, ${counts.written} written): is another ` +
        "download writing into the same folder? Download again.",
      { path: partial },
    );
  }
  if (counts.written !== info.size) {
    throw new CorruptDataError(
      `Size mismatch downloading ${where}: expected ${info.size} bytes, received ${counts.written} (the object may have changed; download again).`,
      { path: where },
    );
  }
  if (counts.digestIsCrc32c === true && info.crc32c !== undefined) {
    const expected = info.crc32c.toLowerCase();
    if (counts.digest !== expected) {
      throw new CorruptDataError(`Checksum mismatch downloading ${where}: crc32c ${counts.digest ?? "(none)"} instead of ${expected}.`, { path: where });
    }
    return "crc32c";
  }
  if (info.checksum === undefined) return undefined;
  let actual = counts.digest;
  if (actual === undefined) {
    // Not hashed on the way (a CRC32C of a resumed partial): the file is read back once.
    const hash = hashFor(info);
    if (hash === undefined) return undefined;
    await hashFile(partial, hash);
    actual = hash.digest();
  }
  const check = await checkContent(actual, info, request.key, backend, request.signal);
  if (check.kind === "mismatch") throw new CorruptDataError(`Checksum mismatch downloading ${where}: ${check.detail}.`, { path: where });
  return check.kind === "verified" ? check.algorithm : undefined;
}

/**
 * Renames the partial file into place. A small file's rename is made in the main thread, like its other calls:
 * queued to the thread pool it would run while the main thread creates the next files in the same folder, and the
 * two contend for the folder's lock (each file creation then took several times as long in a pull of small files).
 * A link at the target is replaced, never followed; a folder is refused. With a guard, see placeGuarded.
 */
async function place(request: FileDownload, partial: string, small: boolean, written: BigIntStats): Promise<void> {
  const target = request.folder.entry(request.name);
  if (request.guard !== undefined) {
    await placeGuarded(request, request.guard, { path: partial, stats: written }, target, small);
    return;
  }
  try {
    if (small) renameSync(partial, target);
    else await rename(partial, target);
  } catch (error) {
    if ((await lstat(target).catch(() => undefined))?.isDirectory() === true) {
      const path = `${request.folder.path}/${request.name}`;
      throw new RefusedPathError(`${path} is a folder, not a file`, { path });
    }
    throw error;
  }
}

/** Tries of the no-replace link when what was at the target went away before it could be looked at. */
const LINK_TRIES = 3;

/**
 * Moves the partial into place without replacing anything the guard does not allow. When no file is at the target,
 * link() creates it (atomically: it fails if a file, link or folder appeared there meanwhile), then the partial's own
 * name is removed. When something is there, the guard is asked, and only if it allows is the partial renamed over it.
 * What is left of a race: a file put at the target between that look and the rename (a window of two system calls)
 * is replaced. On a file system without hard links the look is made right before the rename, with the same window.
 * A process killed between link() and unlink() leaves the partial's name as a second link to the target; a
 * partial with more than one link is never written to again (dropLinkedPartials), and a pull that finds the target
 * complete removes that name.
 */
async function placeGuarded(request: FileDownload, guard: PlacementGuard, written: { readonly path: string; readonly stats: BigIntStats }, target: string, small: boolean): Promise<void> {
  const partial = written.path;
  const look = async (): Promise<BigIntStats | undefined> => {
    const existing = small ? lstatSync(target, { bigint: true, throwIfNoEntry: false }) : await lstat(target, { bigint: true }).catch(() => undefined);
    if (existing?.isDirectory() === true) {
      const path = `${request.folder.path}/${request.name}`;
      throw new RefusedPathError(`${path} is a folder, not a file`, { path });
    }
    if (existing !== undefined) guard.check(existing);
    return existing;
  };
  const replace = async (): Promise<void> => {
    if (small) renameSync(partial, target);
    else await rename(partial, target);
  };
  guard.claim(written.stats);
  for (let tries = 1; ; tries += 1) {
    try {
      if (small) linkSync(partial, target);
      else await link(partial, target);
    } catch (error) {
      if (isErrno(error, "EEXIST")) {
        if ((await look()) === undefined && tries < LINK_TRIES) continue;
        await replace();
        return;
      }
      if (isNoHardLinks(error)) {
        await look();
        await replace();
        return;
      }
      throw error;
    }
    // Placed; a partial name left behind is dropped by the next download of the same revision.
    if (small) {
      try {
        unlinkSync(partial);
      } catch {}
    } else await unlink(partial).catch(() => {});
    return;
  }
}

/**
 * Removes partial files that have another name too (one placed by a guarded download killed before it removed the
 * partial's name): writing into one would write into the placed file.
 */
async function dropLinkedPartials(paths: readonly string[]): Promise<void> {
  for (const path of paths) {
    const existing = await lstat(path).catch(() => undefined);
    if (existing !== undefined && existing.isFile() && existing.nlink > 1) await unlink(path);
  }
}

/**
 * A file's lstat, undefined when it is gone. Synchronous for a small file's download, as its other calls are: a trip
 * through the thread pool costs more than the call.
 */
async function lstatOf(path: string, small: boolean): Promise<BigIntStats | undefined> {
  if (!small) return lstat(path, { bigint: true }).catch(() => undefined);
  try {
    return lstatSync(path, { bigint: true, throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

/** The target's identity now, if it is still the inode `ino` that was renamed into place. */
async function placedFile(request: FileDownload, ino: bigint, small: boolean): Promise<PlacedFile | undefined> {
  const now = await lstatOf(request.folder.entry(request.name), small);
  if (now === undefined || now.ino !== ino || !now.isFile()) return undefined;
  return placedFileOf(now);
}

/** A file's identity from its `lstat(…, { bigint: true })`. */
export function placedFileOf(stats: BigIntStats): PlacedFile {
  return { ino: String(stats.ino), ctimeNs: String(stats.ctimeNs), mtimeNs: String(stats.mtimeNs), size: Number(stats.size) };
}

/** How many bytes of a partial file can be kept; anything unusable is removed. */
async function resumableSize(partial: string, size: number): Promise<number> {
  const existing = await lstat(partial).catch(() => undefined);
  if (existing === undefined) return 0;
  if (existing.isFile() && existing.size <= size) return existing.size;
  await unlink(partial);
  return 0;
}
