/** Which version folder a `setup()` writes, from its `start`, `tag`, `runId` and `replace`. */
import type { StorageBackend } from "../backends/backend.ts";
import { objectExists } from "../backends/presence.ts";
import { InvalidArgumentError, VersionNotFoundError } from "../errors.ts";
import { holdsRunFiles } from "./folder-content.ts";
import { DEV_VERSION, logKey, nameKey, versionFolderName, versionKey } from "./layout.ts";
import { isNewSnapshotName, isSelectorTag, refuseNewSnapshotName, refuseNewTag, type StartOption } from "./names.ts";
import { readPythonCounter } from "./python-counter.ts";
import { folderClaim, highestNumber, numbersOf, refuseBeyondMaxVersion, VersionStore, type AllocationResult, type VersionEntry } from "./versions.ts";

export interface ResolveRequest {
  readonly backend: StorageBackend;
  readonly name: string;
  readonly start: StartOption;
  readonly tag: string | undefined;
  readonly runId: string | undefined;
  readonly rank: number | undefined;
  readonly replace: boolean;
  /** The Python OpenCrate config kept in step (see python-counter.ts): "new" also starts past its counter. */
  readonly pythonConfig: string | undefined;
  readonly warn: (message: string) => void;
}

export interface ResolvedVersion {
  readonly version: number | typeof DEV_VERSION;
  /** The folder this run writes: `v<N>`, `v<N>:<tag>`, `dev` or `dev:<tag>`. */
  readonly folder: string;
  /** The run continues an existing folder: its `.log` moves into the history first. */
  readonly resumed: boolean;
  /**
   * "new" claimed this number in this process: its `.log` is created create-only. A process joining its run's
   * version (run id) is not the one that claimed it: the run's own `.log` may be there already.
   */
  readonly claimedNew: boolean;
  /**
   * The token of the version's claim as setup found it; undefined for "dev" and for a number only a folder holds.
   * The run's first record checks that the claim is still that one (see VersionWatch).
   */
  readonly claimToken: string | undefined;
  /** `replace`: this process empties the folder (once its new `.log` is written), then calls `emptied`. */
  readonly empties: boolean;
  /** Lets the other ranks of the run, waiting for the folder to be emptied, go on. */
  readonly emptied: () => Promise<void>;
  /** Emptying failed: lets the other ranks stop waiting, and a later start of the run empty the folder afresh. */
  readonly abandoned: () => Promise<void>;
  /**
   * For the process that claimed the version for its run (run id, "new"): another writer took its folder, so the
   * run record is marked and no process of the run joins that folder (see VersionStore.decideForRun).
   */
  readonly giveUp?: () => Promise<void>;
}

type Folder = Omit<ResolvedVersion, "empties" | "emptied" | "abandoned">;

const nothing = async (): Promise<void> => undefined;
/** Another process empties the folder, or nobody does. */
const EMPTIES_NOT = { empties: false, emptied: nothing, abandoned: nothing } as const;

/**
 * The folder, and with `replace` who empties it: without a run id the process itself (a rank other than 0 is
 * refused: nothing tells its job's ranks from another job's), with one the first process of the run (see
 * VersionStore.replaceForRun), so that no rank deletes what another rank of its run has written.
 */
export async function resolveVersion(request: ResolveRequest): Promise<ResolvedVersion> {
  const { backend, name, runId, rank } = request;
  if (request.replace && runId === undefined && rank !== undefined && rank !== 0) {
    throw new InvalidArgumentError(
      `replace: true on rank ${rank} needs a run id shared by every rank of the job (set OPENCRATE_RUN_ID, or pass ` +
        `runId to setup), so that one rank empties the folder before the others write into it.`,
    );
  }
  // A new name must follow opencrate's own rule; an existing one (another tool's, an older release's) is set up as
  // any other.
  if (!isNewSnapshotName(name) && !(await new VersionStore(backend, name).exists())) refuseNewSnapshotName(name);
  const resolved = withCheckableClaim(await resolveFolder(request));
  if (!request.replace) return { ...resolved, ...EMPTIES_NOT };
  if (runId === undefined) return { ...resolved, ...EMPTIES_NOT, empties: true };
  const turn = await new VersionStore(backend, name).replaceForRun(runId, { version: resolved.version, folder: resolved.folder });
  if (turn.empties) return { ...resolved, empties: true, emptied: turn.emptied, abandoned: turn.abandoned };
  const { version, folder } = turn.target;
  const claimToken = version === resolved.version ? resolved.claimToken : undefined;
  // A rank restarted by its launcher finds its log there and resumes it, as with start "new".
  return { version, folder, resumed: await objectExists(backend, logKey(name, folder, rank)), claimedNew: false, claimToken, ...EMPTIES_NOT };
}

