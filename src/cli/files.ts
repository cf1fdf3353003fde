/** The files of a version folder as the CLI shows them: paths relative to the folder, opencrate's bookkeeping left out. */
import { stat } from "node:fs/promises";
import type { ObjectInfo, StorageBackend, UnlistableEntry } from "../backends/backend.ts";
import { InvalidArgumentError, NotFoundError } from "../errors.ts";
import { redact } from "../uri.ts";

export interface FolderFile {
  /** The full key. */
  readonly key: string;
  /** "/"-separated path under the folder. */
  readonly path: string;
  readonly size: number;
  readonly lastModified: Date;
  readonly info: ObjectInfo;
}

/** Keys asked for in the first request of a streamed listing: a short page comes back sooner (on MinIO 200 keys in
 * about 4 ms, 1,000 in about 20), so work on the first files starts while the rest is listed. */
const FIRST_PAGE_KEYS = 200;

/** Every object under `prefix` (a folder prefix ending in "/" or ""), in key order, hidden ones included. */
export async function listFolder(backend: StorageBackend, prefix: string): Promise<FolderFile[]> {
  const files: FolderFile[] = [];
  for await (const info of backend.list(prefix)) files.push(folderFile(info, prefix));
  return files;
}

/** An entry of a folder its listing cannot give as a file (ListOptions.onUnlistable), by its path under the folder. */
export interface UnlistableFile {
  readonly path: string;
  readonly problem: string;
}

/**
 * The files of a folder as shown to a person (`ls` and `tree` of a version, the viewer's file list): listFolder's,
 * and the entries it cannot list (on local disk a link that leads nowhere, a name that is not UTF-8) named with
 * why rather than failing the listing. Never for a listing of files to copy or delete.
 */
export async function listFolderShown(backend: StorageBackend, prefix: string): Promise<{ files: FolderFile[]; unlistable: UnlistableFile[] }> {
  const files: FolderFile[] = [];
  const unlistable: UnlistableFile[] = [];
  const onUnlistable = (entry: UnlistableEntry): void => {
    unlistable.push({ path: entry.key.slice(prefix.length), problem: entry.problem });
  };
  for await (const info of backend.list(prefix, { onUnlistable })) files.push(folderFile(info, prefix));
  return { files, unlistable };
}

/** The line `ls` and `tree` write on stderr for an entry they could not list. */
export function unlistableLine(where: string, entry: UnlistableFile): string {
  return `${where}/${entry.path} cannot be listed: ${entry.problem}.`;
}

/** The same files as listFolder, each as soon as the listing has it: a short first page, then the store's own. */
export async function* streamFolder(backend: StorageBackend, prefix: string, signal?: AbortSignal): AsyncGenerator<FolderFile> {
  const stoppable = signal === undefined ? {} : { signal };
  let last: string | undefined;
  let count = 0;
  for await (const info of backend.list(prefix, { pageSize: FIRST_PAGE_KEYS, ...stoppable })) {
    yield folderFile(info, prefix);
    last = info.key;
    if (++count === FIRST_PAGE_KEYS) break;
  }
  if (last === undefined || count < FIRST_PAGE_KEYS) return;
  for await (const info of backend.list(prefix, { startAfter: last, ...stoppable })) yield folderFile(info, prefix);
}

function folderFile(info: ObjectInfo, prefix: string): FolderFile {
  return { key: info.key, path: info.key.slice(prefix.length), size: info.size, lastModified: info.lastModified, info };
}

/** A local path given as a folder must be one: NOT_FOUND when missing, INVALID_ARGUMENT when it is a file. */
export async function assertLocalFolder(path: string, uri: string): Promise<void> {
  const info = await stat(path).catch((error: unknown) => {
    throw new NotFoundError(`No folder at ${redact(uri)}.`, { path: redact(uri), cause: error });
  });
  if (!info.isDirectory()) throw new InvalidArgumentError(`${redact(uri)} is a file, not a folder.`, { path: redact(uri) });
}
