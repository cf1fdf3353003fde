/** What `opencrate ls` shows: snapshot names in a root, versions of a name, or the files of one snapshot. */
import type { StorageBackend } from "../../backends/backend.ts";
import { backendFor } from "../../backends/registry.ts";
import { formatSize } from "../../io/size.ts";
import { nameKey, parseFolderName, type DEV_VERSION } from "../../snapshot/layout.ts";
import { validateSnapshotName } from "../../snapshot/names.ts";
import { summarizeRuns, type RunSummary } from "../../snapshot/run-records.ts";
import { VersionStore } from "../../snapshot/versions.ts";
import { parseLocation, redact } from "../../uri.ts";
import { defaultRoot } from "../../snapshot/default-root.ts";
import { EXIT_FAILURE, oneLine, writeError } from "../errors.ts";
import { assertLocalFolder, isBookkeepingPath, listFolder } from "../files.ts";
import { formatTime, printJson, printLines, renderTable } from "../format.ts";
import { mapWithConcurrency } from "../pool.ts";
import { findNameTarget, looksLikeSnapshotUri, openSnapshotTarget, type NameTarget } from "../targets.ts";

export interface LsOptions {
  readonly json?: boolean;
}

interface FolderTotals {
  readonly size: number;
  readonly files: number;
}

interface VersionRow {
  readonly versionName: string;
  readonly version: number | typeof DEV_VERSION;
  readonly tag: string | null;
  readonly createdAt: string | null;
  readonly runId: string | null;
  /** How the folder's latest run did (run records); null for folders written without them. */
  readonly status: RunSummary["status"] | null;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly endedAt: string | null;
  readonly lastSeen: string | null;
  /** null when the folder could not be listed. */
  readonly size: number | null;
  readonly files: number | null;
}

/** A `running` run not seen for this long (its record is refreshed every minute at least) is shown as stale. */
const STALE_AFTER_MS = 5 * 60_000;

const NAME_CHECK_CONCURRENCY = 8;

export async function runLs(given: string | undefined, options: LsOptions): Promise<void> {
  const uri = given ?? defaultRoot();
  if (looksLikeSnapshotUri(uri)) return listFiles(uri, options);
  const name = await findNameTarget(uri);
  if (name !== undefined) return listVersions(name, options);
  return listNames(uri, options);
}

async function listFiles(uri: string, options: LsOptions): Promise<void> {
  const snapshot = await openSnapshotTarget(uri);
  const files = (await listFolder(snapshot.backend, snapshot.prefix)).filter((file) => !isBookkeepingPath(file.path));
  if (options.json === true) {
    printJson({
      snapshot: snapshot.where,
      name: snapshot.name,
      version: snapshot.version,
      tag: snapshot.tag ?? null,
      versionName: snapshot.folder,
      files: files.map((file) => ({ path: file.path, size: file.size, lastModified: file.lastModified.toISOString() })),
    });
    return;
  }
  printLines(snapshot.where); // which version `@latest` or `@<tag>` picked
  printLines(
    renderTable(
      ["SIZE", "MODIFIED", "PATH"],
      files.map((file) => [formatSize(file.size), formatTime(file.lastModified), file.path]),
    ),
  );
}

async function listVersions(target: NameTarget, options: LsOptions): Promise<void> {
  const rows = await versionRows(target);
  if (options.json === true) {
    printJson({ name: target.name, location: target.backend.describe(nameKey(target.name)), versions: rows });
    return;
  }
  printLines(
    renderTable(
      ["VERSION", "TAG", "CREATED", "STATUS", "RUN ID", "SIZE"],
      rows.map((row) => [
        row.versionName,
        row.tag ?? "-",
        formatTime(row.createdAt ?? undefined),
        statusText(row, Date.now()),
        row.runId ?? "-",
        row.size === null ? "?" : formatSize(row.size),
      ]),
    ),
  );
}

/** `finished`, `failed (exit 1)`, `killed (SIGTERM)`, `running`, or `stale` for a running run not seen lately. */
function statusText(row: VersionRow, now: number): string {
  switch (row.status) {
    case null:
      return "-";
    case "failed":
      return row.exitCode === null ? "failed" : `failed (exit ${row.exitCode})`;
    case "killed":
      return row.signal === null ? "killed" : `killed (${row.signal})`;
    case "running":
      return row.lastSeen !== null && now - Date.parse(row.lastSeen) > STALE_AFTER_MS ? "stale" : "running";
    case "finished":
      return "finished";
  }
}

