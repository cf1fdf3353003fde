/** Resolves a snapshot URI to an existing version folder, for read-only use. */
import type { StorageBackend } from "../backends/backend.ts";
import { backendFromUri } from "../backends/registry.ts";
import { NotFoundError, VersionNotFoundError } from "../errors.ts";
import { nearestFirst } from "../nearest.ts";
import { DEV_VERSION, nameKey, versionFolderName, versionKey } from "./layout.ts";
import { namesNearHint } from "./names-near.ts";
import { holdsRunFiles } from "./folder-content.ts";
import { parseSnapshotUri } from "./snapshot-uri.ts";
import { highestNumber, numbersOf, pickFolder, VersionStore, type VersionEntry } from "./versions.ts";

export interface OpenedSnapshot {
  readonly backend: StorageBackend;
  readonly name: string;
  readonly version: number | typeof DEV_VERSION;
  readonly tag: string | undefined;
  readonly folder: string;
  /**
   * The version is claimed and its folder holds nothing yet, its run having no record or still running (opened so
   * only with `claimedEmpty`).
   */
  readonly empty: boolean;
}

export interface OpenOptions {
  /**
   * Open a claimed version whose folder holds nothing yet (its run has not written anything), with `empty: true`,
   * instead of failing NOT_FOUND. A version neither claimed nor holding files fails either way, and so does one
   * whose run has ended (its files are missing).
   */
  readonly claimedEmpty?: boolean;
}

/**
 * `@latest` is the highest number and `@<N>` that number; of a number's folders they open the last in
 * listVersions order (a sibling made by resuming, when there is one). `@<tag>` is the highest number with a folder
 * of that tag. A folder path opens that folder; `v3` when only `v3:<tag>` exists means the tagged folder.
 */
export async function openSnapshot(uri: string, options: OpenOptions = {}): Promise<OpenedSnapshot> {
  const address = parseSnapshotUri(uri);
  const backend = backendFromUri(address.root);
  const entries = await new VersionStore(backend, address.name).listVersions();
  const where = backend.describe(nameKey(address.name));
  const selector = address.selector;

  let entry: VersionEntry | undefined;
  switch (selector.kind) {
    case "latest": {
      const highest = highestNumber(entries);
      entry = highest === undefined ? undefined : pickFolder(entries, highest);
      if (entry === undefined) throw await noSuchName(backend, address.name, where);
      break;
    }
    case "tag": {
      entry = entries.filter((e) => e.version !== DEV_VERSION && e.tag === selector.tag).at(-1);
      if (entry === undefined) {
        // `<root>/x@y` where `x@y` is a name: the URI needs its own selector (`x@y@latest`).
        const named = `${address.name}@${selector.tag}`;
        if (await new VersionStore(backend, named).exists().catch(() => false)) {
          throw new NotFoundError(
            `No version of '${address.name}' at ${where} is tagged '${selector.tag}'. A snapshot named '${named}' exists there: open it with a selector, as in ${named}@latest.`,
            { path: where },
          );
        }
        if (entries.length === 0) throw await noSuchName(backend, address.name, where);
        throw new NotFoundError(`No version of '${address.name}' at ${where} is tagged '${selector.tag}'${otherTags(entries, selector.tag)}.`, { path: where });
      }
      break;
    }
    case "number":
    case "folder": {
      const ofVersion = entries.filter((e) => e.version === selector.version);
      if (selector.kind === "number") {
        entry = ofVersion.at(-1);
      } else {
        const folder = versionFolderName(selector.version, selector.tag);
        entry = ofVersion.find((e) => e.folder === folder);
        // "v3" when only "v3:baseline" holds anything means the tagged folder.
        if (entry === undefined && selector.tag === undefined && ofVersion.length === 1) entry = ofVersion[0];
        if (entry === undefined && ofVersion.length > 0) {
          throw new NotFoundError(
            `The snapshot folder ${backend.describe(versionKey(address.name, folder))} does not exist; version ` +
              `${selector.version} has ${ofVersion.map((e) => e.folder).join(", ")}.`,
            { path: backend.describe(versionKey(address.name, folder)) },
          );
        }
      }
      if (entry === undefined) {
        if (selector.version === DEV_VERSION) {
          throw new NotFoundError(`No dev folder of '${address.name}' exists at ${where}.`, { path: where });
        }
        const available = numbersOf(entries);
        throw new VersionNotFoundError(
          `Version ${selector.version} of '${address.name}' does not exist at ${where}` +
            (available.length > 0
              ? ` (existing: ${available.map((v) => `v${v}`).join(", ")}).`
              : entries.length > 0
                ? " (none exist yet)."
                : ` (no version of '${address.name}' exists${await namesNearHint(backend, address.name)}).`),
          available,
          { path: where },
        );
      }
      break;
    }
  }
  const empty = !entry.hasFolder || !(await holdsRunFiles(backend, `${versionKey(address.name, entry.folder)}/`));
  if (empty) {
    const folder = backend.describe(versionKey(address.name, entry.folder));
    if (entry.claim === undefined) throw new NotFoundError(`The snapshot folder ${folder} is empty or missing.`, { path: folder });
    // Every run writes its log before its first record: a folder with none whose run has a record that is not
    // `running` lost its files (deleted by hand, a store's lifecycle rule), which no pull should pass over.
    const ended = await endedRunOf(backend, address.name, entry);
    if (ended !== undefined) {
      throw new NotFoundError(`The snapshot folder ${folder} holds no files, though its run ${ended}: its files are missing (deleted or lost).`, {
        path: folder,
      });
    }
    if (options.claimedEmpty !== true) {
      throw new NotFoundError(`The snapshot folder ${folder} holds no files yet: the version is claimed, and its run has not written anything.`, {
        path: folder,
      });
    }
  }
  return { backend, name: address.name, version: entry.version, tag: entry.tag, folder: entry.folder, empty };
}

