/**
 * Downloads one object of a pull into the destination, through the shared file download (size and checksum
 * checked, renamed into place, never through a link). The partial file's name is derived from the object's
 * revision, so an interrupted pull continues it (the rest of a prefix, or the ranges its journal lacks), and a partial
 * of an older revision is never continued. A file already there with the right size and checksum (or, with no
 * checksum, the one an earlier pull placed for this revision) is kept, and recorded as pulled; any other file there is
 * replaced only as placement.ts allows, checked before the download and again as the file is moved into place.
 */
import { createHash } from "node:crypto";
import type { BigIntStats } from "node:fs";
import { lstat, unlink } from "node:fs/promises";
import type { ObjectInfo, StorageBackend } from "../../backends/backend.ts";
import { formatSize } from "../../io/size.ts";
import { printable } from "../../printable.ts";
import { checkFile } from "../../transfer/content-check.ts";
import { downloadToFile, partialEntries, placedFileOf } from "../../transfer/download-file.ts";
import { RefusedPathError, type SafeFolder } from "../../transfer/safe-folder.ts";
import { PARTIAL_PREFIX } from "../../snapshot/bookkeeping.ts";
import { checkReplace, placementGuard, type PulledFiles } from "./placement.ts";
import type { PullRecord } from "./pull-record.ts";

export interface DownloadTask {
  readonly key: string;
  /** The path under the version folder (for messages). */
  readonly path: string;
  readonly segments: readonly string[];
  /** What the listing said of the object. */
  readonly listed: ObjectInfo;
}

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
  /** The destination's root folder. */
  readonly root: SafeFolder;
  /** The names each folder held when the pull first looked at it. */
  readonly entries: FolderEntries;
  /** The files earlier pulls placed here whose objects give no checksum; this pull adds its own. */
  readonly record: PullRecord;
  /** The files this pull placed or found complete, so that two keys landing on one file are told apart. */
  readonly pulled: PulledFiles;
  /** Replace files at target paths that no pull placed, or that changed since (`--overwrite`). */
  readonly overwrite: boolean;
  readonly signal: AbortSignal;
  /** Downloads at once (`--concurrency`): also the most ranged streams one large file may use (default: no limit). */
  readonly concurrency?: number;
  /** Bytes that count towards the total (received, resumed or found complete). */
  readonly onBytes: (count: number) => void;
}

/**
 * The partial file name for an object of `name` at `revision` (same folder as the target): a hash of the name, then
 * one of the name and revision, so that the partials of the name's other revisions can be told (stalePartials).
 */
export function partialFileName(name: string, revision: string): string {
  return `${partialNamePrefix(name)}${hex16(`${name}\0${revision}`)}`;
}

/** What every partial name of `name` starts with, whatever the revision. */
function partialNamePrefix(name: string): string {
  return `${PARTIAL_PREFIX}${hex16(name)}-`;
}

function hex16(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 16);
}

/**
 * The names in `present` that are partial files of `name` at another revision than `partialName`'s (a prefix, or
 * ranges and their journal): they can never be continued. Partials named before the name's hash was part of the
 * name (`.ocpart-` and 32 hex digits) cannot be told apart by target and are never among them.
 */
export function stalePartials(present: ReadonlySet<string>, name: string, partialName: string): string[] {
  const prefix = partialNamePrefix(name);
  const current = new Set(partialEntries(partialName));
  return [...present].filter((entry) => entry.startsWith(prefix) && PARTIAL_OF_A_REVISION.test(entry.slice(prefix.length)) && !current.has(entry));
}

/** The rest of a partial file's name after partialNamePrefix. */
const PARTIAL_OF_A_REVISION = /^[0-9a-f]{16}(?:-ranges(?:\.done)?)?$/;

/**
 * The names in each folder before this pull wrote to it: a folder the pull created is known to be empty, any other
 * is read once. Lets a pull of many files skip a stat per file for targets and partial files that cannot exist.
 */
export class FolderEntries {
  readonly #entries = new Map<SafeFolder, Promise<ReadonlySet<string>>>();

  of(folder: SafeFolder): Promise<ReadonlySet<string>> {
    let entries = this.#entries.get(folder);
    if (entries === undefined) {
      entries = folder.created ? Promise.resolve(new Set<string>()) : folder.names();
      this.#entries.set(folder, entries);
    }
    return entries;
  }
}

