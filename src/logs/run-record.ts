/**
 * The run record: one small JSON object per run (per rank) saying how the run is doing or how it ended. It is
 * first written (`running`) a second after the run starts or at its first flush or save, whichever comes first (a
 * run that ends sooner writes only its final record), refreshed after log flushes and saves (`lastSeen`, so a
 * reader can call a run whose `lastSeen` is old "stale": it died by SIGKILL or lost its machine), and rewritten
 * once when it ends.
 *
 * Only its run writes a record (its key is the run's own), and each write names what the last one left: the first
 * is create-only, the others name the revision the one before got. So a write whose request reaches the store late,
 * after newer ones (a `running` record after the final one), fails its condition instead of putting an older
 * record back. A write that fails its condition met an earlier write of this run that landed with its answer lost:
 * the record is looked at again and written under what is there now.
 *
 * A record this run wrote that is gone was deleted with its version (`reset()` in another process): it is not
 * written again, since the number may hold a new run's version by now, and the run is told (VersionWatch). So is a
 * first record that lands after the version's claim went or changed; that record is deleted again.
 */
import type { StorageBackend, WriteMode } from "../backends/backend.ts";
import { CREATE_ONLY, ifRevision, OVERWRITE } from "../backends/backend.ts";
import { deleteAtRevision } from "../backends/delete-at-revision.ts";
import { headIfPresent } from "../backends/presence.ts";
import { enforcesConditions, lostCondition } from "../backends/conditions.ts";
import { isOpenCrateError } from "../errors.ts";
import { type ClaimAtSetup, VersionDeletedMark } from "./version-deleted.ts";

export type RunStatus = "running" | "finished" | "failed" | "killed";

/** How a run ended: by an exit code (0 finished, else failed) or by a signal (killed). */
export interface RunEnding {
  readonly status: Exclude<RunStatus, "running">;
  readonly exitCode: number | null;
  readonly signal: string | null;
}

export interface GitState {
  readonly commit: string;
  /** Whether tracked files differ from the commit; null when that could not be told in time. */
  readonly dirty: boolean | null;
}

export interface RunRecord {
  readonly status: RunStatus;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly startedAt: string;
  readonly endedAt: string | null;
  readonly lastSeen: string;
  readonly host: string;
  readonly pid: number;
  readonly runId: string | null;
  readonly rank: number | null;
  /** `process.version` of the run. */
  readonly node: string;
  readonly argv: readonly string[];
  /** Null when the working folder is not a git checkout (or git could not be read). */
  readonly git: GitState | null;
  readonly version: number;
  /** The folder the run wrote: `v3` or `v3:baseline`. */
  readonly versionName: string;
  /** The run's log object, relative to the version folder. */
  readonly log: string;
}

/** The ending Node gives a process that exits with `code`. */
export function endingForExitCode(code: number): RunEnding {
  return { status: code === 0 ? "finished" : "failed", exitCode: code, signal: null };
}

export function endingForSignal(signal: NodeJS.Signals): RunEnding {
  return { status: "killed", exitCode: null, signal };
}

/** A record read back from storage, or undefined when `value` is not one. */
export function parseRunRecord(value: unknown): RunRecord | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const record = value as Partial<Record<keyof RunRecord, unknown>>;
  const statuses: readonly unknown[] = ["running", "finished", "failed", "killed"];
  if (!statuses.includes(record.status) || typeof record.startedAt !== "string" || typeof record.version !== "number") {
    return undefined;
  }
  return value as RunRecord;
}

const MIN_REFRESH_GAP_MS = 5_000;
/** Writes of one record after finding it changed under the revision named. */
const WRITE_ATTEMPTS = 3;

export interface StartedRunRecord {
  readonly record: RunRecord;
  readonly written: boolean;
  /** The revision the last write known to have landed left; undefined when none did (or the store has no
   * conditional writes). */
  readonly revision: string | undefined;
  /** The version's claim was found still the run's after a write had landed. */
  readonly claimChecked: boolean;
}

