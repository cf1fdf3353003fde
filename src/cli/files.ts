/** The files of a version folder as the CLI shows them: paths relative to the folder, dot-entries left out. */
import type { ObjectInfo, StorageBackend } from "../backends/backend.ts";

export interface FolderFile {
  /** The full key. */
  readonly key: string;
  /** "/"-separated path under the folder. */
  readonly path: string;
  readonly size: number;
  readonly lastModified: Date;
  readonly info: ObjectInfo;
}

/** Bookkeeping lives in dot-folders and trees hide dot-entries: a path with any segment starting with "." is hidden. */
export function isHiddenPath(path: string): boolean {
  return path.split("/").some((segment) => segment.startsWith("."));
}

/** Every object under `prefix` (a folder prefix ending in "/" or ""), in key order, hidden ones included. */
export async function listFolder(backend: StorageBackend, prefix: string): Promise<FolderFile[]> {
  const files: FolderFile[] = [];
  for await (const info of backend.list(prefix)) {
    files.push({ key: info.key, path: info.key.slice(prefix.length), size: info.size, lastModified: info.lastModified, info });
  }
  return files;
}
