/**
 * The run record: one small JSON object per run (per rank) saying how the run is doing or how it ended. It is
 * first written (`running`) a second after the run starts or at its first flush, whichever comes first (a run
 * that ends sooner writes only its final record), refreshed after log flushes (`lastSeen`, so a reader can call a
 * run whose `lastSeen` is old "stale": it died by SIGKILL or lost its machine), and rewritten once when it ends.
 */
import type { StorageBackend } from "../backends/backend.ts";
import { OVERWRITE } from "../backends/backend.ts";

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

export interface StartedRunRecord {
  readonly record: RunRecord;
  readonly written: boolean;
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
  /** The last write was {@link endProvisionally}'s: the run's end as it stood when the event loop ran dry. */
  #provisional = false;
  #written = false;
  /** Another writer goes on with the record: nothing more is written from here. */
  #handedOff = false;

  constructor(backend: StorageBackend, key: string, initial: RunRecord, clock: () => Date = () => new Date()) {
    this.#backend = backend;
    this.#key = key;
    this.#record = initial;
    this.#clock = clock;
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
    return { record: this.#record, written: this.#written };
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

  /** Writes the final status. Later calls do nothing. */
  end(ending: RunEnding): Promise<void> {
    if (this.#ended) return this.#chain;
    this.#ended = true;
    const stored = this.#record;
    if (this.#provisional && stored.status === ending.status && stored.exitCode === ending.exitCode && stored.signal === ending.signal) {
      // Already written so when the event loop ran dry; at `exit` a write could only be started anyway.
      return this.#chain;
    }
    this.#provisional = false;
    const now = this.#clock().toISOString();
    return this.#write({ ...ending, endedAt: now });
  }

  #write(patch: Partial<RunRecord>): Promise<void> {
    this.#written = true;
    const write = this.#chain.then(async () => {
      if (this.#handedOff) return;
      const now = this.#clock();
      this.#record = { ...this.#record, ...patch, lastSeen: now.toISOString() };
      this.#lastWrite = now.getTime();
      await this.#backend.put(this.#key, `${JSON.stringify(this.#record, null, 2)}\n`, {
        mode: OVERWRITE,
        contentType: "application/json",
      });
    });
    this.#chain = write.catch(() => {});
    return write;
  }
}
