/**
 * Version allocation and listing. A version exists when its claim object exists or when a `v<N>[:<tag>]` folder
 * holds anything (other tools, Python OpenCrate included, write folders without claims). Claims are written
 * create-only, so two writers can never own one number, and a loser moves on to the next number without
 * overwriting anything; "new" starts past the highest claim and the highest folder, and checks its number again
 * once won, so it never lands in a folder it did not claim. A conditional write whose answer was lost (TRANSIENT)
 * is settled by reading the claim back and comparing the writer's token, never by guessing.
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { StorageBackend, UnlistableEntry } from "../backends/backend.ts";
import { CREATE_ONLY, ifRevision } from "../backends/backend.ts";
import { deleteAtRevision } from "../backends/delete-at-revision.ts";
import { firstKeyUnder, hasObjectsUnder } from "../backends/presence.ts";
import { settleConditionalWrite, WRITER_TOKEN_KEY, type Settled } from "../backends/conditional-write.ts";
import { retryPolicyOf, type FailureKind, type RetryPolicy } from "../backends/retry-policy.ts";
import { mapWithConcurrency } from "../cli/pool.ts";
import { AlreadyExistsError, CorruptDataError, isOpenCrateError, NotSupportedError, TransientError } from "../errors.ts";
import {
  claimKey,
  claimsPrefix,
  DEV_VERSION,
  isResetFolder,
  latestHintKey,
  MAX_VERSION,
  nameKey,
  numberTakenByFolder,
  parseFolderName,
  parseVersionFolderName,
  replaceRecordKey,
  runRecordKey,
  versionFolderName,
  versionKey,
  versionOfClaimKey,
} from "./layout.ts";
import { holdsRunFiles } from "./folder-content.ts";

export interface VersionClaim {
  readonly version: number;
  readonly tag: string | undefined;
  readonly runId: string | undefined;
  readonly host: string;
  readonly pid: number;
  readonly createdAt: string;
  readonly token: string;
}

/** One version folder of a name, or a claim whose folder holds nothing yet. */
export interface VersionEntry {
  /** The number, or "dev" for the scratch folder. */
  readonly version: number | typeof DEV_VERSION;
  /** The folder's tag. */
  readonly tag: string | undefined;
  /** `v3`, `v3:baseline`, `dev`, `dev:baseline`. */
  readonly folder: string;
  /** The claim of this number, when one exists (shared by all folders of the number). */
  readonly claim: VersionClaim | undefined;
  /** False for a claim whose folder holds nothing yet. */
  readonly hasFolder: boolean;
}

/** The folders directly under `<name>/`, from one delimited listing. */
export interface FolderScan {
  readonly folders: readonly { version: number | typeof DEV_VERSION; tag: string | undefined; folder: string }[];
  /** The highest number any `v<N>…` folder occupies, whatever its tag; undefined when there is none. */
  readonly highestNumber: number | undefined;
}

export interface AllocateOptions {
  readonly tag: string | undefined;
  readonly runId: string | undefined;
}

export interface AllocationResult {
  readonly claim: VersionClaim;
  /** True when this call created the claim; false when it joined one (a rank of the same run, or `last` racing). */
  readonly created: boolean;
}

/** A run's version as {@link VersionStore.decideForRun} settled it. */
export interface RunAllocation extends AllocationResult {
  /**
   * For the process that named the version in the run record (undefined for one that joined): marks the record
   * abandoned, naming `folder`, once another writer turned out to have taken the version.
   */
  readonly giveUp: ((folder: string) => Promise<void>) | undefined;
}

/** A folder a run replaces: its number (or "dev") and its name. */
export interface ReplacedFolder {
  readonly version: number | typeof DEV_VERSION;
  readonly folder: string;
}

/** What one process of a run does about `replace`: empty the folder, then say so; or join the emptied folder. */
export type ReplaceTurn =
  | { readonly empties: true; readonly emptied: () => Promise<void>; readonly abandoned: () => Promise<void> }
  | { readonly empties: false; readonly target: ReplacedFolder };

/**
 * A run record as read: the token of the process that created it, and once decided, the version and its claim's
 * token; or, once given up, the version and folder no process of the run may join.
 */
interface RunVersionRecord {
  readonly token: string;
  readonly version?: number;
  /** The token of the version's claim when the version was named (absent: no claim then, or an older record). */
  readonly claimToken?: string;
  readonly abandoned?: AbandonedFolder;
}

/** The version a run gave up, and the folder of it another writer took. */
interface AbandonedFolder {
  readonly version: number;
  readonly folder: string;
}

interface ReplaceRecord {
  readonly token?: string;
  readonly state?: string;
  readonly target?: ReplacedFolder;
}

/** Where a listing shown to a person reports an entry of `<name>/` it cannot list (ListOptions.onUnlistable). */
export type Unlistable = (entry: UnlistableEntry) => void;

const CLAIM_READ_CONCURRENCY = 16;
/**
 * The latest hint names a multiple of this: the listing after it (`highest`) reads at most this many claims more
 * than an exact hint would, in the same one request, and most setups skip the hint's write.
 */
const HINT_EVERY = 8;
const RUN_RECORD_WAIT_MS = 120_000;

export class VersionStore {
  readonly #backend: StorageBackend;
  readonly #name: string;
  /** The backend's: how often a claim whose outcome stays unknown is sent again, and the waits. */
  readonly #retry: RetryPolicy;

