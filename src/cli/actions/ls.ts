/** What `opencrate ls` shows: snapshot names in a root, versions of a name, or the files of one snapshot. */
import type { StorageBackend, UnlistableEntry } from "../../backends/backend.ts";
import { backendFor } from "../../backends/registry.ts";
import { formatSize } from "../../io/size.ts";
import { nameKey } from "../../snapshot/layout.ts";
import { isSnapshotName, snapshotNameProblem } from "../../snapshot/names.ts";
import { shownStatus, storeTime } from "../../snapshot/run-records.ts";
import { VersionStore, type Unlistable } from "../../snapshot/versions.ts";
import { printable } from "../../printable.ts";
import { parseLocation, redact } from "../../uri.ts";
import { onRoot } from "../default-root.ts";
import { EXIT_FAILURE, oneLine, writeError } from "../errors.ts";
import { isBookkeepingPath } from "../../snapshot/bookkeeping.ts";
import { assertLocalFolder, listFolderShown, unlistableLine, type UnlistableFile } from "../files.ts";
import { formatTime, printJson, printLines, renderTable } from "../format.ts";
import { mapWithConcurrency } from "../pool.ts";
import { findNameTarget, findSnapshotTarget, NO_FILES_YET, type NameTarget, type SnapshotTarget } from "../targets.ts";
import { readVersions, versionBase, type VersionBase } from "../version-rows.ts";

export interface LsOptions {
  readonly json?: boolean;
}

interface VersionRow extends VersionBase {
  readonly signal: string | null;
  readonly lastSeen: string | null;
  /** null when the folder could not be listed. */
  readonly size: number | null;
  readonly files: number | null;
}

const NAME_CHECK_CONCURRENCY = 8;

export async function runLs(given: string | undefined, options: LsOptions): Promise<void> {
  return onRoot(given, (uri) => lsAt(uri, options));
}

async function lsAt(uri: string, options: LsOptions): Promise<void> {
  const snapshot = await findSnapshotTarget(uri);
  if (snapshot !== undefined) return listFiles(snapshot, options);
  const name = await findNameTarget(uri);
  if (name !== undefined) return listVersions(name, options);
  return listNames(uri, options);
}

/**
 * The files of a version. An entry that cannot be listed (on local disk a link that leads nowhere, a name that is
 * not UTF-8) is shown after them, marked, and named on stderr with why; the exit status is then 1.
 */
async function listFiles(snapshot: SnapshotTarget, options: LsOptions): Promise<void> {
  const listed = await listFolderShown(snapshot.backend, snapshot.prefix);
  const files = listed.files.filter((file) => !isBookkeepingPath(file.path));
  const unlistable = listed.unlistable.filter((entry) => !isBookkeepingPath(entry.path));
  for (const entry of unlistable) writeError(unlistableLine(snapshot.where, entry));
  if (unlistable.length > 0) process.exitCode = EXIT_FAILURE;
  if (options.json === true) {
    printJson({
      snapshot: snapshot.where,
      name: snapshot.name,
      version: snapshot.version,
      tag: snapshot.tag ?? null,
      versionName: snapshot.folder,
      // A claimed version whose run has not written anything yet (the line `ls` prints for it).
      claimedEmpty: snapshot.empty && files.length === 0,
      files: files.map((file) => ({ path: file.path, size: file.size, lastModified: file.lastModified.toISOString() })),
      unlistable,
    });
    return;
  }
  printLines(printable(snapshot.where)); // which version `@latest` or `@<tag>` picked
  if (snapshot.empty && files.length === 0 && unlistable.length === 0) {
    printLines(NO_FILES_YET);
    return;
  }
  const rows = [
    ...files.map((file) => [formatSize(file.size), formatTime(file.lastModified), file.path]),
    ...unlistable.map((entry) => ["?", "?", `${entry.path} (cannot be listed: ${entry.problem})`]),
  ];
  printLines(renderTable(["SIZE", "MODIFIED", "PATH"], rows));
}

/** The versions of a name; an entry of its folder that cannot be listed is named on stderr, and the exit status is 1. */
async function listVersions(target: NameTarget, options: LsOptions): Promise<void> {
  const unlistable: UnlistableFile[] = [];
  const listed = await versionRows(target, (entry) => unlistable.push({ path: entry.key.slice(target.name.length + 1), problem: entry.problem }));
  const where = target.backend.describe(nameKey(target.name));
  reportUnlistable(where, unlistable);
  if (options.json === true) {
    printJson({ name: target.name, location: where, versions: listed.map(({ row }) => row), unlistable });
    return;
  }
  printLines(
    renderTable(
      ["VERSION", "TAG", "CREATED", "STATUS", "RUN ID", "SIZE"],
      [
        ...listed.map(({ row, stale }) => [
          row.versionName,
          row.tag ?? "-",
          formatTime(row.createdAt ?? undefined),
          statusText(row, stale),
          row.runId ?? "-",
          row.size === null ? "?" : formatSize(row.size),
        ]),
        ...unlistable.map((entry) => [entry.path, "?", "?", "cannot be listed", "?", "?"]),
      ],
    ),
  );
}

