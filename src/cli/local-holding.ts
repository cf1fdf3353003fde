/**
 * What a local folder `./<name>` holds, for the rule that weighs it against the default root's `<name>`
 * (default-root.ts). Everything here is read from local disk: no store is asked.
 */
import { statSync, type BigIntStats } from "node:fs";
import { join } from "node:path";
import type { StorageBackend } from "../backends/backend.ts";
import { backendFromUri } from "../backends/registry.ts";
import { isOpenCrateError } from "../errors.ts";
import { isSnapshotName } from "../snapshot/names.ts";
import { VersionStore } from "../snapshot/versions.ts";
import { holdsPullRecord } from "./pull/record-files.ts";

/**
 * "versions": versions of its own; "pulled": only copies a pull placed; "root": no versions, but snapshots in its
 * folders (a local root); "none": a folder (or file) with neither; "unreadable": listing it failed.
 */
export type LocalHolding =
  | { readonly kind: "versions" | "pulled" | "root" | "none" }
  | { readonly kind: "unreadable"; readonly error: Error };

/** Folders of a local folder looked into for snapshots, from its first listing page: a data folder may hold many. */
const ROOT_CHECKS = 32;

/** What `./<name>` holds; undefined when there is nothing there one can read as a folder or file. */
export async function localHolding(name: string, options: { readonly rootToo: boolean }): Promise<LocalHolding | undefined> {
  const info = statQuietly(name);
  if (info === undefined) return undefined;
  if (!info.isDirectory()) return { kind: "none" };
  try {
    const entries = await new VersionStore(backendFromUri("."), name).listVersions();
    if (entries.length > 0) {
      const pulled = entries.every((entry) => entry.claim === undefined && entry.hasFolder && holdsPullRecord(join(name, entry.folder)));
      return { kind: pulled ? "pulled" : "versions" };
    }
    return { kind: options.rootToo && (await holdsSnapshots(backendFromUri(name))) ? "root" : "none" };
  } catch (error) {
    // A folder another user owns, or that cannot be listed: what it holds is unknown.
    if (isOpenCrateError(error)) return { kind: "unreadable", error };
    throw error;
  }
}

/** The file or folder at `path` (links followed), or undefined when there is none: a name too long, a link loop. */
export function statQuietly(path: string): BigIntStats | undefined {
  try {
    return statSync(path, { bigint: true, throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

/** Whether one of the first folders of `backend`'s root holds versions: the root is a root of snapshots. */
async function holdsSnapshots(backend: StorageBackend): Promise<boolean> {
  const page = await backend.listPage("", { notUtf8: "skip" });
  const folders = page.prefixes.map((prefix) => prefix.slice(0, -1)).filter((folder) => !folder.startsWith(".") && isSnapshotName(folder));
  for (const folder of folders.slice(0, ROOT_CHECKS)) {
    if (await new VersionStore(backend, folder).exists()) return true;
  }
  return false;
}
