/**
 * Listings over a folder tree with object-store semantics: keys come in key (string) order, not readdir order;
 * temp and lock files are hidden; a folder with no object anywhere inside it does not exist.
 */
import type { BigIntStats, Dirent } from "node:fs";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import type { ListPage, ObjectInfo } from "../backend.ts";
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
}

/** Every object under a plain string prefix, recursively, in key order, after `startAfter` when given. */
export async function* listObjects(
  location: PrefixLocation,
  startAfter: string | undefined,
  signal: AbortSignal | undefined,
): AsyncGenerator<ObjectInfo> {
  yield* walk(location.folderPath, location.folderKey, location.namePrefix, startAfter, signal);
}

async function* walk(
  folderPath: string,
  folderKey: string,
  namePrefix: string,
  startAfter: string | undefined,
  signal: AbortSignal | undefined,
): AsyncGenerator<ObjectInfo> {
  signal?.throwIfAborted();
  const entries = (await readEntries(folderPath, folderKey, namePrefix)).filter((entry) => !entirelyBefore(entry, startAfter));
  for (let index = 0; index < entries.length; ) {
    const entry = entries[index];
    if (entry === undefined) break;
    if (entry.isFolder) {
      yield* walk(entry.path, entry.key, "", startAfter, signal);
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
): Promise<ListPage> {
  const entries = (await readEntries(location.folderPath, location.folderKey, location.namePrefix)).filter(
    (entry) => pageToken === undefined || entry.key > pageToken,
  );
  const objects: ObjectInfo[] = [];
  const prefixes: string[] = [];
  let last: string | undefined;
  for (const entry of entries) {
    const info = await describeEntry(entry);
    if (info === undefined) continue;
    if (objects.length + prefixes.length === pageSize) {
      // One more entry exists past a full page: the page gets a token.
      return last === undefined ? { objects, prefixes } : { objects, prefixes, nextPageToken: last };
    }
    if (info === "folder") prefixes.push(entry.key);
    else objects.push(info);
    last = entry.key;
  }
  return { objects, prefixes };
}

/** A file's info, "folder" for a folder holding at least one object, or undefined for what is not listed. */
async function describeEntry(entry: Entry): Promise<ObjectInfo | "folder" | undefined> {
  if (entry.isFolder) {
    // A sub-folder this process may not read is still listed, as a store lists a prefix: listing it fails by its
    // own name, and its siblings stay listable.
    const holds = await holdsAnObject(entry.path).catch((error: unknown) => {
      if (isErrno(error, "EACCES", "EPERM")) return true;
      throw error;
    });
    return holds ? "folder" : undefined;
  }
  const stats: BigIntStats | undefined = await statIfPresent(entry.path);
  return stats?.isFile() === true ? objectInfoOf(entry.key, stats) : undefined;
}

/** Whether a folder holds a file anywhere below it (empty folders left by crashes or other tools do not count). */
async function holdsAnObject(folderPath: string): Promise<boolean> {
  for (const entry of await readEntries(folderPath, "")) {
    if (!entry.isFolder) {
      if ((await statIfPresent(entry.path))?.isFile() === true) return true;
    } else if (await holdsAnObject(entry.path)) {
      return true;
    }
  }
  return false;
}

/**
 * A folder's visible entries whose names start with `namePrefix`, in key order; a missing folder (or a file in its
 * place) has none. Filtered before anything else: a one-version check (`v12:`) reads a folder of thousands.
 */
async function readEntries(folderPath: string, folderKey: string, namePrefix = ""): Promise<Entry[]> {
  let dirents: Dirent[];
  try {
    dirents = await readdir(folderPath, { withFileTypes: true });
  } catch (error) {
    if (isErrno(error, "ENOENT", "ENOTDIR")) return [];
    throw error;
  }
  const entries: Entry[] = [];
  for (const dirent of dirents) {
    // Symbolic links are not objects: following them would list (and let pull copy) files outside the root.
    if (!dirent.name.startsWith(namePrefix) || isReservedName(dirent.name) || dirent.isSymbolicLink()) continue;
    const path = join(folderPath, dirent.name);
    const isFolder = dirent.isDirectory();
    entries.push({ key: folderKey + dirent.name + (isFolder ? "/" : ""), path, isFolder });
  }
  return entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** True when every key the entry stands for sorts at or before `startAfter`. */
function entirelyBefore(entry: Entry, startAfter: string | undefined): boolean {
  if (startAfter === undefined) return false;
  if (!entry.isFolder) return entry.key <= startAfter;
  return entry.key < startAfter && !startAfter.startsWith(entry.key);
}