export async function downloadFile(task: DownloadTask, context: DownloadContext): Promise<DownloadOutcome> {
  // What a head() would say too: no backend gives a checksum there that its listing lacks.
  const info = task.listed;
  const folder = await context.root.descend(task.segments.slice(0, -1));
  const present = await context.entries.of(folder);
  const name = task.segments.at(-1) ?? "";

  const partialName = partialFileName(name, info.revision);
  // Left by pulls of a revision the object no longer has (each may be as large as the file).
  for (const stale of stalePartials(present, name, partialName)) await dropPartial(folder, stale);

  const path = task.segments.join("/");
  const localPath = `${folder.path}/${name}`;
  const existing = present.has(name) ? await lstat(folder.entry(name), { bigint: true }).catch(() => undefined) : undefined;
  if (existing !== undefined) {
    if (await isComplete(existing, folder.entry(name), localPath, path, info, task.key, context)) {
      context.pulled.add(existing, task.key);
      // The version's own content: a later pull may replace it (a folder pulled before files a checksum verified
      // were recorded, or by a pull killed before it recorded them, is recorded from here on).
      // Removing a second name changes the file's change time: the record takes the file as it is after.
      const found = (await dropSecondNames(folder, present, partialName, existing))
        ? ((await lstat(folder.entry(name), { bigint: true }).catch(() => undefined)) ?? existing)
        : existing;
      context.record.noteFound(path, info.revision, placedFileOf(found));
      context.onBytes(info.size);
      return { kind: "complete", size: info.size };
    }
    // Before a byte is downloaded; checked again right before the file is moved into place.
    checkReplace(context, task.key, path, localPath, existing);
  }
  const done = await downloadToFile({
    backend: context.backend,
    key: task.key,
    info,
    folder,
    name,
    partialName,
    // A partial that appeared after the folder was read (another pull into the same dest) is started afresh. What
    // this download leaves when interrupted (a prefix, or ranges and their journal) is continued by the next pull.
    resume: partialEntries(partialName).some((entry) => present.has(entry)),
    keep: true,
    maxStreams: context.concurrency,
    signal: context.signal,
    onBytes: context.onBytes,
    // Every placed file is recorded, checksum or not: the record is what lets a later pull replace it.
    identify: "always",
    // Journals the file right before it is moved into place: a pull killed after the move still knows it as its own.
    guard: placementGuard(context, task.key, path, localPath, info.revision),
  });
  // Written into pulled.json when the pull ends.
  if (done.placed !== undefined) context.record.note(path, info.revision, done.placed);
  return { kind: "downloaded", size: done.size, resumedFrom: done.resumedFrom, verified: done.verified };
}

/** Removes a partial file (never a folder or a link's target) that is no longer of use. */
async function dropPartial(folder: SafeFolder, entry: string): Promise<void> {
  const found = await lstat(folder.entry(entry)).catch(() => undefined);
  if (found?.isFile() === true || found?.isSymbolicLink() === true) await unlink(folder.entry(entry)).catch(() => {});
}

/**
 * Removes the partial file names that are a second name of `placed` (a pull killed between moving the file into
 * place and removing the partial's own name leaves one), telling whether it did; any other partial file is left to
 * be continued.
 */
async function dropSecondNames(folder: SafeFolder, present: ReadonlySet<string>, partialName: string, placed: BigIntStats): Promise<boolean> {
  let dropped = false;
  for (const entry of partialEntries(partialName).filter((candidate) => present.has(candidate))) {
    const other = await lstat(folder.entry(entry), { bigint: true }).catch(() => undefined);
    if (other?.isFile() !== true || other.ino !== placed.ino || other.dev !== placed.dev) continue;
    await unlink(folder.entry(entry)).catch(() => {});
    dropped = true;
  }
  return dropped;
}

/** Describes a finished download for the plain-lines output (the path shown through printable()). */
export function describeOutcome(stored: string, outcome: DownloadOutcome): string {
  const path = printable(stored);
  if (outcome.kind === "complete") return `complete  ${path} (${formatSize(outcome.size)}, already there)`;
  const resumed = outcome.resumedFrom > 0 ? `, resumed at ${formatSize(outcome.resumedFrom)}` : "";
  const verified = outcome.verified === undefined ? "" : `, ${outcome.verified} verified`;
  return `pulled    ${path} (${formatSize(outcome.size)}${resumed}${verified})`;
}

/**
 * An existing regular file (not a link) of the right size and, when the store gives one, the right checksum; with
 * none (local disk, objects uploaded in parts), the file an earlier pull placed for this revision, unchanged since
 * (pull-record.ts). A mismatch never means corruption here, only that the file is downloaded again; a tentative
 * checksum that does not match is settled by head() first, so objects whose ETag is no MD5 (SSE-KMS) are not
 * downloaded on every pull.
 */
async function isComplete(
  existing: BigIntStats,
  target: string,
  localPath: string,
  path: string,
  info: ObjectInfo,
  key: string,
  context: DownloadContext,
): Promise<boolean> {
  if (existing.isSymbolicLink()) return false;
  if (existing.isDirectory()) throw new RefusedPathError(`${localPath} is a folder, not a file`, { path: localPath });
  if (!existing.isFile() || Number(existing.size) !== info.size) return false;
  const check = await checkFile(target, info, key, context.backend, context.signal);
  return check.kind === "verified" || (check.kind === "size-only" && context.record.holds(path, info.revision, placedFileOf(existing)));
}
