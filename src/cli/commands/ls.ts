/** `opencrate ls <uri>`: snapshot names in a root, versions of a name, or the files of one snapshot. */
import type { Command } from "commander";
import type { StorageBackend } from "../../backends/backend.ts";
import { backendFor } from "../../backends/registry.ts";
import { NotFoundError } from "../../errors.ts";
import { formatSize } from "../../io/size.ts";
import { claimsPrefix, nameKey, parseVersionFolderName, versionFolderName } from "../../snapshot/layout.ts";
import { validateSnapshotName } from "../../snapshot/names.ts";
import { VersionStore, type VersionClaim } from "../../snapshot/versions.ts";
import { parseLocation, redact } from "../../uri.ts";
import { isHiddenPath, listFolder } from "../files.ts";
import { formatTime, printJson, printLines, renderTable } from "../format.ts";
import { mapWithConcurrency } from "../pool.ts";
import { hasObjectsUnder } from "../../backends/presence.ts";
import { findNameTarget, looksLikeSnapshotUri, openSnapshotTarget, type NameTarget } from "../targets.ts";

interface LsOptions {
  readonly json?: boolean;
}

interface VersionRow {
  readonly versionName: string;
  readonly version: number;
  readonly tag: string | null;
  readonly createdAt: string | null;
  readonly runId: string | null;
  readonly size: number;
  readonly files: number;
}

const NAME_CHECK_CONCURRENCY = 8;

export function registerLs(program: Command): void {
  program
    .command("ls")
    .description("list the snapshots in a root, the versions of a snapshot, or the files of one version")
    .argument("<uri>", "a root, <root>/<name>, or a snapshot URI (<root>/<name>/v3, <root>/<name>@latest)")
    .option("--json", "print machine-readable JSON")
    .addHelpText(
      "after",
      `
Examples:
  $ opencrate ls snapshots                        # snapshot names in a local root
  $ opencrate ls s3://team/snapshots/train        # versions: tag, created, run id, size
  $ opencrate ls s3://team/snapshots/train@latest # files of the newest version
  $ opencrate ls snapshots/train/v3:baseline --json`,
    )
    .action(async (uri: string, options: LsOptions) => {
      if (looksLikeSnapshotUri(uri)) return listFiles(uri, options);
      const name = await findNameTarget(uri);
      if (name !== undefined) return listVersions(name, options);
      return listNames(uri, options);
    });
}

async function listFiles(uri: string, options: LsOptions): Promise<void> {
  const snapshot = await openSnapshotTarget(uri);
  const files = (await listFolder(snapshot.backend, snapshot.prefix)).filter((file) => !isHiddenPath(file.path));
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
      ["VERSION", "TAG", "CREATED", "RUN ID", "SIZE"],
      rows.map((row) => [row.versionName, row.tag ?? "-", formatTime(row.createdAt ?? undefined), row.runId ?? "-", formatSize(row.size)]),
    ),
  );
}

/** One row per version folder (a resumed version may have a sibling folder per tag), plus claims with no folder yet. */
async function versionRows(target: NameTarget): Promise<VersionRow[]> {
  const [claims, folders] = await Promise.all([
    new VersionStore(target.backend, target.name).listClaims(),
    folderTotals(target.backend, target.name),
  ]);
  const claimOf = new Map<number, VersionClaim>(claims.map((claim) => [claim.version, claim]));
  for (const claim of claims) {
    const folder = versionFolderName(claim.version, claim.tag);
    if (!folders.has(folder)) folders.set(folder, { size: 0, files: 0 });
  }
  const rows: VersionRow[] = [];
  for (const [folder, totals] of folders) {
    const parsed = parseVersionFolderName(folder);
    if (parsed === undefined) continue;
    const claim = claimOf.get(parsed.version);
    rows.push({
      versionName: folder,
      version: parsed.version,
      tag: parsed.tag ?? null,
      createdAt: claim?.createdAt ?? null,
      runId: claim?.runId ?? null,
      size: totals.size,
      files: totals.files,
    });
  }
  return rows.sort((a, b) => a.version - b.version || (a.versionName < b.versionName ? -1 : 1));
}

/** Total size and count of the visible files in each version folder of a name, from one recursive listing. */
async function folderTotals(backend: StorageBackend, name: string): Promise<Map<string, { size: number; files: number }>> {
  const totals = new Map<string, { size: number; files: number }>();
  const prefix = `${nameKey(name)}/`;
  for (const file of await listFolder(backend, prefix)) {
    const slash = file.path.indexOf("/");
    if (slash === -1 || isHiddenPath(file.path)) continue;
    const folder = file.path.slice(0, slash);
    const entry = totals.get(folder) ?? { size: 0, files: 0 };
    entry.size += file.size;
    entry.files += 1;
    totals.set(folder, entry);
  }
  return totals;
}

async function listNames(uri: string, options: LsOptions): Promise<void> {
  const backend = backendFor(parseLocation(uri));
  const candidates = await childFolders(backend);
  const isSnapshot = await mapWithConcurrency(candidates, NAME_CHECK_CONCURRENCY, (name) =>
    hasObjectsUnder(backend, claimsPrefix(name)),
  );
  const names = candidates.filter((_, index) => isSnapshot[index] === true);
  if (names.length === 0 && !(await hasObjectsUnder(backend, ""))) {
    throw new NotFoundError(`No snapshots at ${redact(uri)}: the location is empty or does not exist.`, { path: redact(uri) });
  }
  if (options.json === true) {
    printJson({ root: redact(uri), snapshots: names });
    return;
  }
  printLines(names.join("\n"));
}

/** The folders directly under the root whose names could be snapshot names. */
async function childFolders(backend: StorageBackend): Promise<string[]> {
  const names: string[] = [];
  let pageToken: string | undefined;
  do {
    const page = await backend.listPage("", pageToken === undefined ? {} : { pageToken });
    for (const prefix of page.prefixes) {
      const name = prefix.slice(0, -1);
      if (!name.startsWith(".") && isValidName(name)) names.push(name);
    }
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