async function resolveFolder(request: ResolveRequest): Promise<Folder> {
  const { backend, name, start, tag, runId, rank } = request;
  if (start === DEV_VERSION) {
    const folder = versionFolderName(DEV_VERSION, tag);
    const exists = await holdsRunFiles(backend, `${versionKey(name, folder)}/`);
    if (!exists) refuseNewTag(tag, folder);
    return { version: DEV_VERSION, folder, resumed: exists && !request.replace, claimedNew: false, claimToken: undefined };
  }
  const store = new VersionStore(backend, name);
  if (start === "new") {
    if (isSelectorTag(tag)) refuseNewTag(tag, `v<N>:${tag}`);
    // Python numbers its "new" run from its counter, which it raises before it makes the version's folder.
    const counter = request.pythonConfig === undefined ? undefined : await readPythonCounter(request.pythonConfig, name);
    const lowest = counter === undefined ? 0 : counter + 1;
    if (runId === undefined) {
      const claim = await store.allocateNew({ tag, runId }, lowest);
      return { version: claim.version, folder: versionFolderName(claim.version, tag), resumed: false, claimedNew: true, claimToken: claim.token };
    }
    const { claim, created, giveUp } = await store.allocateForRun(runId, { tag, runId }, lowest);
    // A rank joining its job's fresh version starts its own log; a restarted rank (same run id, log already
    // there, as after a torchrun elastic restart) resumes it so the earlier lines move into the history.
    const folder = versionFolderName(claim.version, tag);
    return {
      version: claim.version,
      folder,
      resumed: !created && (await objectExists(backend, logKey(name, folder, rank))),
      claimedNew: created,
      claimToken: claim.token,
      ...(giveUp === undefined ? {} : { giveUp: () => giveUp(folder) }),
    };
  }

  const entries = await store.listVersions();
  const where = backend.describe(nameKey(name));
  let version: number;
  let claimToken: string | undefined;
  if (start === "last") {
    // Without a run id each process picks the highest number itself. With one, "last" is decided once per run,
    // as "new" is: the first process of the run picks it and names it in the run record, and the others join that
    // number, even should another job have claimed a higher one in between.
    // A folder with a tag @ would read as a selector is only resumed, never made: refused before the run record
    // names the version.
    const decide = async (): Promise<AllocationResult> => {
      const result = await decideLast(request, store, entries);
      if (!result.created) refuseNewFolder(request, entries, result.claim.version);
      return result;
    };
    const decided = runId === undefined ? await decide() : await store.decideForRun(runId, decide);
    if (decided.created) {
      request.warn(`No version of '${name}' exists at ${where}; created v0.`);
      return { version: 0, folder: versionFolderName(0, tag), resumed: false, claimedNew: false, claimToken: decided.claim.token };
    }
    version = decided.claim.version;
    claimToken = decided.claim.token;
  } else {
    version = start;
    claimToken = entries.find((entry) => entry.version === version)?.claim?.token;
    if (!entries.some((entry) => entry.version === version)) {
      const available = numbersOf(entries);
      const listed = available.length === 0 ? "none exist yet" : `existing: ${available.map((v) => `v${v}`).join(", ")}`;
      throw new VersionNotFoundError(`Version ${version} of '${name}' does not exist at ${where} (${listed}).`, available, {
        path: where,
      });
    }
  }
  refuseBeyondMaxVersion(version, name, where);
  refuseNewFolder(request, entries, version);
  const folder = versionFolderName(version, tag);
  warnOnSibling(request, entries, version, folder);
  return { version, folder, resumed: !request.replace, claimedNew: false, claimToken };
}

/**
 * folderClaim's empty token stands in for a number only a folder holds (also a run's version whose claim was deleted
 * by hand): there is no claim to check, and checking would call the run's version deleted.
 */
function withCheckableClaim(folder: Folder): Folder {
  return folder.claimToken === "" ? { ...folder, claimToken: undefined } : folder;
}

/**
 * The version `start: "last"` resumes: the highest number (a claim or a folder, whoever wrote it), with its claim
 * when it has one, or v0, claimed, when there is none (`created` then tells whether this call claimed it).
 */
async function decideLast(request: ResolveRequest, store: VersionStore, entries: readonly VersionEntry[]): Promise<AllocationResult> {
  const highest = highestNumber(entries);
  // The number's own claim when it has one: the run record keeps its token (see VersionStore.decideForRun).
  if (highest !== undefined) {
    return { claim: entries.find((entry) => entry.version === highest)?.claim ?? folderClaim(highest), created: false };
  }
  if (request.replace) {
    const where = request.backend.describe(nameKey(request.name));
    throw new VersionNotFoundError(`No version of '${request.name}' exists at ${where}, so there is nothing to replace.`, [], {
      path: where,
    });
  }
  if (isSelectorTag(request.tag)) refuseNewTag(request.tag, versionFolderName(0, request.tag));
  return store.claimOrJoin(0, { tag: request.tag, runId: request.runId });
}

/** Resuming a version with another tag (or none) writes a sibling folder: say which folder is left alone. */
function warnOnSibling(request: ResolveRequest, entries: readonly VersionEntry[], version: number, folder: string): void {
  const ofVersion = entries.filter((entry) => entry.version === version);
  if (ofVersion.some((entry) => entry.folder === folder)) return;
  const created = ofVersion.find((entry) => entry.claim !== undefined && entry.claim.tag === entry.tag) ?? ofVersion[0];
  if (created === undefined) return;
  const tagText = request.tag === undefined ? "no tag" : `tag '${request.tag}'`;
  request.warn(
    `Version ${version} of '${request.name}' was created as '${created.folder}'; resuming it with ${tagText} uses ` +
      `the sibling folder '${folder}' (${request.backend.describe(versionKey(request.name, created.folder))} is untouched).`,
  );
}

/**
 * A tag that @ would read as a selector (all digits, `latest`) is refused when the version's folder with it would be
 * new; an existing one (made by an older release, or by Python OpenCrate) is resumed.
 */
function refuseNewFolder(request: ResolveRequest, entries: readonly VersionEntry[], version: number): void {
  if (!isSelectorTag(request.tag)) return;
  const folder = versionFolderName(version, request.tag);
  if (!entries.some((entry) => entry.folder === folder)) refuseNewTag(request.tag, folder);
}