/** A name with no version at all: the message lists the root's names, the nearest first. */
async function noSuchName(backend: StorageBackend, name: string, where: string): Promise<NotFoundError> {
  return new NotFoundError(`No version of '${name}' exists at ${where}${await namesNearHint(backend, name)}.`, { path: where });
}

const TAGS_SHOWN = 8;

/**
 * What a missing tag's message adds: the name's tags, nearest first; and for `@v3` (a tag spelled as the version
 * folders are), that `@3` picks version 3.
 */
function otherTags(entries: readonly VersionEntry[], missing: string): string {
  const tags = [...new Set(entries.flatMap((e) => (e.version === DEV_VERSION || e.tag === undefined ? [] : [e.tag])))];
  const nearFirst = nearestFirst(missing, tags);
  const shown = nearFirst.length > TAGS_SHOWN ? [...nearFirst.slice(0, TAGS_SHOWN), "…"] : nearFirst;
  const listed = tags.length === 0 ? " (no version has a tag)" : ` (its tags: ${shown.join(", ")})`;
  const number = /^v(0|[1-9]\d{0,14})$/.exec(missing)?.[1];
  return number === undefined ? listed : `${listed}; to pick version ${number}, write @${number}`;
}

/**
 * How the latest run of the version's folder ended ("finished", "failed (exit 1)", …), from its run records; undefined
 * when it has none or its run is still `running` (its record may have landed after the folder was looked at). A
 * `running` run whose record the store has not written for STALE_AFTER_MS counts as ended.
 */
async function endedRunOf(backend: StorageBackend, name: string, entry: VersionEntry): Promise<string | undefined> {
  if (entry.version === DEV_VERSION) return undefined;
  // Loaded here, not at the top: run-records.ts brings the run logging in, which a read-only open (pull, ls)
  // otherwise never loads.
  const { listStoredRunRecords, shownStatus, storeTime, summarizeLatestRun } = await import("./run-records.ts");
  const records = (await listStoredRunRecords(backend, name, entry.version)).filter((stored) => stored.record.versionName === entry.folder);
  const run = summarizeLatestRun(records);
  if (run === undefined) return undefined;
  switch (shownStatus(run, storeTime(backend))) {
    case "running":
      return undefined;
    case "stale":
      return `stopped reporting (last seen ${run.lastSeen})`;
    case "finished":
      return `finished (${run.endedAt ?? run.lastSeen})`;
    case "failed":
      return run.exitCode === null ? "failed" : `failed (exit ${run.exitCode})`;
    case "killed":
      return run.signal === null ? "was killed" : `was killed (${run.signal})`;
  }
}
