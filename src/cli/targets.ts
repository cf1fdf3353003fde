/**
 * What a URI on the command line names: a snapshot (`<root>/<name>/v3[:tag]`, `<root>/<name>@latest|@3|@tag`),
 * a snapshot name (`<root>/<name>`, recognised by its version claims or version folders), or any other folder (a
 * root). Artifact
 * URIs may carry the `@selector` form in the middle: `<root>/<name>@latest/jsons/metrics.json`.
 */
import { stat } from "node:fs/promises";
import type { StorageBackend } from "../backends/backend.ts";
import { joinKey, validateKey } from "../backends/keys.ts";
import { hasObjectsUnder } from "../backends/presence.ts";
import { backendFor, backendFromUri, objectLocation } from "../backends/registry.ts";
import { InvalidArgumentError, isOpenCrateError } from "../errors.ts";
import { parseFolderName, versionKey } from "../snapshot/layout.ts";
import { fromPrintable } from "../printable.ts";
import { isSnapshotName } from "../snapshot/names.ts";
import { openSnapshot, type OpenedSnapshot, type OpenOptions } from "../snapshot/open.ts";
import { nameInUri } from "../snapshot/snapshot-uri.ts";
import { VersionStore } from "../snapshot/versions.ts";
import { parseLocation, redact, schemeLength, splitLastSegment } from "../uri.ts";
import { inDefaultRoot } from "./default-root.ts";

export interface SnapshotTarget extends OpenedSnapshot {
  /** The key prefix of the version folder, ending in "/". */
  readonly prefix: string;
  /** The version folder's location, for messages. */
  readonly where: string;
}

export interface NameTarget {
  readonly backend: StorageBackend;
  readonly name: string;
}

/** Opens the snapshot `uri` names (a relative one already read by inDefaultRoot, see default-root.ts). */
export async function openSnapshotTarget(uri: string, options: OpenOptions = {}): Promise<SnapshotTarget> {
  const opened = await openSnapshot(uri, options);
  const folderKey = versionKey(opened.name, opened.folder);
  return { ...opened, prefix: `${folderKey}/`, where: opened.backend.describe(folderKey) };
}

/** A claimed version with no files yet is a snapshot to list (empty), as the viewer shows it. */
export const CLAIMED_EMPTY: OpenOptions = { claimedEmpty: true };

/** What `ls` and `tree` say of such a version. */
export const NO_FILES_YET = "(claimed; no files yet: its run has not written anything)";

/**
 * The snapshot a root-or-snapshot URI names (`ls`, `tree`, the viewer), or undefined when it names a folder. A last
 * segment that is a version folder (`v3`, `v3:tag`, `dev`) names one. A last segment `<name>@<selector>` names one
 * as it does for `cat` (see openIfSnapshot): only before any version folder and only when that snapshot exists;
 * otherwise the URI is the folder it spells (a root `odd/x@y`), and when nothing is there either, the snapshot's
 * error explains what was looked for.
 */
export async function findSnapshotTarget(uri: string): Promise<SnapshotTarget | undefined> {
  const last = splitLastSegment(uri)?.last ?? uri;
  if (!last.includes("@")) return parseFolderName(last) === undefined ? undefined : openSnapshotTarget(uri, CLAIMED_EMPTY);
  parseLocation(uri);
  const split = selectorSplits(uri).find((candidate) => candidate.rest === "");
  if (split === undefined) return undefined;
  const opened = await openIfSnapshot(split.snapshotUri);
  if ("snapshot" in opened) return opened.snapshot;
  if (await folderExists(uri)) return undefined;
  throw opened.failure;
}

/**
 * Opens the snapshot `<root>/<name>@<selector>` names, or returns why there is none there: no such name or
 * version, or a segment that cannot be one (`my photo@2x.png`). Other failures (a store that cannot be read) throw.
 * The one rule by which a segment with "@" names a snapshot, for `cat`, `ls`, `tree` and the viewer.
 */
