/**
 * The versions of a name as `opencrate ls <name>` prints them and the viewer shows them, read in one place: each
 * version folder (`dev`, `v3`, a resumed version's `v3:tag` sibling) and each claimed number whose folder holds
 * nothing yet, in listVersions order (the last row is what `@latest` opens), with the folder's latest run and,
 * when asked, its size. A folder that cannot be listed (a broken link inside it) spoils only its own totals.
 */
import type { StorageBackend } from "../backends/backend.ts";
import { nameKey, type DEV_VERSION } from "../snapshot/layout.ts";
import { summarizeRuns, type RunSummary } from "../snapshot/run-records.ts";
import { VersionStore, type Unlistable, type VersionEntry } from "../snapshot/versions.ts";
import { isBookkeepingPath } from "../snapshot/bookkeeping.ts";
import { listFolder } from "./files.ts";
import { mapWithConcurrency } from "./pool.ts";

const FOLDER_CONCURRENCY = 8;

/** A version folder's visible files, or why they could not be listed. */
export type FolderTotals = { readonly size: number; readonly files: number } | { readonly error: unknown };

export interface VersionFacts {
  readonly entry: VersionEntry;
  /** The folder's latest run, from the run records; undefined for folders written without them. */
  readonly run: RunSummary | undefined;
  /** With `sizes`: the folder's totals (a claim with no folder holds nothing). */
  readonly totals: FolderTotals | undefined;
}

/** The fields every listing of versions shows, named as `ls --json` names them. */
export interface VersionBase {
  readonly versionName: string;
  readonly version: number | typeof DEV_VERSION;
  readonly tag: string | null;
  readonly createdAt: string | null;
  readonly runId: string | null;
  readonly status: RunSummary["status"] | null;
  readonly exitCode: number | null;
  readonly endedAt: string | null;
}

export interface ReadVersionsOptions {
  readonly sizes: boolean;
  /** For a listing shown to a person: an entry of `<name>/` that cannot be listed is reported, and the rest read. */
  readonly onUnlistable?: Unlistable;
}

export async function readVersions(backend: StorageBackend, name: string, options: ReadVersionsOptions): Promise<VersionFacts[]> {
  const store = new VersionStore(backend, name);
  const report = options.onUnlistable;
  const [entries, runs, totals] = await Promise.all([
    store.listVersions(report),
    summarizeRuns(backend, name, (record) => record.versionName),
    // The same entries again: listVersions reports them.
    options.sizes ? folderTotals(backend, name, store, report === undefined ? undefined : () => undefined) : undefined,
  ]);
  return entries.map((entry) => ({
    entry,
    run: runs.get(entry.folder),
    totals: totals === undefined ? undefined : (totals.get(entry.folder) ?? { size: 0, files: 0 }),
  }));
}

export function versionBase({ entry, run }: VersionFacts): VersionBase {
  return {
    versionName: entry.folder,
    version: entry.version,
    tag: entry.tag ?? null,
    // An empty createdAt (a claim another tool wrote) shows as none.
    createdAt: entry.claim?.createdAt || null,
    runId: entry.claim?.runId ?? null,
    status: run?.status ?? null,
    exitCode: run?.exitCode ?? null,
    endedAt: run?.endedAt ?? null,
  };
}

/** Size and count of the visible files of each version folder, one listing per folder. */
async function folderTotals(backend: StorageBackend, name: string, store: VersionStore, onUnlistable: Unlistable | undefined): Promise<Map<string, FolderTotals>> {
  const folders = (await store.scanFolders(onUnlistable)).folders.map((entry) => entry.folder);
  const totals = await mapWithConcurrency(folders, FOLDER_CONCURRENCY, async (folder): Promise<FolderTotals> => {
    try {
      const files = (await listFolder(backend, `${nameKey(name)}/${folder}/`)).filter((file) => !isBookkeepingPath(file.path));
      return { size: files.reduce((sum, file) => sum + file.size, 0), files: files.length };
    } catch (error) {
      return { error };
    }
  });
  return new Map(folders.map((folder, index) => [folder, totals[index] ?? { size: 0, files: 0 }]));
}
