/**
 * The one gate between a request's path and a store key. Every segment is percent-decoded once and checked: the
 * name as any snapshot name a reader takes (one path segment, names.ts), the folder as a version folder (`dev` and `dev:<tag>` included), the file path by the same rules `pull` applies to keys
 * (no "." or "..", no backslash, no absolute path, no control character), and opencrate's bookkeeping stays
 * hidden (other names starting with "." are files like any other). A path
 * that fails gets a 400 and never reaches the store.
 */
import { validateKey } from "../backends/keys.ts";
import { checkPullPath } from "../cli/pull/safe-path.ts";
import { isBookkeepingPath } from "../snapshot/bookkeeping.ts";
import { parseFolderName, versionKey } from "../snapshot/layout.ts";
import { validateSnapshotName } from "../snapshot/names.ts";

export class BadPath extends Error {}

export interface VersionAddress {
  readonly name: string;
  readonly folder: string;
}

export interface FileAddress extends VersionAddress {
  readonly path: string;
  /** The store key, relative to the root. */
  readonly key: string;
}

export function decodeSegment(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new BadPath("a path segment has a malformed %-escape");
  }
}

export function snapshotName(raw: string | undefined): string {
  const name = decodeSegment(raw ?? "");
  try {
    return validateSnapshotName(name);
  } catch {
    throw new BadPath(`"${name}" is not a snapshot name`);
  }
}

export function versionAddress(rawName: string | undefined, rawFolder: string | undefined): VersionAddress {
  const name = snapshotName(rawName);
  const folder = decodeSegment(rawFolder ?? "");
  if (parseFolderName(folder) === undefined) throw new BadPath(`"${folder}" is not a version folder (v3, v3:tag, dev, dev:tag)`);
  return { name, folder };
}

/** `rawPath` is the rest of the URL path after the folder, its segments still %-encoded. */
export function fileAddress(rawName: string | undefined, rawFolder: string | undefined, rawPath: readonly string[]): FileAddress {
  const version = versionAddress(rawName, rawFolder);
  const path = rawPath.map(decodeSegment).join("/");
  const check = checkPullPath(path, "linux");
  if (!check.ok) throw new BadPath(check.problem);
  if (isBookkeepingPath(path)) throw new BadPath("opencrate's bookkeeping, not a file of the snapshot");
  const key = `${versionKey(version.name, version.folder)}/${path}`;
  try {
    validateKey(key);
  } catch {
    throw new BadPath("the path is not a valid key");
  }
  return { ...version, path, key };
}