/** How a run's record writer finds out that the run's version was deleted, and says so. */
export interface VersionWatch {
  /** Set once the version is found deleted (shared with the run's other thread); nothing is written after that. */
  readonly mark?: VersionDeletedMark;
  /** The version's claim at setup: a first record landing after it went or changed is withdrawn. */
  readonly claim?: ClaimAtSetup | undefined;
  /** Called once, by the writer that set the mark. */
  readonly onDeleted?: () => void;
}

/**
 * Writes one run's record. Writes go one at a time, in order; the end is written once and nothing after it.
 * `clock` is injectable so tests need no sleeps.
 */
export class RunRecordWriter {
  readonly #backend: StorageBackend;
  readonly #key: string;
  readonly #clock: () => Date;
  #record: RunRecord;
  #chain: Promise<void> = Promise.resolve();
  #lastWrite = 0;
  #ended = false;
  /** The final write, once begun; undefined again after it failed. */
  #ending: Promise<void> | undefined;
  /** The last write was {@link endProvisionally}'s: the run's end as it stood when the event loop ran dry. */
  #provisional = false;
  #written = false;
  /** What the last write known to have landed left (see {@link StartedRunRecord}). */
  #revision: string | undefined;
  /** Another writer goes on with the record: nothing more is written from here. */
  #handedOff = false;
  readonly #mark: VersionDeletedMark;
  readonly #watch: VersionWatch;
  #claimChecked = false;

  constructor(backend: StorageBackend, key: string, initial: RunRecord, clock: () => Date = () => new Date(), watch: VersionWatch = {}) {
    this.#backend = backend;
    this.#key = key;
    this.#record = initial;
    this.#clock = clock;
    this.#watch = watch;
    this.#mark = watch.mark ?? new VersionDeletedMark();
  }

  get record(): RunRecord {
    return this.#record;
  }

