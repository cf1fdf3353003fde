/**
 * What the viewer shows about a root, read through the snapshot layer (VersionStore.listVersions, run records) and
 * plain listings: the snapshot names, the versions of a name with their sizes, and the files of one version. The
 * versions of a name are the rows `opencrate ls <name>` prints, in its order: every folder (`dev` ones included),
 * and every claimed number whose folder holds nothing yet.
 */
import type { ObjectInfo, StorageBackend, UnlistableEntry } from "../backends/backend.ts";
import { listFolder, listFolderShown } from "../cli/files.ts";
import { NotFoundError } from "../errors.ts";
import { oneLine } from "../cli/errors.ts";
import { nameKey, versionKey } from "../snapshot/layout.ts";
import { isSnapshotName } from "../snapshot/names.ts";
import { shownStatus, storeTime } from "../snapshot/run-records.ts";
import { VersionStore, type Unlistable } from "../snapshot/versions.ts";
import { checkPullPath } from "../cli/pull/safe-path.ts";
import { isBookkeepingPath } from "../snapshot/bookkeeping.ts";
import { mapWithConcurrency } from "../cli/pool.ts";
import { readVersions, versionBase, type VersionFacts } from "../cli/version-rows.ts";
import type { RunSummary, NameSummary, VersionRow, VersionRun, FileRow, UnlistableFile } from "./api-types.ts";

const NAME_CONCURRENCY = 8;

export class Catalog {
  readonly #backend: StorageBackend;

  /** `backend`: the root the viewer shows. */
  constructor(backend: StorageBackend) {
    this.#backend = backend;
  }

  get backend(): StorageBackend {
    return this.#backend;
  }