  constructor(backend: StorageBackend, name: string) {
    this.#backend = backend;
    this.#name = name;
    this.#retry = retryPolicyOf(backend);
  }

  /** Every claim, ascending by version (read a few at a time: a name may have thousands). */
  async listClaims(): Promise<VersionClaim[]> {
    const versions = await this.listVersionNumbers();
    const claims = await mapWithConcurrency(versions, CLAIM_READ_CONCURRENCY, (version) => this.readClaim(version));
    return claims.filter((claim): claim is VersionClaim => claim !== undefined);
  }

  /** The claimed version numbers, ascending. */
  async listVersionNumbers(startAfter?: number): Promise<number[]> {
    const versions: number[] = [];
    const options = startAfter === undefined ? {} : { startAfter: claimKey(this.#name, startAfter) };
    for await (const info of this.#backend.list(claimsPrefix(this.#name), { ...options, notUtf8: "skip" })) {
      const version = versionOfClaimKey(this.#name, info.key);
      if (version !== undefined) versions.push(version);
    }
    return versions.sort((a, b) => a - b);
  }

  /** The highest claimed version, or undefined when there is none. Starts from the hint when there is one. */
  async highest(): Promise<number | undefined> {
    const hint = await this.#readHint();
    if (hint !== undefined && hint > 0) {
      const after = await this.listVersionNumbers(hint - 1);
      if (after.length > 0) return after.at(-1);
    }
    return (await this.listVersionNumbers()).at(-1);
  }

  /**
   * The version folders that hold anything (`v3`, `v3:tag`, `dev`), from one delimited listing of `<name>/`: also
   * those holding only bookkeeping (see holdsRunFiles), which new numbers still pass over while it is there.
   * An entry there that cannot be listed (on local disk a link that leads nowhere) fails the scan, or for a listing
   * shown to a person, with `onUnlistable`, is reported when its name could be a version folder or opencrate's
   * bookkeeping (isResetFolder), and left out: never with it for choosing a number, where such an entry must keep
   * its number taken.
   */
  async scanFolders(onUnlistable?: Unlistable): Promise<FolderScan> {
    const folders: { version: number | typeof DEV_VERSION; tag: string | undefined; folder: string }[] = [];
    let highestNumber: number | undefined;
    let pageToken: string | undefined;
    const prefix = `${this.#name}/`;
    const report =
      onUnlistable === undefined
        ? undefined
        : (entry: UnlistableEntry): void => {
            if (isResetFolder(entry.key.slice(prefix.length))) onUnlistable(entry);
          };
    do {
      const page = await this.#backend.listPage(prefix, {
        notUtf8: "skip",
        ...(pageToken === undefined ? {} : { pageToken }),
        ...(report === undefined ? {} : { onUnlistable: report }),
      });
      for (const prefix of page.prefixes) {
        const folder = prefix.slice(this.#name.length + 1, -1);
        const taken = numberTakenByFolder(folder);
        if (taken !== undefined && (highestNumber === undefined || taken > highestNumber)) highestNumber = taken;
        const parsed = parseFolderName(folder);
        if (parsed !== undefined) folders.push({ ...parsed, folder });
      }
      pageToken = page.nextPageToken;
    } while (pageToken !== undefined);
    return { folders, highestNumber };
  }

  /**
   * Every version of the name: each folder, plus each claim with no folder yet, in listing order: "dev" folders
   * first, then by number; within one number the folder it was claimed with first, then the others (the
   * untagged `v<N>` before tagged ones, tagged ones by tag). The last entry of a number is the one `@<N>` and
   * `@latest` open (see {@link pickFolder}). A folder that holds only bookkeeping (see holdsRunFiles) is no version.
   */
  async listVersions(onUnlistable?: Unlistable): Promise<VersionEntry[]> {
    const [claims, scan] = await Promise.all([this.listClaims(), this.scanFolders(onUnlistable)]);
    const claimOf = new Map(claims.map((claim) => [claim.version, claim]));
    const folders = await this.#foldersWithRunFiles(scan.folders, claimOf);
    const entries: VersionEntry[] = folders.map(({ version, tag, folder }) => ({
      version,
      tag,
      folder,
      claim: version === DEV_VERSION ? undefined : claimOf.get(version),
      hasFolder: true,
    }));
    const numbersWithFolders = new Set(folders.map((folder) => folder.version));
    for (const claim of claims) {
      if (numbersWithFolders.has(claim.version)) continue;
      entries.push({ version: claim.version, tag: claim.tag, folder: versionFolderName(claim.version, claim.tag), claim, hasFolder: false });
    }
    return entries.sort(compareEntries);
  }

  /**
   * True when the name has a claim or a version folder (`v<N>[:<tag>]`, `dev[:<tag>]`) holding a run's files: it
   * is a snapshot name. `onUnlistable` as for scanFolders.
   */
  async exists(onUnlistable?: Unlistable): Promise<boolean> {
    const [claimed, scan] = await Promise.all([hasObjectsUnder(this.#backend, claimsPrefix(this.#name), "skip"), this.scanFolders(onUnlistable)]);
    if (claimed) return true;
    for (const { folder } of scan.folders) if (await holdsRunFiles(this.#backend, `${versionKey(this.#name, folder)}/`)) return true;
    return false;
  }

  /**
   * The folders that are versions: each a claim was made with (its number's claim names its tag), which is one
   * whatever it holds, and each other folder that holds a run's files (one listing each, a few at a time).
   */
  async #foldersWithRunFiles<F extends FolderScan["folders"][number]>(folders: readonly F[], claimOf: ReadonlyMap<number, VersionClaim>): Promise<F[]> {
    const kept = await mapWithConcurrency(folders, CLAIM_READ_CONCURRENCY, async (entry) => {
      const claim = entry.version === DEV_VERSION ? undefined : claimOf.get(entry.version);
      if (claim !== undefined && claim.tag === entry.tag) return true;
      return holdsRunFiles(this.#backend, `${versionKey(this.#name, entry.folder)}/`);
    });
    return folders.filter((_, index) => kept[index] === true);
  }

  /**
   * True when a folder `v<N>` or `v<N>:<anything>` holds an object (any key starting `<name>/v<N>:` counts), from
   * one one-object listing of `<name>/v<N>` as a rule, so it stays cheap however many versions and files there are.
   * Keys sort "/" < digits < ":", so the first key under that prefix is in `v<N>/` when that folder holds anything,
   * else a `v<N>:…` key when one exists, unless a longer number (`v<N>7…`) sorts first (then `<name>/v<N>:` is
   * listed too); a key that sorts before `v<N>/` (`v<N>.txt`, `v<N>-old/…`) makes it list both prefixes exactly.
   */
  async folderExists(version: number): Promise<boolean> {
    const stem = `${this.#name}/v${version}`;
    const first = await firstKeyUnder(this.#backend, stem);
    if (first === undefined) return false;
    const next = first.charAt(stem.length);
    if (next === "/" || next === ":") return true;
    if (next > ":") return false; // both kinds of folder would sort before this key
    if (next >= "0" && next <= "9") return hasObjectsUnder(this.#backend, `${stem}:`);
    const found = await Promise.all([hasObjectsUnder(this.#backend, `${stem}/`), hasObjectsUnder(this.#backend, `${stem}:`)]);
    return found.includes(true);
  }

  /**
   * The lowest number from `candidate` up that no folder holds. A claimed folder there is a concurrent claimer's,
   * claimed a moment ago: the claims listing jumps past it and the claims above it. Only a folder without a claim
   * (a root written by another tool) costs one full folder listing, which jumps past every folder: on local disk that
   * listing reads every version folder, far too much to pay at each race lost under contention.
   */
  async #pastFolders(candidate: number): Promise<number> {
    let next = candidate;
    while (await this.folderExists(next)) {
      const claimed = await this.listVersionNumbers(next === 0 ? undefined : next - 1);
      const highest = claimed[0] === next ? claimed.at(-1) : (await this.scanFolders()).highestNumber;
      next = Math.max(next, highest ?? next) + 1;
    }
    return next;
  }

  async readClaim(version: number): Promise<VersionClaim | undefined> {
    const key = claimKey(this.#name, version);
    let bytes: Uint8Array;
    try {
      bytes = await this.#backend.get(key);
    } catch (error) {
      if (isOpenCrateError(error, "NOT_FOUND")) return undefined;
      throw error;
    }
    return parseClaim(bytes, this.#backend.describe(key), version);
  }

  /**
   * Claims the next free number: past every claim, from `lowest` up (a number another tool took without a claim
   * or a folder yet: Python OpenCrate's counter + 1), and never one a folder holds. The first candidate is checked
   * for a folder before claiming (a root written by another tool has folders and no claims: one full folder
   * listing then jumps past them all), and every number is checked again once won: a folder made between the
   * check and the claim (another tool taking the same number) keeps the claim, unused, so nobody else takes the
   * number, and the next free number is claimed. Nothing in that folder is touched.
   */
  async allocateNew(options: AllocateOptions, lowest = 0): Promise<VersionClaim> {
    let candidate = await this.#pastFolders(Math.max(((await this.highest()) ?? -1) + 1, lowest));
    // One claim (one token) per number: a retry after an unknown outcome must recognise its own earlier write.
    let claim = newClaim(candidate, options);
    let lost = 0;
    for (;;) {
      const { outcome } = await this.#tryClaim(claim, true);
      if (outcome === "won") {
        if (await this.folderExists(candidate)) {
          candidate = await this.#pastFolders(candidate + 1);
          claim = newClaim(candidate, options);
          continue;
        }
        await this.#writeHint(candidate);
        await this.#removeClaimLeftovers();
        return claim;
      }
      if (outcome === "unknown") {
        throw new TransientError(
          `Could not claim version ${candidate} at ${this.#backend.describe(claimKey(this.#name, candidate))}: the store kept failing.`,
          { path: this.#backend.describe(claimKey(this.#name, candidate)) },
        );
      }
      lost += 1;
      // After a few lost races, jump past the claims above this one (one short listing, no hint: every number up
      // to this one is claimed) instead of walking one number at a time.
      candidate = lost % 4 === 0 ? ((await this.listVersionNumbers(candidate)).at(-1) ?? candidate) + 1 : candidate + 1;
      claim = newClaim(candidate, options);
    }
  }

  /**
   * Removes the temp files that claims killed before their commit left beside the claims (local disk); a live
   * claim's is kept. Best effort: a claim never fails for it.
   */
  async #removeClaimLeftovers(): Promise<void> {
    await this.#backend.removeLeftovers?.(claimsPrefix(this.#name)).catch(() => {});
  }

  /** Claims `version` if it is free; returns the existing claim when another writer has it. */
  async claimOrJoin(version: number, options: AllocateOptions): Promise<AllocationResult> {
    const claim = newClaim(version, options);
    const { outcome, stored } = await this.#tryClaim(claim);
    if (outcome === "won") {
      await this.#writeHint(version);
      return { claim, created: true };
    }
    if (outcome === "lost" && stored !== undefined) return { claim: stored, created: false };
    throw new TransientError(`Could not claim or read version ${version} of ${this.#backend.describe(this.#name)}.`);
  }

  /**
   * Ranks of one job (same runId) share one version with exactly one allocation: the first to create the run
   * record allocates; the others wait for the record to name the version.
   */
  async allocateForRun(runId: string, options: AllocateOptions, lowest = 0): Promise<RunAllocation> {
    return this.decideForRun(runId, async () => {
      const claim = await this.allocateNew(options, lowest);
      return { claim, created: true };
    });
  }

  /**
   * Ranks of one job (same runId) settle on one version: the first to create the run record (create-only) calls
   * `decide` (allocating a new version for `"new"`, picking the highest for `"last"`) and names its version in the
   * record, with the token of its claim; the others, and any later process of the run, join the version the record
   * names, as long as its claim is still that one (see #joinRun). Should `decide` fail, its record is removed (when
   * it is still ours), so a waiting rank decides in its place rather than waiting for a version that will never be
   * named. Once the version turns out to be another writer's (`giveUp`), the record is marked abandoned, and no
   * process of the run joins that version any more (ALREADY_EXISTS, naming the run id and the folder).
   */
  async decideForRun(runId: string, decide: () => Promise<AllocationResult>): Promise<RunAllocation> {
    const key = runRecordKey(this.#name, runId);
    const existing = await this.#readRunRecord(key);
    if (existing?.abandoned !== undefined) throw this.#abandonedRunError(runId, existing.abandoned, key);
    if (existing?.version !== undefined) return this.#joinRun(runId, { ...existing, version: existing.version }, key);
    const token = randomUUID();
    if (existing !== undefined || !(await this.#createRunRecord(key, runId, token))) {
      const joined = await this.#waitForRun(key, runId);
      return joined ?? this.decideForRun(runId, decide);
    }
    try {
      const result = await decide();
      await this.#recordRunVersion(key, runId, token, result.claim);
      return { ...result, giveUp: (folder) => this.#abandonRun(key, runId, token, { version: result.claim.version, folder }) };
    } catch (error) {
      await this.#dropRunRecord(key, token).catch(() => undefined);
      throw error;
    }
  }

  /**
   * Deletes the run record if it is still the one written with `token` and names no version yet, at the revision
   * read: a delete that lands late (a retry's original, held by the network) never removes the record another
   * rank created since.
   */
  async #dropRunRecord(key: string, token: string): Promise<void> {
    const read = await this.#readAtRevision(key, (revision) => this.#readRunRecord(key, revision));
    if (read?.record?.token !== token || read.record.version !== undefined || read.record.abandoned !== undefined) return;
    await deleteAtRevision(this.#backend, key, read.revision);
  }

  /**
   * Marks the run record abandoned (compare-and-swap) if it is still the one written with `token`: it then names
   * no version, so neither a later process of the run nor an older release joins `folder` (an older one waits for a
   * version and fails TRANSIENT); it keeps the number and folder for the error that process gets. A record removed
   * or created anew by another process meanwhile is left alone: it no longer sends anyone to `folder`.
   */
  async #abandonRun(key: string, runId: string, token: string, abandoned: AbandonedFolder): Promise<void> {
    const body = JSON.stringify({ runId, token, state: "abandoned", abandoned });
    await this.#retry.run("conditional", async () => {
      const read = await this.#readAtRevision(key, (revision) => this.#readRunRecord(key, revision));
      if (read?.record?.token !== token || read.record.abandoned !== undefined) return;
      await this.#backend.put(key, body, { mode: ifRevision(read.revision) });
    }, recordWriteFailure);
  }

  /** The refusal of a run record marked abandoned: its version's folder is another writer's. */
  #abandonedRunError(runId: string, abandoned: AbandonedFolder, key: string): AlreadyExistsError {
    const where = this.#backend.describe(key);
    return new AlreadyExistsError(
      `The record ${where} of run '${runId}' gives up version ${abandoned.version}: another writer took its folder ` +
        `${this.#backend.describe(versionKey(this.#name, abandoned.folder))} as the run started, so no process of the ` +
        "run writes there. Start the job with another run id, or delete the record to let the run take a new version.",
      { path: where },
    );
  }

  /** The object at `key` read at the revision a head gave, with that revision; undefined when it is absent or
   * changed between the two (then it is not the object this process wrote). */
  async #readAtRevision<T>(key: string, read: (revision: string) => Promise<T | undefined>): Promise<{ record: T | undefined; revision: string } | undefined> {
    try {
      const { revision } = await this.#backend.head(key);
      return { record: await read(revision), revision };
    } catch (error) {
      if (isOpenCrateError(error, "NOT_FOUND") || isOpenCrateError(error, "PRECONDITION_FAILED")) return undefined;
      throw error;
    }
  }

  /**
   * Ranks of one job (same runId) replacing a folder: the first to create the replace record empties `target`; the
   * others wait until it has, then join the folder the record names (the first one's, should `"last"` have moved
   * meanwhile). So no rank of the run writes into the folder before it is emptied, and none empties it after. A
   * process of a run whose folder was already emptied (a rank restarted by its launcher) joins it too.
   */
  async replaceForRun(runId: string, target: ReplacedFolder): Promise<ReplaceTurn> {
    const key = replaceRecordKey(this.#name, runId);
    const existing = await this.#readReplaceRecord(key);
    if (existing === undefined) {
      const token = randomUUID();
      const body = JSON.stringify({ runId, token, state: "emptying", target });
      const settled = await this.#createSettled(key, body, token, "application/json", () => this.#readReplaceRecord(key));
      if (settled.outcome === "failed") throw settled.error;
      if (settled.outcome === "unknown") throw settled.readError;
      if (settled.outcome === "written") {
        return {
          empties: true,
          emptied: () => this.#markEmptied(key, token, { runId, token, state: "emptied", target }),
          abandoned: () => this.#dropReplaceRecord(key, token),
        };
      }
    }
    // The record was there (read, or met by the create-only write): its going away means its writer gave up.
    return { empties: false, target: await this.#waitForEmptied(key) };
  }

  /** Marks the replace record emptied (compare-and-swap), so the run's other processes go on. */
  async #markEmptied(key: string, token: string, record: ReplaceRecord & { runId: string }): Promise<void> {
    let replaced = false;
    await this.#retry.run("conditional", async () => {
      const current = await this.#backend.head(key).catch((error: unknown) => {
        if (isOpenCrateError(error, "NOT_FOUND")) return undefined;
        throw error;
      });
      // Only our own record is marked: one deleted meanwhile (by hand) and created anew by another process of the
      // run is that process's, which marks it once it has emptied the folder itself.
      replaced = current === undefined;
      if (current === undefined) return;
      const stored = await this.#readReplaceRecord(key, current.revision);
      replaced = stored?.token !== token;
      if (replaced || stored?.state === "emptied") return; // an earlier attempt whose answer was lost did land
      await this.#backend.put(key, JSON.stringify(record), { mode: ifRevision(current.revision), contentType: "application/json" });
    }, recordWriteFailure);
    if (replaced) {
      throw new TransientError(
        `The replace record ${this.#backend.describe(key)} was removed or replaced while this process emptied the ` +
          "folder it replaces; start this process again to join the folder the run's record names.",
        { path: this.#backend.describe(key) },
      );
    }
  }

  /**
   * Deletes the replace record if it is still the one written with `token` and not yet marked emptied (the
   * emptying failed). A marked record stays even when the setup that marked it fails afterwards (the mark's answer
   * lost, say): the run's other processes may have joined the folder already, and a record gone would have the
   * run's next process empty it again, deleting what they wrote. Deleted at the revision read, as the run record
   * is (#dropRunRecord).
   */
  async #dropReplaceRecord(key: string, token: string): Promise<void> {
    const read = await this.#readAtRevision(key, (revision) => this.#readReplaceRecord(key, revision));
    if (read?.record?.token !== token || read.record.state === "emptied") return;
    await deleteAtRevision(this.#backend, key, read.revision);
  }

  async #waitForEmptied(key: string): Promise<ReplacedFolder> {
    const deadline = Date.now() + RUN_RECORD_WAIT_MS;
    for (let attempt = 1; Date.now() < deadline; attempt++) {
      const record = await this.#readReplaceRecord(key);
      if (record?.state === "emptied" && record.target !== undefined) return record.target;
      if (record === undefined) {
        throw new TransientError(
          `The rank that was emptying the folder for this run gave up (its setup failed; it removed ${this.#backend.describe(key)}): ` +
            "start the run again.",
          { path: this.#backend.describe(key) },
        );
      }
      await this.#retry.wait(attempt);
    }
    throw new TransientError(
      `Waited ${RUN_RECORD_WAIT_MS / 1000} s for another rank to empty the folder it replaces, as ${this.#backend.describe(key)} ` +
        "would say; if that rank died, delete the record and start again.",
      { path: this.#backend.describe(key) },
    );
  }

  /** The replace record, read at `revision` when given (another revision is PRECONDITION_FAILED). */
  async #readReplaceRecord(key: string, revision?: string): Promise<ReplaceRecord | undefined> {
    let record: { token?: unknown; state?: unknown; target?: { version?: unknown; folder?: unknown } | null };
    try {
      const bytes = await this.#backend.get(key, revision === undefined ? {} : { ifRevision: revision });
      record = JSON.parse(Buffer.from(bytes).toString("utf8")) as typeof record;
    } catch (error) {
      if (isOpenCrateError(error, "NOT_FOUND")) return undefined;
      if (!(error instanceof SyntaxError)) throw error;
      throw new CorruptDataError(`The replace record ${this.#backend.describe(key)} is not valid JSON.`, {
        path: this.#backend.describe(key),
        cause: error,
      });
    }
    if (!isJsonObject(record)) {
      throw new CorruptDataError(`The replace record ${this.#backend.describe(key)} is not a JSON object.`, { path: this.#backend.describe(key) });
    }
    const version = record.target?.version;
    const folder = record.target?.folder;
    const target: ReplacedFolder | undefined =
      typeof folder !== "string" ? undefined
      : typeof version === "number" ? { version, folder }
      : version === DEV_VERSION ? { version: DEV_VERSION, folder }
      : undefined;
    return {
      ...(typeof record.token === "string" ? { token: record.token } : {}),
      ...(typeof record.state === "string" ? { state: record.state } : {}),
      ...(target === undefined ? {} : { target }),
    };
  }

  /**
   * Creates the run record, create-only. True when this call created it: settled by the token stored in the
   * record, since an ALREADY_EXISTS may be our own earlier attempt whose answer was lost, and a TRANSIENT may
   * have landed.
   */
  async #createRunRecord(key: string, runId: string, token: string): Promise<boolean> {
    const body = JSON.stringify({ runId, token, state: "allocating" });
    const settled = await this.#createSettled(key, body, token, undefined, () => this.#readRunRecord(key));
    if (settled.outcome === "written" || settled.outcome === "taken") return settled.outcome === "written";
    throw settled.outcome === "unknown" ? settled.readError : settled.error;
  }

  /**
   * Writes `key` create-only carrying `token` (in its metadata, and in the body `read` parses) and settles a lost
   * answer by the token read back (../backends/conditional-write.ts): an ALREADY_EXISTS may be our own earlier
   * attempt (an answer lost, then the write retried by the SDK or by us; backends whose own read-back fails report
   * such a write as ALREADY_EXISTS), and a TRANSIENT may have landed. While it reads back as absent or unreadable,
   * the same write is sent again, within the backend's retry policy. `firstConflictIsTheirs`: an ALREADY_EXISTS of
   * the first send is "taken" (with no stored value) without a read-back, for backends that settle their own
   * conditional writes (`capabilities.settlesConditionalWrites`).
   */
  #createSettled<S extends { readonly token?: string }>(
    key: string,
    body: string,
    token: string,
    contentType: string | undefined,
    read: () => Promise<S | undefined>,
    firstConflictIsTheirs = false,
  ): Promise<Settled<undefined, S>> {
    return settleConditionalWrite<undefined, S>({
      write: async () => {
        await this.#backend.put(key, body, { mode: CREATE_ONLY, metadata: { [WRITER_TOKEN_KEY]: token }, ...(contentType === undefined ? {} : { contentType }) });
        return undefined;
      },
      // Only the first send: a later one may meet our own earlier send, landed after its answer was lost.
      classify: (error, send) => {
        if (isOpenCrateError(error, "ALREADY_EXISTS")) return firstConflictIsTheirs && send === 1 ? "theirs" : "unknown";
        return isOpenCrateError(error, "TRANSIENT") ? "unknown" : "final";
      },
      readBack: async () => {
        const stored = await read();
        if (stored === undefined) return "absent";
        return stored.token === token ? { ours: undefined } : { theirs: stored };
      },
      fatalReadError: (error) => !isOpenCrateError(error, "TRANSIENT"),
      retry: this.#retry,
      replayable: true,
      resendUnsettled: true,
    });
  }

  /**
   * Names the version in the run record (compare-and-swap), so the other ranks can join it, with the token of its
   * claim (none for a number only a folder holds), so they can tell it from a claim made after it was deleted.
   */
  async #recordRunVersion(key: string, runId: string, token: string, claim: VersionClaim): Promise<void> {
    const version = claim.version;
    const body = JSON.stringify({ runId, token, state: "allocated", version, ...(claim.token === "" ? {} : { claimToken: claim.token }) });
    let replaced = false;
    await this.#retry.run("conditional", async () => {
      const current = await this.#backend.head(key).catch((error: unknown) => {
        if (isOpenCrateError(error, "NOT_FOUND")) return undefined;
        throw error;
      });
      // Only our own record is written: one deleted meanwhile (by hand, or a delete sent again) and created anew by
      // another process of the run is that process's to name.
      replaced = current === undefined;
      if (current === undefined) return;
      const record = await this.#readRunRecord(key, current.revision);
      replaced = record?.token !== token;
      if (replaced || record?.version === version) return; // an earlier attempt whose answer was lost did land
      await this.#backend.put(key, body, { mode: ifRevision(current.revision) });
    }, recordWriteFailure);
    if (replaced) {
      throw new TransientError(
        `The run record ${this.#backend.describe(key)} was removed or replaced while this process named version ` +
          `${version} in it; start this process again to join the version the run's record names.`,
        { path: this.#backend.describe(key) },
      );
    }
  }

  /**
   * Joins the version the run record names. A claim of that number with another token than the one the record
   * holds was made after the run's version was deleted (by another job's "new"): ALREADY_EXISTS, so the run's
   * processes never write into that job's version.
   *
   * Trap: a record without a claim token cannot be checked and is joined as before: one written before records
   * held the token, or one naming a number only a folder held (a folder written by another tool; "last" resumed
   * it). For the latter, a claim that turns up later proves nothing: one who races for that number keeps its claim
   * unused once it sees the folder (see allocateNew), so refusing it would fail the run for nothing.
   */
  async #joinRun(runId: string, record: RunVersionRecord & { version: number }, key: string): Promise<RunAllocation> {
    const { version } = record;
    const claim = await this.readClaim(version);
    if (claim !== undefined) {
      if (record.claimToken !== undefined && claim.token !== record.claimToken) {
        const claimWhere = this.#backend.describe(claimKey(this.#name, version));
        throw new AlreadyExistsError(
          `The record ${this.#backend.describe(key)} of run '${runId}' names version ${version}, but that version was ` +
            `deleted since and its number claimed again by another job (${claimWhere}` +
            `${claim.runId === undefined ? "" : `, run '${claim.runId}'`}); this process does not join that job's ` +
            "version. Start it with another run id, or delete the record to let the run decide its version again.",
          { path: this.#backend.describe(key) },
        );
      }
      return { claim, created: false, giveUp: undefined };
    }
    // The claim was deleted by hand but the run's folder is there: join the folder.
    const scan = await this.scanFolders();
    if (scan.folders.some((folder) => folder.version === version)) return { claim: folderClaim(version), created: false, giveUp: undefined };
    throw new CorruptDataError(
      `The run record ${this.#backend.describe(key)} names version ${version}, which has no claim and no folder at ` +
        `${this.#backend.describe(nameKey(this.#name))}.`,
      { path: this.#backend.describe(key) },
    );
  }

  /**
   * Waits for the run record to name a version and joins it; undefined when the record went away (its writer
   * failed); ALREADY_EXISTS when its writer gave the version up.
   */
  async #waitForRun(key: string, runId: string): Promise<RunAllocation | undefined> {
    const deadline = Date.now() + RUN_RECORD_WAIT_MS;
    for (let attempt = 1; Date.now() < deadline; attempt++) {
      const record = await this.#readRunRecord(key);
      if (record === undefined) return undefined;
      if (record.abandoned !== undefined) throw this.#abandonedRunError(runId, record.abandoned, key);
      if (record.version !== undefined) return this.#joinRun(runId, { ...record, version: record.version }, key);
      await this.#retry.wait(attempt);
    }
    throw new TransientError(
      `Waited ${RUN_RECORD_WAIT_MS / 1000} s for another rank to allocate the version in ${this.#backend.describe(key)}; ` +
        "if that rank died, delete the record and start again.",
      { path: this.#backend.describe(key) },
    );
  }

  /**
   * The run record, or undefined when there is none. It is written whole, create-only, with a token, so anything
   * else there (not an object, no token, a version that is no version number, a claim token that is no string) is
   * CORRUPT_DATA: waiting for it to name a version would only time out. Read at `revision` when given (another revision is PRECONDITION_FAILED).
   */
  async #readRunRecord(key: string, revision?: string): Promise<RunVersionRecord | undefined> {
    const where = this.#backend.describe(key);
    let record: unknown;
    try {
      record = JSON.parse(Buffer.from(await this.#backend.get(key, revision === undefined ? {} : { ifRevision: revision })).toString("utf8"));
    } catch (error) {
      if (isOpenCrateError(error, "NOT_FOUND")) return undefined;
      if (error instanceof SyntaxError) {
        throw new CorruptDataError(`The run record ${where} is not valid JSON.`, { path: where, cause: error });
      }
      throw error;
    }
    if (!isJsonObject(record) || typeof record.token !== "string") {
      throw new CorruptDataError(`The run record ${where} is not a JSON object with a token.`, { path: where });
    }
    const version = record.version;
    if (version !== undefined && !(Number.isSafeInteger(version) && (version as number) >= 0)) {
      throw new CorruptDataError(`The run record ${where} names version ${JSON.stringify(version)}, which is not a version number.`, {
        path: where,
      });
    }
    const claimToken = record.claimToken;
    if (claimToken !== undefined && typeof claimToken !== "string") {
      throw new CorruptDataError(`The run record ${where} holds a claim token that is not a string.`, { path: where });
    }
    if (record.state === "abandoned") return { token: record.token, abandoned: parseAbandoned(record.abandoned, where) };
    return { token: record.token, ...(typeof version === "number" ? { version } : {}), ...(claimToken === undefined ? {} : { claimToken }) };
  }

  /**
   * Writes the claim create-only, settled by its token (see #createSettled); "unknown" when it stays unsettled
   * after the policy's attempts. With `lossOnly` (the caller needs no stored claim), a backend that settles its
   * own conditional writes is taken at its word when the first send meets an existing claim: no read-back.
   */
  async #tryClaim(claim: VersionClaim, lossOnly = false): Promise<{ outcome: "won" | "lost" | "unknown"; stored?: VersionClaim | undefined }> {
    refuseBeyondMaxVersion(claim.version, this.#name, this.#backend.describe(nameKey(this.#name)));
    const key = claimKey(this.#name, claim.version);
    const body = `${JSON.stringify(claim, null, 2)}\n`;
    const trusted = lossOnly && this.#backend.capabilities.settlesConditionalWrites === true;
    const settled = await this.#createSettled(key, body, claim.token, "application/json", () => this.readClaim(claim.version), trusted);
    switch (settled.outcome) {
      case "written":
        return { outcome: "won" };
      case "taken":
        return { outcome: "lost", stored: settled.stored };
      case "failed":
        if (!isOpenCrateError(settled.error, "ALREADY_EXISTS") && !isOpenCrateError(settled.error, "TRANSIENT")) throw settled.error;
        return { outcome: "unknown" };
      case "unknown":
        return { outcome: "unknown" };
    }
  }

  async #readHint(): Promise<number | undefined> {
    try {
      const parsed = JSON.parse(Buffer.from(await this.#backend.get(latestHintKey(this.#name))).toString("utf8")) as {
        version?: unknown;
      };
      return typeof parsed.version === "number" && Number.isSafeInteger(parsed.version) ? parsed.version : undefined;
    } catch {
      return undefined; // the hint is advisory: missing, stale or unreadable costs a longer listing, never correctness
    }
  }

  /** Rewrites the hint at every HINT_EVERY-th number only: one write less for most setups. */
  async #writeHint(version: number): Promise<void> {
    if (version % HINT_EVERY !== 0) return;
    try {
      await this.#backend.put(latestHintKey(this.#name), JSON.stringify({ version }));
    } catch {
      // advisory only
    }
  }
}

/**
 * Throws NotSupportedError for a version above MAX_VERSION, before anything is written for it: its claim and run
 * records could not be read back. `where` is the name's location.
 */
export function refuseBeyondMaxVersion(version: number, name: string, where: string): void {
  if (version <= MAX_VERSION) return;
  throw new NotSupportedError(
    `Cannot run version ${version} of '${name}' at ${where}: opencrate claims and writes versions up to ${MAX_VERSION} ` +
      "only (its claims and run records name a version in 10 digits), and the versions there reach past that limit " +
      "(a folder another tool wrote). They can still be read (ls, pull, Snapshot.open); use another snapshot name for new runs.",
    { path: where },
  );
}

function newClaim(version: number, options: AllocateOptions): VersionClaim {
  return {
    version,
    tag: options.tag,
    runId: options.runId,
    host: hostname(),
    pid: process.pid,
    createdAt: new Date().toISOString(),
    token: randomUUID(),
  };
}

/** Stands in for the claim of a number that only a folder holds (written by another tool, or its claim deleted). */
export function folderClaim(version: number): VersionClaim {
  return { version, tag: undefined, runId: undefined, host: "", pid: 0, createdAt: "", token: "" };
}

/** Folder order of {@link VersionStore.listVersions}. */
function compareEntries(a: VersionEntry, b: VersionEntry): number {
  if (a.version !== b.version) {
    if (a.version === DEV_VERSION) return -1;
    if (b.version === DEV_VERSION) return 1;
    return a.version - b.version;
  }
  const rank = (entry: VersionEntry): number =>
    entry.claim !== undefined && entry.claim.tag === entry.tag ? 0 : entry.tag === undefined ? 1 : 2;
  return rank(a) - rank(b) || (a.folder < b.folder ? -1 : a.folder > b.folder ? 1 : 0);
}

/**
 * The folder `@<N>` and `@latest` open among a number's folders: the last in listing order, i.e. a sibling made
 * by resuming the version with another tag (or none) when there is one, since it was written after the folder the
 * version was created with. Undefined when no entry has that number.
 */
export function pickFolder(entries: readonly VersionEntry[], version: number): VersionEntry | undefined {
  let picked: VersionEntry | undefined;
  for (const entry of entries) if (entry.version === version) picked = entry;
  return picked;
}

/** The highest numbered version among the entries. */
export function highestNumber(entries: readonly VersionEntry[]): number | undefined {
  let highest: number | undefined;
  for (const entry of entries) {
    if (entry.version !== DEV_VERSION && (highest === undefined || entry.version > highest)) highest = entry.version;
  }
  return highest;
}

/** The distinct version numbers among the entries, ascending. */
export function numbersOf(entries: readonly VersionEntry[]): number[] {
  const numbers = new Set<number>();
  for (const entry of entries) if (entry.version !== DEV_VERSION) numbers.add(entry.version);
  return [...numbers].sort((a, b) => a - b);
}

/** A JSON object: not null, an array, a number or a string, which JSON.parse also returns. */
function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The version and folder an abandoned run record gives up; CORRUPT_DATA naming the record when it names none, or
 * a folder that is not one of that version.
 */
function parseAbandoned(abandoned: unknown, where: string): AbandonedFolder {
  if (isJsonObject(abandoned) && typeof abandoned.folder === "string") {
    const parsed = parseVersionFolderName(abandoned.folder);
    if (parsed !== undefined && parsed.version === abandoned.version) return { version: parsed.version, folder: abandoned.folder };
  }
  throw new CorruptDataError(`The run record ${where} is marked abandoned but does not name the version and folder it gives up.`, {
    path: where,
  });
}

function parseClaim(bytes: Uint8Array, where: string, expectedVersion: number): VersionClaim {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch (error) {
    throw new CorruptDataError(`The version claim ${where} is not valid JSON.`, { path: where, cause: error });
  }
  if (!isJsonObject(parsed)) {
    throw new CorruptDataError(`The version claim ${where} is not a JSON object.`, { path: where });
  }
  if (typeof parsed.version !== "number" || typeof parsed.token !== "string") {
    throw new CorruptDataError(`The version claim ${where} lacks a version number or token.`, { path: where });
  }
  if (parsed.version !== expectedVersion) {
    throw new CorruptDataError(
      `The version claim ${where} says version ${parsed.version}, but it is the claim of version ${expectedVersion}.`,
      { path: where },
    );
  }
  return {
    version: parsed.version,
    tag: typeof parsed.tag === "string" ? parsed.tag : undefined,
    runId: typeof parsed.runId === "string" ? parsed.runId : undefined,
    host: typeof parsed.host === "string" ? parsed.host : "",
    pid: typeof parsed.pid === "number" ? parsed.pid : 0,
    createdAt: typeof parsed.createdAt === "string" ? parsed.createdAt : "",
    token: parsed.token,
  };
}

/** How a compare-and-swap of a run or replace record failed, for the retry policy: a lost race is a conflict. */
function recordWriteFailure(error: unknown): FailureKind {
  return isOpenCrateError(error, "TRANSIENT") ? "transient" : isOpenCrateError(error, "PRECONDITION_FAILED") ? "conflict" : "final";
}