  /**
   * Stops this writer (writes already sent still land: wait for {@link settled}) and returns the record as last
   * written or to be written, and whether a write of it has begun, for another writer to go on from.
   */
  handOff(): StartedRunRecord {
    this.#handedOff = true;
    return { record: this.#record, written: this.#written, revision: this.#revision, claimChecked: this.#claimChecked };
  }

  /** Whether a write of the record has begun. */
  get written(): boolean {
    return this.#written;
  }

  /** Resolves once the writes begun so far have landed or failed. */
  settled(): Promise<void> {
    return this.#chain;
  }

  /** Goes on from another writer's {@link handOff}: its record, and no `running` write again if it wrote one. */
  adopt(state: StartedRunRecord): void {
    this.#record = state.record;
    this.#written = state.written;
    this.#revision = state.revision;
    this.#claimChecked = state.claimChecked;
  }

  /** Writes the `running` record unless a write of the record has already begun. */
  start(): Promise<void> {
    if (this.#written) return this.#chain;
    return this.#write({});
  }

  /** Refreshes `lastSeen` (at most every few seconds unless `force`). Never rejects: the record is best effort. */
  touch(force = false): Promise<void> {
    if (this.#ended) return Promise.resolve();
    if (this.#provisional) {
      // The run went on after its provisional end: it is running again.
      this.#provisional = false;
      return this.#write({ status: "running", exitCode: null, signal: null, endedAt: null }).catch(() => {});
    }
    if (!force && this.#clock().getTime() - this.#lastWrite < MIN_REFRESH_GAP_MS) return Promise.resolve();
    return this.#write({}).catch(() => {});
  }

  /**
   * Writes `ending` as the run's end without ending this writer: for a writer in the main thread when the event
   * loop runs dry, since at `exit` its writes could only be started. The next {@link touch} (the run went on after
   * all) writes it back as running; {@link end} still writes the final record. Once until then.
   */
  endProvisionally(ending: RunEnding): Promise<void> {
    if (this.#ended || this.#provisional) return this.#chain;
    this.#provisional = true;
    return this.#write({ ...ending, endedAt: this.#clock().toISOString() });
  }

  /** Writes the final status. Once it has landed, later calls do nothing; after a failed write, a call tries again. */
  end(ending: RunEnding): Promise<void> {
    if (this.#ending !== undefined) return this.#ending;
    this.#ended = true;
    const stored = this.#record;
    if (this.#provisional && stored.status === ending.status && stored.exitCode === ending.exitCode && stored.signal === ending.signal) {
      // Already written so when the event loop ran dry; at `exit` a write could only be started anyway.
      this.#ending = this.#chain;
      return this.#ending;
    }
    this.#provisional = false;
    const now = this.#clock().toISOString();
    const write = this.#write({ ...ending, endedAt: now });
    this.#ending = write;
    write.catch(() => {
      if (this.#ending === write) this.#ending = undefined;
    });
    return write;
  }

  #write(patch: Partial<RunRecord>): Promise<void> {
    this.#written = true;
    const write = this.#chain.then(async () => {
      if (this.#handedOff || this.#mark.isSet) return;
      const now = this.#clock();
      this.#record = { ...this.#record, ...patch, lastSeen: now.toISOString() };
      this.#lastWrite = now.getTime();
      await this.#put(`${JSON.stringify(this.#record, null, 2)}\n`);
    });
    this.#chain = write.catch(() => {});
    return write;
  }

  /** Writes `body` under the revision last seen (create-only before any), looking again when that is stale. */
  async #put(body: string): Promise<void> {
    if (!enforcesConditions(this.#backend)) {
      await this.#backend.put(this.#key, body, { mode: OVERWRITE, contentType: "application/json" });
      await this.#checkClaim();
      return;
    }
    for (let attempt = 1; ; attempt++) {
      const mode: WriteMode = this.#revision === undefined ? CREATE_ONLY : ifRevision(this.#revision);
      try {
        this.#revision = (await this.#backend.put(this.#key, body, { mode, contentType: "application/json" })).revision;
        break;
      } catch (error) {
        if (!lostCondition(error) || attempt >= WRITE_ATTEMPTS) throw error;
      }
      // Handed over meanwhile: the record is the other writer's now, and its write must not be overwritten.
      if (this.#handedOff) return;
      const current = await headIfPresent(this.#backend, this.#key);
      if (current === undefined && this.#revision !== undefined) {
        this.#versionDeleted();
        return;
      }
      this.#revision = current?.revision;
    }
    await this.#checkClaim();
  }

  /**
   * Once a write has landed: whether the version's claim is still the one the run set up with. A claim gone or
   * changed means the version was deleted before the record landed (the record went with it, or landed after in
   * whatever holds the number now): the record is deleted again. A claim that cannot be read is looked at after the
   * next write.
   */
  async #checkClaim(): Promise<void> {
    const claim = this.#watch.claim;
    if (claim === undefined || this.#claimChecked) return;
    let holds: boolean;
    try {
      holds = await claimHolds(this.#backend, claim);
    } catch {
      return;
    }
    this.#claimChecked = true;
    if (holds) return;
    const withdraw = this.#revision === undefined ? this.#backend.delete(this.#key) : deleteAtRevision(this.#backend, this.#key, this.#revision);
    await withdraw.catch(() => {});
    this.#versionDeleted();
  }

  #versionDeleted(): void {
    if (this.#mark.set()) this.#watch.onDeleted?.();
  }
}

/** Whether the claim at `claim.key` still holds `claim.token`; one that is not a claim object is not judged here. */
async function claimHolds(backend: StorageBackend, claim: ClaimAtSetup): Promise<boolean> {
  let bytes: Uint8Array;
  try {
    bytes = await backend.get(claim.key);
  } catch (error) {
    if (isOpenCrateError(error, "NOT_FOUND")) return false;
    throw error;
  }
  let stored: unknown;
  try {
    stored = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch {
    return true;
  }
  const token = typeof stored === "object" && stored !== null ? (stored as { token?: unknown }).token : undefined;
  return typeof token !== "string" || token === claim.token;
}
