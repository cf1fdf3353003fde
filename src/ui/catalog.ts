/**
 * What the viewer shows about a root, read through the snapshot layer (Snapshot.open, listVersions) and plain
 * listings: the snapshot names, the versions of a name with their sizes, and the files of one version.
 */
import type { ObjectInfo, StorageBackend } from "../backends/backend.ts";
import { isOpenCrateError } from "../errors.ts";
import { nameKey, parseVersionFolderName, versionKey } from "../snapshot/layout.ts";
import { validateSnapshotName } from "../snapshot/names.ts";
import { Snapshot } from "../snapshot/snapshot.ts";
import { checkPullPath } from "../cli/pull/safe-path.ts";
import { isBookkeepingPath } from "../cli/files.ts";
import { mapWithConcurrency } from "../cli/pool.ts";
import type { RunSummary, NameSummary, VersionRow, FileRow } from "./api-types.ts";

const NAME_CONCURRENCY = 8;

export class Catalog {
  readonly #root: string;
  readonly #backend: StorageBackend;

  /** `root` is the root's URI or path; `backend` is the backend it names. */
  constructor(root: string, backend: StorageBackend) {
    this.#root = root.length > 1 ? root.replace(/\/+$/, "") : root;
    this.#backend = backend;
  }

  get backend(): StorageBackend {
    return this.#backend;
  }

  /** The folders directly under the root that hold versions (claimed, or folders another tool wrote), with their
   * version count and latest run. */
  async names(): Promise<NameSummary[]> {
    const candidates: string[] = [];
    let pageToken: string | undefined;
    do {
      const page = await this.#backend.listPage("", pageToken === undefined ? {} : { pageToken });
      for (const prefix of page.prefixes) {
        const name = prefix.slice(0, -1);
        if (isSnapshotName(name)) candidates.push(name);
      }
      pageToken = page.nextPageToken;
    } while (pageToken !== undefined);
    const summaries = await mapWithConcurrency(candidates, NAME_CONCURRENCY, async (name) => {
      const runs = await this.runs(name);
      if (runs.length === 0) return undefined;
      return { name, versions: runs.length, latest: runs.at(-1) ?? null } satisfies NameSummary;
    });
    return summaries.filter((summary): summary is NameSummary => summary !== undefined);
  }

  /** One row per version folder (`v3`, and `v3:tag` siblings made by resuming), ascending, with sizes. */
  async versions(name: string): Promise<VersionRow[]> {
    const [runs, totals] = await Promise.all([this.runs(name), this.#folderTotals(name)]);
    const byVersion = new Map(runs.map((run) => [run.version, run]));
    const rows = new Map<string, VersionRow>();
    for (const run of runs) rows.set(run.versionName, { ...run, size: 0, files: 0 });
    for (const [folder, total] of totals) {
      const parsed = parseVersionFolderName(folder);
      if (parsed === undefined) continue;
      const run = rows.get(folder) ?? byVersion.get(parsed.version);
      const base: RunSummary = run ?? emptyRun(folder, parsed.version, parsed.tag);
      rows.set(folder, { ...base, versionName: folder, tag: parsed.tag ?? null, size: total.size, files: total.files });
    }
    return [...rows.values()].sort((a, b) => a.version - b.version || (a.versionName < b.versionName ? -1 : 1));
  }

  /** The runs of a name as `listVersions` gives them; none when no version folder exists yet. */
  async runs(name: string): Promise<RunSummary[]> {
    let snapshot: Snapshot;
    try {
      snapshot = await Snapshot.open(`${this.#root}/${name}@latest`);
    } catch (error) {
      if (isOpenCrateError(error, "NOT_FOUND") || isOpenCrateError(error, "VERSION_NOT_FOUND")) return [];
      throw error;
    }
    return (await snapshot.listVersions()).map((entry) => runSummary(entry));
  }

  /** Every file of a version folder in key order; opencrate's bookkeeping left out. */
  async files(name: string, folder: string): Promise<FileRow[]> {
    const prefix = `${versionKey(name, folder)}/`;
    const rows: FileRow[] = [];
    for await (const info of this.#backend.list(prefix)) {
      const path = info.key.slice(prefix.length);
      if (isBookkeepingPath(path)) continue;
      rows.push(fileRow(path, info));
    }
    return rows;
  }

  async #folderTotals(name: string): Promise<Map<string, { size: number; files: number }>> {
    const totals = new Map<string, { size: number; files: number }>();
    const prefix = `${nameKey(name)}/`;
    for await (const info of this.#backend.list(prefix)) {
      const path = info.key.slice(prefix.length);
      const slash = path.indexOf("/");
      if (slash === -1 || isBookkeepingPath(path)) continue;
      const folder = path.slice(0, slash);
      const total = totals.get(folder) ?? { size: 0, files: 0 };
      total.size += info.size;
      total.files += 1;
      totals.set(folder, total);
    }
    return totals;
  }
}

function fileRow(path: string, info: ObjectInfo): FileRow {
  const check = checkPullPath(path, "linux");
  return {
    path,
    size: info.size,
    lastModified: info.lastModified.toISOString(),
    checksum: info.checksum === undefined ? null : `${info.checksum.algorithm}:${info.checksum.value}`,
    ...(check.ok ? {} : { refused: check.problem }),
  };
}

function isSnapshotName(name: string): boolean {
  if (name.startsWith(".")) return false;
  try {
    validateSnapshotName(name);
    return true;
  } catch {
    return false;
  }
}

function emptyRun(versionName: string, version: number, tag: string | undefined): RunSummary {
  return { versionName, version, tag: tag ?? null, createdAt: null, runId: null, status: null, startedAt: null, endedAt: null, exitCode: null };
}

/** Reads a listVersions entry; the run-record fields are optional and read defensively. */
export function runSummary(entry: object): RunSummary {
  const fields = entry as Record<string, unknown>;
  const text = (key: string): string | null => (typeof fields[key] === "string" ? (fields[key] as string) : null);
  const version = typeof fields.version === "number" ? fields.version : -1;
  return {
    versionName: text("versionName") ?? `v${version}`,
    version,
    tag: text("tag"),
    createdAt: text("createdAt"),
    runId: text("runId"),
    status: text("status"),
    startedAt: text("startedAt"),
    endedAt: text("endedAt"),
    exitCode: typeof fields.exitCode === "number" ? fields.exitCode : null,
  };
}
