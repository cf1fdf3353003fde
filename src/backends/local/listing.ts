/**
 * Listings over a folder tree with object-store semantics: keys come in key (string) order, not readdir order;
 * temp and lock files are hidden; a folder with no object anywhere inside it does not exist. Symbolic links are
 * followed, as reads and writes follow them: a link to a folder lists as that folder, a link to a file as that file.
 */
import type { BigIntStats, Dirent } from "node:fs";
import { readdir, realpath, stat } from "node:fs/promises";
import { join, sep } from "node:path";
import { CorruptDataError } from "../../errors.ts";
import type { ListPage, NotUtf8Names, ObjectInfo, UnlistableEntry } from "../backend.ts";
import { isErrno } from "./errors.ts";
import { statIfPresent } from "./files.ts";
import { isReservedName } from "../keys.ts";
import type { PrefixLocation } from "./paths.ts";
import { objectInfoOf } from "./revision.ts";

/** How many files of one folder are stat'ed at once. */
const STAT_BATCH = 64;

interface Entry {
  /** The key of a file, or the key prefix of a folder (ending in "/"). Sorting these sorts every key below. */
  readonly key: string;
  readonly path: string;
  readonly isFolder: boolean;
  /** For a symbolic link to a folder, the real path it leads to. */
  readonly linkTarget?: string;
  /** A symbolic link that leads nowhere, or a name that is not UTF-8 (listed so only by checks for any object). */
  readonly leadsNowhere?: true;
}

/**
 * What a link that leads nowhere is: a listing of the files fails by its name, or with a `Report` reports it and
 * goes on; a check for any object counts it.
 */
type Dangling = "fail" | "as-object";

/** ListOptions.onUnlistable: where a listing shown to a person reports what it cannot list, and goes on. */
type Report = ((entry: UnlistableEntry) => void) | undefined;

/** Names a key for messages (the backend's `describe`). */
type Describe = (key: string) => string;

/**
 * The real paths of the folders reached through links on the way down from the listed folder. A link leading to
 * one of them again would be walked forever (a link to its own parent, or two links leading into each other).
 */
type FollowedLinks = readonly string[];

/** Every object under a plain string prefix, recursively, in key order, after `startAfter` when given. */
export async function* listObjects(
  location: PrefixLocation,
  startAfter: string | undefined,
  signal: AbortSignal | undefined,
  describe: Describe,
  notUtf8: NotUtf8Names = "fail",
  report: Report = undefined,
): AsyncGenerator<ObjectInfo> {
  yield* walk(location.folderPath, location.folderKey, location.namePrefix, startAfter, signal, describe, [], notUtf8, report);
}

async function* walk(
  folderPath: string,
  folderKey: string,
  namePrefix: string,
  startAfter: string | undefined,
  signal: AbortSignal | undefined,
  describe: Describe,
  followed: FollowedLinks,
  notUtf8: NotUtf8Names,
  report: Report,
): AsyncGenerator<ObjectInfo> {
  signal?.throwIfAborted();
  const entries = (await readEntries(folderPath, folderKey, describe, namePrefix, notUtf8, "fail", report)).filter(
    (entry) => !entirelyBefore(entry, startAfter),
  );
  for (let index = 0; index < entries.length; ) {
    const entry = entries[index];
    if (entry === undefined) break;
    if (entry.isFolder) {
      const below = await followBelow(entry, folderPath, followed, describe, report);
      if (below !== undefined) yield* walk(entry.path, entry.key, "", startAfter, signal, describe, below, notUtf8, report);
      index++;
      continue;
    }
    // A run of files: stat them together, yield them in order.
    let end = index;
    while (end < entries.length && end - index < STAT_BATCH && entries[end]?.isFolder === false) end++;
    const run = entries.slice(index, end);
    const stats = await Promise.all(run.map((file) => statIfPresent(file.path)));
    for (const [position, file] of run.entries()) {
      const fileStats = stats[position];
      // Gone since readdir, or not a regular file: not an object.
      if (fileStats?.isFile() === true) yield objectInfoOf(file.key, fileStats);
    }
    index = end;
  }
}

