/**
 * What a URI on the command line names: a snapshot (`<root>/<name>/v3[:tag]`, `<root>/<name>@latest|@3|@tag`),
 * a snapshot name (`<root>/<name>`, recognised by its version claims or version folders), or any other folder (a
 * root). Artifact
 * URIs may carry the `@selector` form in the middle: `<root>/<name>@latest/jsons/metrics.json`.
 */
import type { StorageBackend } from "../backends/backend.ts";
import { joinKey, validateKey } from "../backends/keys.ts";
import { backendFromUri, objectLocation } from "../backends/registry.ts";
import { InvalidArgumentError } from "../errors.ts";
import { parseFolderName, versionKey } from "../snapshot/layout.ts";
import { validateSnapshotName } from "../snapshot/names.ts";
import { openSnapshot, type OpenedSnapshot } from "../snapshot/open.ts";
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

export async function openSnapshotTarget(uri: string): Promise<SnapshotTarget> {
  const opened = await openSnapshot(inDefaultRoot(uri));
  const folderKey = versionKey(opened.name, opened.folder);
  return { ...opened, prefix: `${folderKey}/`, where: opened.backend.describe(folderKey) };
}

/** True when the last segment is a version folder (`v3`, `v3:tag`, `dev`) or carries an `@selector`. */
export function looksLikeSnapshotUri(uri: string): boolean {
  const last = splitLastSegment(uri)?.last ?? uri;
  return last.includes("@") || parseFolderName(last) !== undefined;
}

/** `<root>/<name>` when that name has version claims or version folders; undefined for anything else. */
export async function findNameTarget(uri: string): Promise<NameTarget | undefined> {
  parseLocation(uri);
  const split = splitLastSegment(uri);
  if (split === undefined) return undefined;
  try {
    validateSnapshotName(split.last);
  } catch {
    return undefined;
  }
  const backend = backendFromUri(split.parent);
  return (await new VersionStore(backend, split.last).exists()) ? { backend, name: split.last } : undefined;
}

/** Where an artifact URI points: a direct object location, or a file inside a snapshot named with `@selector`. */
export async function resolveArtifact(given: string): Promise<{ backend: StorageBackend; key: string }> {
  const uri = inDefaultRoot(given);
  parseLocation(uri);
  const split = splitAtSelector(uri);
  if (split === undefined) return objectLocation(uri);
  if (split.rest === "") {
    throw new InvalidArgumentError(`${redact(uri)} names a snapshot, not a file in it: add the file's path, as in ${redact(uri)}/jsons/metrics.json.`, {
      path: redact(uri),
    });
  }
  const snapshot = await openSnapshotTarget(split.snapshotUri);
  const key = joinKey(snapshot.prefix.slice(0, -1), split.rest);
  try {
    validateKey(key);
  } catch (error) {
    throw new InvalidArgumentError(`Invalid file path "${split.rest}" in ${redact(uri)}.`, { path: redact(uri), cause: error });
  }
  return { backend: snapshot.backend, key };
}

/** Splits `<root>/<name>@<selector>/<rest>` at the selector segment. */
function splitAtSelector(uri: string): { snapshotUri: string; rest: string } | undefined {
  const schemeEnd = schemeLength(uri);
  const segments = uri.slice(schemeEnd).split("/");
  const first = schemeEnd > 0 ? 1 : 0; // a URI's first segment is its bucket or store
  const index = segments.findIndex((segment, position) => position >= first && /^[^@]+@[^@]+$/.test(segment));
  if (index === -1) return undefined;
  return {
    snapshotUri: uri.slice(0, schemeEnd) + segments.slice(0, index + 1).join("/"),
    rest: segments.slice(index + 1).join("/").replace(/\/+$/, ""),
  };
}