async function openIfSnapshot(snapshotUri: string): Promise<{ snapshot: SnapshotTarget } | { failure: unknown }> {
  try {
    return { snapshot: await openSnapshotTarget(snapshotUri, CLAIMED_EMPTY) };
  } catch (error) {
    const notThere = isOpenCrateError(error, "NOT_FOUND") || isOpenCrateError(error, "VERSION_NOT_FOUND") || isOpenCrateError(error, "INVALID_ARGUMENT");
    if (!notThere) throw error;
    return { failure: error };
  }
}

/** Whether a folder is at `uri`: a local directory, or any object below the prefix. */
async function folderExists(uri: string): Promise<boolean> {
  const location = parseLocation(uri);
  if (location.scheme === "file") return (await stat(location.path).catch(() => undefined))?.isDirectory() === true;
  return hasObjectsUnder(backendFor(location), "");
}

/**
 * `<root>/<name>` when that name has version claims or version folders; undefined for anything else. An entry of
 * the name's folder that cannot be listed does not decide it: the listing that follows names it.
 */
export async function findNameTarget(uri: string): Promise<NameTarget | undefined> {
  parseLocation(uri);
  const split = splitLastSegment(uri);
  if (split === undefined) return undefined;
  let name: string;
  try {
    // A shown name typed back (typed-escapes.ts); one that does not read back is no name.
    name = fromPrintable(nameInUri(uri, split.last));
  } catch {
    return undefined;
  }
  if (!isSnapshotName(name)) return undefined;
  const backend = backendFromUri(split.parent);
  return (await new VersionStore(backend, name).exists(() => undefined)) ? { backend, name } : undefined;
}

/**
 * Where an artifact URI points: a file inside a snapshot named with `@selector`, or a direct object location. A
 * segment with "@" names a snapshot only before any version folder (`v3/odd/user@host.txt` is a file of v3), and
 * only when that snapshot exists: otherwise the URI is tried as a plain path (`img@2x.png`, a root `runs@gpu/`),
 * and when no object is there either, the first snapshot's error explains what was looked for.
 */
export async function resolveArtifact(given: string): Promise<{ backend: StorageBackend; key: string }> {
  const uri = await inDefaultRoot(given);
  parseLocation(uri);
  let firstFailure: unknown;
  for (const split of selectorSplits(uri)) {
    const opened = await openIfSnapshot(split.snapshotUri);
    if (!("snapshot" in opened)) {
      firstFailure ??= opened.failure;
      continue;
    }
    const snapshot = opened.snapshot;
    if (split.rest === "") {
      throw new InvalidArgumentError(`${redact(uri)} names a snapshot, not a file in it: add the file's path, as in ${redact(uri)}/jsons/metrics.json.`, {
        path: redact(uri),
      });
    }
    const key = joinKey(snapshot.prefix.slice(0, -1), split.rest);
    try {
      validateKey(key);
    } catch (error) {
      throw new InvalidArgumentError(`Invalid file path "${split.rest}" in ${redact(uri)}.`, { path: redact(uri), cause: error });
    }
    return { backend: snapshot.backend, key };
  }
  if (firstFailure === undefined) return objectLocation(uri);
  let direct: { backend: StorageBackend; key: string } | undefined;
  try {
    direct = objectLocation(uri);
    await direct.backend.head(direct.key);
  } catch {
    throw firstFailure;
  }
  return direct;
}

/**
 * The ways `<root>/<name>@<selector>/<rest>` may split, in order: at each "@" segment before the first version
 * folder segment (after it, every segment is a path inside that version).
 */
function selectorSplits(uri: string): { snapshotUri: string; rest: string }[] {
  const schemeEnd = schemeLength(uri);
  const segments = uri.slice(schemeEnd).split("/");
  const first = schemeEnd > 0 ? 1 : 0; // a URI's first segment is its bucket or store
  const splits: { snapshotUri: string; rest: string }[] = [];
  for (let index = first; index < segments.length; index++) {
    const segment = segments[index] ?? "";
    if (parseFolderName(segment) !== undefined) break;
    // `<name>@<selector>`: the selector holds no "@", the name may (snapshot-uri.ts).
    if (!/^.+@[^@]+$/s.test(segment)) continue;
    splits.push({
      snapshotUri: uri.slice(0, schemeEnd) + segments.slice(0, index + 1).join("/"),
      rest: segments.slice(index + 1).join("/").replace(/\/+$/, ""),
    });
  }
  return splits;
}