/** One page of the objects and sub-folders directly under a prefix, as an object store's delimiter listing. */
export async function listOnePage(
  location: PrefixLocation,
  pageToken: string | undefined,
  pageSize: number,
  describe: Describe,
  notUtf8: NotUtf8Names = "fail",
  report: Report = undefined,
): Promise<ListPage> {
  // The whole folder is read for every page: each entry that cannot be listed is reported by the page it falls in.
  const unlistable: UnlistableEntry[] = [];
  const collect = report === undefined ? undefined : (entry: UnlistableEntry): void => void unlistable.push(entry);
  const entries = (await readEntries(location.folderPath, location.folderKey, describe, location.namePrefix, notUtf8, "fail", collect)).filter(
    (entry) => pageToken === undefined || entry.key > pageToken,
  );
  const objects: ObjectInfo[] = [];
  const prefixes: string[] = [];
  let last: string | undefined;
  const page = (nextPageToken: string | undefined): ListPage => {
    for (const entry of unlistable) {
      if ((pageToken === undefined || entry.key > pageToken) && (nextPageToken === undefined || entry.key <= nextPageToken)) report?.(entry);
    }
    return nextPageToken === undefined ? { objects, prefixes } : { objects, prefixes, nextPageToken };
  };
  for (const entry of entries) {
    const info = await describeEntry(entry, describe);
    if (info === undefined) continue;
    // One more entry exists past a full page: the page gets a token.
    if (objects.length + prefixes.length === pageSize) return page(last);
    if (info === "folder") prefixes.push(entry.key);
    else objects.push(info);
    last = entry.key;
  }
  return page(undefined);
}

/** A file's info, "folder" for a folder holding at least one object, or undefined for what is not listed. */
async function describeEntry(entry: Entry, describe: Describe): Promise<ObjectInfo | "folder" | undefined> {
  if (entry.isFolder) {
    // A sub-folder this process may not read is still listed, as a store lists a prefix: listing it fails by its
    // own name, and its siblings stay listable.
    const holds = await holdsAnObject(entry.path, entry.key, describe, follow(entry, [], describe)).catch((error: unknown) => {
      if (isErrno(error, "EACCES", "EPERM")) return true;
      throw error;
    });
    return holds ? "folder" : undefined;
  }
  const stats: BigIntStats | undefined = await statIfPresent(entry.path);
  return stats?.isFile() === true ? objectInfoOf(entry.key, stats) : undefined;
}

/** Whether a folder holds a file anywhere below it (empty folders left by crashes or other tools do not count). */
async function holdsAnObject(folderPath: string, folderKey: string, describe: Describe, followed: FollowedLinks): Promise<boolean> {
  // A link that leads nowhere still takes its name: the folder holds something, and is not for this check to fail.
  for (const entry of await readEntries(folderPath, folderKey, describe, "", "fail", "as-object")) {
    if (!entry.isFolder) {
      if (entry.leadsNowhere === true || (await statIfPresent(entry.path))?.isFile() === true) return true;
    } else if (await holdsAnObject(entry.path, entry.key, describe, follow(entry, followed, describe))) {
      return true;
    }
  }
  return false;
}

/** The links followed below `entry`: `followed`, plus its own target when it is a link; throws on a loop. */
function follow(entry: Entry, followed: FollowedLinks, describe: Describe): FollowedLinks {
  if (entry.linkTarget === undefined) return followed;
  if (followed.includes(entry.linkTarget)) throw loopError(entry, describe);
  return [...followed, entry.linkTarget];
}

/**
 * As follow(), for a walk that lists `entry` in the folder `folderPath`: a link to that folder or one above it is a
 * loop too (caught here before walking it once more). With a `report`, a loop is reported and undefined returned:
 * the listing goes on without it.
 */
async function followBelow(entry: Entry, folderPath: string, followed: FollowedLinks, describe: Describe, report: Report): Promise<FollowedLinks | undefined> {
  const target = entry.linkTarget;
  if (target === undefined) return followed;
  const here = await realpath(folderPath);
  const loops = followed.includes(target) || here === target || here.startsWith(target.endsWith(sep) ? target : target + sep);
  if (!loops) return [...followed, target];
  if (report === undefined) throw loopError(entry, describe);
  report({ key: entry.key.slice(0, -1), problem: `a symbolic link that ${LOOP_PROBLEM} (${target})` });
  return undefined;
}

const LOOP_PROBLEM = "leads back into a folder it lies in";

function loopError(entry: Entry, describe: Describe): CorruptDataError {
  const location = describe(entry.key.slice(0, -1));
  return new CorruptDataError(`The symbolic link ${location} ${LOOP_PROBLEM} (${entry.linkTarget}): it cannot be listed.`, { path: location });
}

/**
 * A folder's visible entries whose names start with `namePrefix`, in key order; a missing folder (or a file in its
 * place) has none. Filtered before anything else: a one-version check (`v12:`) reads a folder of thousands. A name
 * that is not UTF-8 fails the listing, or with `notUtf8` "skip" is left out (warned about once), or with a `report`
 * is reported and left out; a check for any object (`dangling` "as-object") counts it. A link that leads nowhere
 * is treated the same way, by `dangling` and `report`.
 */