/**
 * One row per version folder (a resumed version may have a sibling folder per tag; folders other tools wrote
 * included), plus claims with no folder yet, in listVersions order: the last row is what `@latest` opens.
 */
async function versionRows(target: NameTarget): Promise<VersionRow[]> {
  const [entries, totals, runs] = await Promise.all([
    new VersionStore(target.backend, target.name).listVersions(),
    folderTotals(target.backend, target.name),
    summarizeRuns(target.backend, target.name, (record) => record.versionName),
  ]);
  return entries.map((entry) => {
    // A folder that could not be read has no totals (null); a claim with no folder yet has nothing in it.
    const folder = totals.has(entry.folder) ? totals.get(entry.folder) : { size: 0, files: 0 };
    const run = runs.get(entry.folder);
    return {
      versionName: entry.folder,
      version: entry.version,
      tag: entry.tag ?? null,
      createdAt: entry.claim?.createdAt || null,
      runId: entry.claim?.runId ?? null,
      status: run?.status ?? null,
      exitCode: run?.exitCode ?? null,
      signal: run?.signal ?? null,
      endedAt: run?.endedAt ?? null,
      lastSeen: run?.lastSeen ?? null,
      size: folder?.size ?? null,
      files: folder?.files ?? null,
    };
  });
}

/**
 * Total size and count of the visible files in each version folder of a name, one listing per folder. A folder
 * that cannot be read is reported on stderr (exit 1 at the end) and left without totals; the others still list.
 */
async function folderTotals(backend: StorageBackend, name: string): Promise<Map<string, FolderTotals | undefined>> {
  const prefix = `${nameKey(name)}/`;
  const folders = (await childFolders(backend, prefix)).filter((folder) => parseFolderName(folder) !== undefined);
  const totals = await mapWithConcurrency(folders, NAME_CHECK_CONCURRENCY, async (folder): Promise<FolderTotals | undefined> => {
    try {
      const files = (await listFolder(backend, `${prefix}${folder}/`)).filter((file) => !isBookkeepingPath(file.path));
      return { size: files.reduce((sum, file) => sum + file.size, 0), files: files.length };
    } catch (error) {
      writeError(oneLine(error));
      process.exitCode = EXIT_FAILURE;
      return undefined;
    }
  });
  return new Map(folders.map((folder, index) => [folder, totals[index]]));
}

/**
 * A root with no snapshots (an empty or unrelated folder, an empty bucket prefix) lists nothing and says so on
 * stderr, exit 0; a local path that does not exist, or is a file, fails as `tree` does.
 */
async function listNames(uri: string, options: LsOptions): Promise<void> {
  const location = parseLocation(uri);
  if (location.scheme === "file") await assertLocalFolder(location.path, uri);
  const backend = backendFor(location);
  const candidates = (await childFolders(backend, "")).filter((name) => !name.startsWith(".") && isValidName(name));
  const isSnapshot = await mapWithConcurrency(candidates, NAME_CHECK_CONCURRENCY, (name) => new VersionStore(backend, name).exists());
  const names = candidates.filter((_, index) => isSnapshot[index] === true);
  if (options.json === true) {
    printJson({ root: redact(uri), snapshots: names });
    return;
  }
  if (names.length === 0) {
    writeError(`no snapshots in ${redact(uri)}.`);
    return;
  }
  printLines(names.join("\n"));
}

/** The names of the folders directly under `prefix` ("" or ending in "/"). */
async function childFolders(backend: StorageBackend, prefix: string): Promise<string[]> {
  const names: string[] = [];
  let pageToken: string | undefined;
  do {
    const page = await backend.listPage(prefix, pageToken === undefined ? {} : { pageToken });
    for (const folder of page.prefixes) names.push(folder.slice(prefix.length, -1));
    pageToken = page.nextPageToken;
  } while (pageToken !== undefined);
  return names;
}

function isValidName(name: string): boolean {
  try {
    validateSnapshotName(name);
    return true;
  } catch {
    return false;
  }
}