  /**
   * The folders directly under the root that hold versions (claimed, or folders another tool wrote), in listing
   * order, with their version count and latest run. A name whose versions cannot be read (a corrupt claim) is
   * still listed, with `error` saying why and no count; the other names are not held back by it. An entry that
   * cannot be listed (on local disk a link that leads nowhere) is listed with `error` saying why: one in the root
   * as a name of its own, one among a name's version folders on that name, whose other versions are counted.
   */
  async names(): Promise<NameSummary[]> {
    const candidates: string[] = [];
    const unlistable: NameSummary[] = [];
    const onUnlistable = (entry: UnlistableEntry): void => {
      if (!entry.key.startsWith(".")) unlistable.push({ name: entry.key, versions: null, latest: null, error: cannotBeListed(entry) });
    };
    let pageToken: string | undefined;
    do {
      const page = await this.#backend.listPage("", { notUtf8: "skip", onUnlistable, ...(pageToken === undefined ? {} : { pageToken }) });
      for (const prefix of page.prefixes) {
        const name = prefix.slice(0, -1);
        if (!name.startsWith(".") && isSnapshotName(name)) candidates.push(name);
      }
      pageToken = page.nextPageToken;
    } while (pageToken !== undefined);
    const summaries = await mapWithConcurrency(candidates, NAME_CONCURRENCY, async (name): Promise<NameSummary | undefined> => {
      try {
        const problems: string[] = [];
        const runs = await this.runs(name, (entry) => problems.push(cannotBeListed(entry)));
        if (runs.length === 0 && problems.length === 0) return undefined;
        const summary = { name, versions: runs.length, latest: runs.at(-1) ?? null };
        return problems.length === 0 ? summary : { ...summary, error: problems.join(" ") };
      } catch (error) {
        // Shown only when it is a snapshot name at all (as `ls` lists it); an unreadable folder stays out.
        const exists = await new VersionStore(this.#backend, name).exists().catch(() => true);
        return exists ? { name, versions: null, latest: null, error: oneLine(error) } : undefined;
      }
    });
    const listed = summaries.filter((summary): summary is NameSummary => summary !== undefined);
    return [...listed, ...unlistable].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /**
   * One row per version as `opencrate ls <name>` lists them (src/cli/version-rows.ts). A folder that cannot be
   * listed keeps its row, with null sizes and its `error`. A name with no version (no claim, no version folder) is
   * NOT_FOUND: it is no snapshot, and the first page does not list it.
   */
  async versions(name: string): Promise<VersionRow[]> {
    const rows = await this.#readVersions(name, true);
    const storeNow = storeTime(this.#backend);
    return rows.map((facts) => {
      const base = { ...versionSummary(facts, storeNow), hasFolder: facts.entry.hasFolder };
      const totals = facts.totals ?? { size: 0, files: 0 };
      return "error" in totals
        ? { ...base, size: null, files: null, error: oneLine(totals.error) }
        : { ...base, size: totals.size, files: totals.files };
    });
  }

  /** The rows of versions() without sizes: no version folder is listed (what one version's page needs). */
  async versionRuns(name: string): Promise<VersionRun[]> {
    const rows = await this.#readVersions(name, false);
    const storeNow = storeTime(this.#backend);
    return rows.map((facts) => ({ ...versionSummary(facts, storeNow), hasFolder: facts.entry.hasFolder }));
  }

  async #readVersions(name: string, sizes: boolean): Promise<VersionFacts[]> {
    const rows = await readVersions(this.#backend, name, { sizes });
    if (rows.length === 0) throw new NotFoundError(`No snapshot ${name} at ${this.#backend.describe(nameKey(name))}.`);
    return rows;
  }

  /**
   * The runs of a name in listVersions order, without sizes; none when the name has no version. With
   * `onUnlistable`, an entry among its version folders that cannot be listed is reported and the rest read.
   */
  async runs(name: string, onUnlistable?: Unlistable): Promise<RunSummary[]> {
    const rows = await readVersions(this.#backend, name, onUnlistable === undefined ? { sizes: false } : { sizes: false, onUnlistable });
    const storeNow = storeTime(this.#backend);
    return rows.map((facts) => versionSummary(facts, storeNow));
  }

  /**
   * Every file of a version folder in key order; opencrate's bookkeeping left out. A folder that holds nothing is
   * NOT_FOUND unless the version is claimed (a run that has not written yet): then it has no files.
   */
  async files(name: string, folder: string): Promise<FileRow[]> {
    return (await this.#files(name, folder, false)).files;
  }

  /**
   * As files(), for the file list shown to a person: an entry the listing cannot give as a file (on local disk a
   * link that leads nowhere, a name that is not UTF-8) is in `unlistable` with why, rather than failing the list.
   */
  async shownFiles(name: string, folder: string): Promise<{ files: FileRow[]; unlistable: UnlistableFile[] }> {
    return this.#files(name, folder, true);
  }

  async #files(name: string, folder: string, shown: boolean): Promise<{ files: FileRow[]; unlistable: UnlistableFile[] }> {
    const prefix = `${versionKey(name, folder)}/`;
    const listed = shown ? await listFolderShown(this.#backend, prefix) : { files: await listFolder(this.#backend, prefix), unlistable: [] };
    const seen = listed.files.length + listed.unlistable.length;
    const rows = listed.files.filter((file) => !isBookkeepingPath(file.path)).map((file) => fileRow(file.path, file.info));
    const unlistable = listed.unlistable.filter((entry) => !isBookkeepingPath(entry.path));
    if (seen === 0) {
      const entries = await new VersionStore(this.#backend, name).listVersions();
      if (!entries.some((entry) => entry.folder === folder)) {
        throw new NotFoundError(`No version ${folder} of ${name} at ${this.#backend.describe(versionKey(name, folder))}.`);
      }
    }
    return { files: rows, unlistable };
  }
}

/** The `error` of a name for an entry that cannot be listed. */
function cannotBeListed(entry: UnlistableEntry): string {
  return `${entry.key} cannot be listed: ${entry.problem}.`;
}

/** `storeNow`: the store's time, which tells a `stale` run (shownStatus). */
function versionSummary(facts: VersionFacts, storeNow: number): RunSummary {
  const run = facts.run;
  return {
    ...versionBase(facts),
    status: run === undefined ? null : shownStatus(run, storeNow),
    startedAt: run?.startedAt ?? null,
    lastSeen: run?.lastSeen ?? null,
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