/** `finished`, `failed (exit 1)`, `killed (SIGTERM)`, `running`, or `stale` for a running run not seen lately. */
function statusText(row: VersionRow, stale: boolean): string {
  switch (row.status) {
    case null:
      return "-";
    case "failed":
      return row.exitCode === null ? "failed" : `failed (exit ${row.exitCode})`;
    case "killed":
      return row.signal === null ? "killed" : `killed (${row.signal})`;
    case "running":
      return stale ? "stale" : "running";
    case "finished":
      return "finished";
  }
}

/**
 * The versions of a name (version-rows.ts), each with whether its run is shown `stale` (shownStatus, on the store's
 * time); a folder that could not be listed is reported and shows "?".
 */
async function versionRows(target: NameTarget, onUnlistable: Unlistable): Promise<{ readonly row: VersionRow; readonly stale: boolean }[]> {
  const versions = await readVersions(target.backend, target.name, { sizes: true, onUnlistable });
  const storeNow = storeTime(target.backend);
  return versions.map((facts) => {
    const totals = facts.totals;
    if (totals !== undefined && "error" in totals) {
      writeError(oneLine(totals.error));
      process.exitCode = EXIT_FAILURE;
    }
    const listed = totals !== undefined && !("error" in totals) ? totals : undefined;
    const row = {
      ...versionBase(facts),
      signal: facts.run?.signal ?? null,
      lastSeen: facts.run?.lastSeen ?? null,
      size: listed?.size ?? null,
      files: listed?.files ?? null,
    };
    return { row, stale: facts.run !== undefined && shownStatus(facts.run, storeNow) === "stale" };
  });
}

/**
 * A root with no snapshots (an empty or unrelated folder, an empty bucket prefix) lists nothing and says so on
 * stderr, exit 0; a local path that does not exist, or is a file, fails as `tree` does. An entry that cannot be
 * listed (on local disk a link that leads nowhere), in the root or where a name keeps its versions, is named on
 * stderr, the other names are listed, and the exit status is 1.
 */
async function listNames(uri: string, options: LsOptions): Promise<void> {
  const location = parseLocation(uri);
  const backend = backendFor(location); // a malformed root is reported as such, before "no folder there"
  if (location.scheme === "file") await assertLocalFolder(location.path, uri);
  const unlistable: UnlistableFile[] = [];
  const onUnlistable = (entry: UnlistableEntry): void => {
    if (!entry.key.startsWith(".")) unlistable.push({ path: entry.key, problem: entry.problem });
  };
  const folders = (await childFolders(backend, "", onUnlistable)).filter((name) => !name.startsWith("."));
  const candidates = folders.filter((name) => isSnapshotName(name));
  for (const name of folders) {
    const problem = snapshotNameProblem(name);
    if (problem !== undefined) writeError(`the folder ${JSON.stringify(name)} in ${redact(uri)} is left out: ${problem}.`);
  }
  const isSnapshot = await mapWithConcurrency(candidates, NAME_CHECK_CONCURRENCY, (name) => new VersionStore(backend, name).exists(onUnlistable));
  const names = candidates.filter((_, index) => isSnapshot[index] === true);
  unlistable.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  reportUnlistable(redact(uri), unlistable);
  if (options.json === true) {
    printJson({ root: redact(uri), snapshots: names, unlistable });
    return;
  }
  if (names.length === 0) {
    writeError(`no snapshots in ${redact(uri)}.`);
    return;
  }
  printLines(names.map(printable).join("\n"));
}

/** Names each entry that could not be listed on stderr, under `where`; the exit status is then 1. */
function reportUnlistable(where: string, unlistable: readonly UnlistableFile[]): void {
  for (const entry of unlistable) writeError(unlistableLine(where, entry));
  if (unlistable.length > 0) process.exitCode = EXIT_FAILURE;
}

/**
 * The names of the folders directly under `prefix` ("" or ending in "/"); a name that is not UTF-8 left out, an
 * entry that cannot be listed reported.
 */
async function childFolders(backend: StorageBackend, prefix: string, onUnlistable: Unlistable): Promise<string[]> {
  const names: string[] = [];
  let pageToken: string | undefined;
  do {
    const page = await backend.listPage(prefix, { notUtf8: "skip", onUnlistable, ...(pageToken === undefined ? {} : { pageToken }) });
    for (const folder of page.prefixes) names.push(folder.slice(prefix.length, -1));
    pageToken = page.nextPageToken;
  } while (pageToken !== undefined);
  return names;
}

