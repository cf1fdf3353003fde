/**
 * What the viewer shows about a root, read through the snapshot layer (VersionStore.listVersions, run records) and
 * plain listings: the snapshot names, the versions of a name with their sizes, and the files of one version. The
 * versions of a name are the rows `opencrate ls <name>` prints, in its order: every folder (`dev` ones included),
 * and every claimed number whose folder holds nothing yet.
 */
import type { ObjectInfo, StorageBackend } from "../backends/backend.ts";
import { NotFoundError } from "../errors.ts";
import { oneLine } from "../cli/errors.ts";
import { DEV_VERSION, nameKey, versionKey } from "../snapshot/layout.ts";
import { validateSnapshotName } from "../snapshot/names.ts";
import { summarizeRuns } from "../snapshot/run-records.ts";
import { VersionStore, type VersionEntry } from "../snapshot/versions.ts";
import { checkPullPath } from "../cli/pull/safe-path.ts";
import { isBookkeepingPath, listFolder } from "../cli/files.ts";
import { mapWithConcurrency } from "../cli/pool.ts";
import type { RunSummary, NameSummary, VersionRow, FileRow } from "./api-types.ts";

const NAME_CONCURRENCY = 8;
const FOLDER_CONCURRENCY = 8;

type FolderTotals = { readonly size: number; readonly files: number } | { readonly error: string };

export class Catalog {
  readonly #backend: StorageBackend;

  /** `root` is the root's URI or path (kept for callers; the backend is what is read); `backend` is the one it names. */
  constructor(_root: string, backend: StorageBackend) {
    this.#backend = backend;
  }

  get backend(): StorageBackend {
    return this.#backend;
  }

  /**
   * The folders directly under the root that hold versions (claimed, or folders another tool wrote), in listing
   * order, with their version count and latest run. A name whose versions cannot be read (a corrupt claim) is
   * still listed, with `error` saying why and no count; the other names are not held back by it.
   */
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
    const summaries = await mapWithConcurrency(candidates, NAME_CONCURRENCY, async (name): Promise<NameSummary | undefined> => {
      try {
        const runs = await this.runs(name);
        if (runs.length === 0) return undefined;
        return { name, versions: runs.length, latest: runs.at(-1) ?? null };
      } catch (error) {
        // Shown only when it is a snapshot name at all (as `ls` lists it); an unreadable folder stays out.
        const exists = await new VersionStore(this.#backend, name).exists().catch(() => true);
        return exists ? { name, versions: null, latest: null, error: oneLine(error) } : undefined;
      }
    });
    return summaries.filter((summary): summary is NameSummary => summary !== undefined);
  }

  /**
   * One row per version as `opencrate ls <name>` lists them: each folder (`dev`, `v3`, `v3:tag` siblings made by
   * resuming), plus each claim whose folder holds nothing yet, in listVersions order (the last row is what
   * `@latest` opens). A folder that cannot be listed keeps its row, with null sizes and its `error`.
   */
  async versions(name: string): Promise<VersionRow[]> {
    const [entries, runs, totals] = await Promise.all([
      new VersionStore(this.#backend, name).listVersions(),
      summarizeRuns(this.#backend, name, (record) => record.versionName),
      this.#folderTotals(name),
    ]);
    return entries.map((entry) => {
      const total: FolderTotals = totals.get(entry.folder) ?? { size: 0, files: 0 };
      const run = runs.get(entry.folder);
      const base = entryRun(entry, run);
      return "error" in total
        ? { ...base, hasFolder: entry.hasFolder, size: null, files: null, error: total.error }
        : { ...base, hasFolder: entry.hasFolder, size: total.size, files: total.files };
    });
  }

  /** The runs of a name in listVersions order, without sizes; none when the name has no version. */
  async runs(name: string): Promise<RunSummary[]> {
    const [entries, runs] = await Promise.all([
      new VersionStore(this.#backend, name).listVersions(),
      summarizeRuns(this.#backend, name, (record) => record.versionName),
    ]);
    return entries.map((entry) => entryRun(entry, runs.get(entry.folder)));
  }

  /**
   * Every file of a version folder in key order; opencrate's bookkeeping left out. A folder that holds nothing is
   * NOT_FOUND unless the version is claimed (a run that has not written yet): then it has no files.
   */
  async files(name: string, folder: string): Promise<FileRow[]> {
    const prefix = `${versionKey(name, folder)}/`;
    const rows: FileRow[] = [];
    let seen = 0;
    for await (const info of this.#backend.list(prefix)) {
      seen++;
      const path = info.key.slice(prefix.length);
      if (isBookkeepingPath(path)) continue;
      rows.push(fileRow(path, info));
    }
    if (seen === 0) {
      const entries = await new VersionStore(this.#backend, name).listVersions();
      if (!entries.some((entry) => entry.folder === folder)) {
        throw new NotFoundError(`No version ${folder} of ${name} at ${this.#backend.describe(versionKey(name, folder))}.`);
      }
    }
    return rows;
  }

  /**
   * Size and count of the visible files of each version folder, one listing per folder (as `ls` does), so that a
   * folder that cannot be listed (a broken link inside it) spoils only its own totals.
   */
  async #folderTotals(name: string): Promise<Map<string, FolderTotals>> {
    const { folders } = await new VersionStore(this.#backend, name).scanFolders();
    const names = folders.map((entry) => entry.folder);
    const totals = await mapWithConcurrency(names, FOLDER_CONCURRENCY, async (folder): Promise<FolderTotals> => {
      try {
        const files = (await listFolder(this.#backend, `${nameKey(name)}/${folder}/`)).filter((file) => !isBookkeepingPath(file.path));
        return { size: files.reduce((sum, file) => sum + file.size, 0), files: files.length };
      } catch (error) {
        return { error: oneLine(error) };
      }
    });
    return new Map(names.map((folder, index) => [folder, totals[index] ?? { error: "not listed" }]));
  }
}

function entryRun(entry: VersionEntry, run: { status: string; endedAt: string | null; exitCode: number | null } | undefined): RunSummary {
  return {
    versionName: entry.folder,
    version: entry.version,
    tag: entry.tag ?? null,
    createdAt: entry.claim?.createdAt || null,
    runId: entry.claim?.runId ?? null,
    status: run?.status ?? null,
    startedAt: null,
    endedAt: run?.endedAt ?? null,
    exitCode: run?.exitCode ?? null,
  };
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

/** Reads a listVersions entry; the run-record fields are optional and read defensively. */
export function runSummary(entry: object): RunSummary {
  const fields = entry as Record<string, unknown>;
  const text = (key: string): string | null => (typeof fields[key] === "string" ? (fields[key] as string) : null);
  const version = typeof fields.version === "number" || fields.version === DEV_VERSION ? (fields.version as number | typeof DEV_VERSION) : -1;
  return {
    versionName: text("versionName") ?? (version === DEV_VERSION ? DEV_VERSION : `v${version}`),
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