async function readEntries(
  folderPath: string,
  folderKey: string,
  describe: Describe,
  namePrefix: string,
  notUtf8: NotUtf8Names,
  dangling: Dangling = "fail",
  report: Report = undefined,
): Promise<Entry[]> {
  let dirents: Dirent<Buffer>[];
  try {
    // Names as bytes: one that is not UTF-8 would otherwise come back with U+FFFD in it, name no file, and be lost.
    dirents = await readdir(folderPath, { withFileTypes: true, encoding: "buffer" });
  } catch (error) {
    if (isErrno(error, "ENOENT", "ENOTDIR")) return [];
    throw error;
  }
  const entries: Entry[] = [];
  for (const dirent of dirents) {
    const name = dirent.name.toString("utf8");
    if (!name.startsWith(namePrefix) || isReservedName(name)) continue;
    const path = join(folderPath, name);
    if (!Buffer.from(name, "utf8").equals(dirent.name)) {
      if (dangling === "as-object") {
        entries.push({ key: folderKey + name, path, isFolder: false, leadsNowhere: true });
        continue;
      }
      if (notUtf8 === "skip") {
        warnSkipped(dirent.name, folderKey, describe);
        continue;
      }
      if (report !== undefined) {
        report({ key: folderKey + shownName(dirent.name), problem: NOT_UTF8_PROBLEM });
        continue;
      }
      throw notUtf8Error(dirent.name, folderKey, describe);
    }
    if (dirent.isSymbolicLink()) {
      const link = await linkEntry(path, folderKey + name, describe, dangling, report);
      if (link !== undefined) entries.push(link);
      continue;
    }
    const isFolder = dirent.isDirectory();
    entries.push({ key: folderKey + name + (isFolder ? "/" : ""), path, isFolder });
  }
  return entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/**
 * A symbolic link as what it leads to. One that leads nowhere fails the listing by its name rather than being left
 * out: its name is taken (a write there would go through it), and the files it held may be a run moved away. With
 * a `report` it is reported instead, and undefined returned.
 */
async function linkEntry(path: string, key: string, describe: Describe, dangling: Dangling, report: Report): Promise<Entry | undefined> {
  let target: string;
  let isFolder: boolean;
  try {
    target = await realpath(path);
    isFolder = (await stat(target)).isDirectory();
  } catch (error) {
    if (!isErrno(error, "ENOENT", "ENOTDIR", "ELOOP")) throw error;
    if (dangling === "as-object") return { key, path, isFolder: false, leadsNowhere: true };
    if (report !== undefined) {
      report({ key, problem: `a symbolic link that leads to nothing (${error.code})` });
      return undefined;
    }
    throw new CorruptDataError(`The symbolic link ${describe(key)} leads to nothing (${error.code}): restore what it pointed to, or remove it.`, {
      path: describe(key),
      cause: error,
    });
  }
  return isFolder ? { key: `${key}/`, path, isFolder, linkTarget: target } : { key, path, isFolder };
}

/**
 * A file or folder whose name is not UTF-8 (written by a tool on a system in another encoding) has no key, yet
 * leaving it out would hide it from every listing, and from a pull. The listing fails by its folder and its name,
 * bytes that are not printable ASCII written as \xNN, rather than go on without it.
 */
function notUtf8Error(name: Buffer, folderKey: string, describe: Describe): CorruptDataError {
  const folder = folderOf(folderKey, describe);
  return new CorruptDataError(
    `The name "${shownName(name)}" in ${folder} is not valid UTF-8, so it cannot be listed as a key: rename it (convmv, or mv in a shell) or move it out of the folder.`,
    { path: folder },
  );
}

const NOT_UTF8_PROBLEM = "a name that is not valid UTF-8 (rename it: convmv, or mv in a shell)";

/** The names already warned about, by folder and name: a process lists the same folders again and again. */
const warnedNotUtf8 = new Set<string>();

/** A listing that looks only for names (snapshots, versions, bookkeeping) leaves such a name out, saying so once. */
function warnSkipped(name: Buffer, folderKey: string, describe: Describe): void {
  const folder = folderOf(folderKey, describe);
  const shown = shownName(name);
  const id = `${folder}\0${shown}`;
  if (warnedNotUtf8.has(id)) return;
  warnedNotUtf8.add(id);
  process.emitWarning(
    `The name "${shown}" in ${folder} is not valid UTF-8, so it is no snapshot, version or bookkeeping file: left out. Rename it (convmv, or mv in a shell) or move it out of the folder.`,
    { code: "OPENCRATE_NAME_NOT_UTF8" },
  );
}

/** A name's bytes, those that are not printable ASCII written as \xNN. */
function shownName(name: Buffer): string {
  let shown = "";
  for (const byte of name) shown += byte >= 0x20 && byte < 0x7f && byte !== 0x5c ? String.fromCharCode(byte) : `\\x${byte.toString(16).padStart(2, "0")}`;
  return shown;
}

function folderOf(folderKey: string, describe: Describe): string {
  return describe(folderKey.replace(/\/$/, ""));
}

/** True when every key the entry stands for sorts at or before `startAfter`. */
function entirelyBefore(entry: Entry, startAfter: string | undefined): boolean {
  if (startAfter === undefined) return false;
  if (!entry.isFolder) return entry.key <= startAfter;
  return entry.key < startAfter && !startAfter.startsWith(entry.key);
}
