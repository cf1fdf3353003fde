/**
 * One run's log objects: `<name>.log` (this run's lines; see run-log.ts) and, for a resumed run,
 * `<name>.history.log` (every run's lines, appended to by compare-and-swap; see history-append.ts).
 *
 * Lines are buffered in memory and flushed on an interval, past a size, on `flush()` and on `close()`. Flushes run
 * one at a time; lines written during a flush go into the next one. A failed flush loses nothing: lines stay
 * queued until a write is known to have landed. Memory for lines not yet stored is bounded: past the bound they
 * wait in a spool on local disk (pending-lines.ts), and a flush stores them from there, in order, lap after lap.
 *
 * Cost of a flush, on a backend with `append` (memory, local disk, S3): the new lines, once per object, and
 * memory for the lines not yet stored. Without `append` (GCS), `.log` is rewritten whole and its body kept in
 * memory for the run, and the history is read and rewritten (more under contention).
 */
import { randomBytes } from "node:crypto";
import type { StorageBackend } from "../backends/backend.ts";
import { CREATE_ONLY } from "../backends/backend.ts";
import { objectExists } from "../backends/presence.ts";
import { enforcesConditions } from "../backends/conditions.ts";
import { clock } from "../clock.ts";
import { isOpenCrateError, NotSupportedError } from "../errors.ts";
import type { AppendBatch } from "./history-append.ts";
import { appendBatches, TEXT_CONTENT_TYPE } from "./history-append.ts";
import { MAX_JOINED_CHARS } from "./bounded-join.ts";
import { completeHistory } from "./history-recovery.ts";
import { PendingLines } from "./pending-lines.ts";
import { retryPolicyOf, type RetryPolicy } from "../backends/retry-policy.ts";
import { type RunLog, runLogFor, type StartedRunLog } from "./run-log.ts";
import type { LogSink } from "./sink.ts";

export interface LogObjectWriterOptions {
  readonly backend: StorageBackend;
  /** `<name>.log`: this run's lines. */
  readonly logKey: string;
  /** `<name>.history.log`: every run's lines; used only when `resume` is true. */
  readonly historyKey: string;
  /** This run continues an existing version, so it keeps a history. */
  readonly resume: boolean;
  /**
   * A version this run just took ("new"), not resumed: `.log` is created only where there is none, and one found
   * there (another writer took the folder meanwhile) fails the start ALREADY_EXISTS, left as it is.
   */
  readonly createOnly?: boolean;
  /** Longest time a written line waits before it is stored. Default 1000 ms. */
  readonly flushIntervalMs?: number;
  /** Buffered bytes that trigger a flush at once. Default 256 KiB. */
  readonly flushBytes?: number;
  /** Retries of the history append. Default: the backend's policy. */
  readonly appendRetry?: RetryPolicy;
  /** Longest text one batch of lines is joined into (more lines make several batches). Default MAX_JOINED_CHARS. */
  readonly maxBatchChars?: number;
  /** Called after each flush that stored lines (the run record refreshes its `lastSeen` from here). */
  readonly onStored?: () => void;
  /** Whether the run's version was found deleted under it: nothing is written any more, and lines are dropped. */
  readonly versionDeleted?: () => boolean;
  /**
   * Called when a flush finds `.log` taken by another writer or gone, or the history gone, before it says so or
   * creates the history again: the run looks whether its version was deleted (then {@link versionDeleted} says so).
   */
  readonly onMissing?: () => Promise<void>;
  /** Most bytes of lines not yet stored kept in memory; past it they wait on local disk. Default 64 MiB. */
  readonly maxBufferedBytes?: number;
  /** Where the spool folder for lines past `maxBufferedBytes` is made. Default `os.tmpdir()`. */
  readonly spoolParent?: string;
}

const DEFAULT_FLUSH_INTERVAL_MS = 1000;
const DEFAULT_FLUSH_BYTES = 256 * 1024;
const SEED_TRANSIENT_ATTEMPTS = 4;

type WriterState = "created" | "starting" | "started" | "closed";

export class LogObjectWriter implements LogSink {
  readonly #backend: StorageBackend;
  readonly #logKey: string;
  readonly #historyKey: string;
  readonly #resume: boolean;
  readonly #createOnly: boolean;
  readonly #flushIntervalMs: number;
  readonly #flushBytes: number;
  readonly #appendRetry: RetryPolicy;
  readonly #runLog: RunLog;
  readonly #onStored: (() => void) | undefined;
  readonly #versionDeleted: () => boolean;
  readonly #onMissing: () => Promise<void>;
  readonly #maxBatchChars: number;

  #state: WriterState = "created";
  /** start() succeeded: the history (when resumed) exists, so `.log` may be written. */
  #started = false;
  #starting: Promise<void> | undefined;
  /** Lines written and not yet stored. */
  readonly #pending: PendingLines;
  #warnedDropped = false;
  /** Batches not yet known to be in the history object, oldest first. */
  #historyQueue: AppendBatch[] = [];
  /** Cancels the armed flush timer. */
  #timer: (() => void) | undefined;
  /** The flush now running (or last run); flushes are chained so only one runs at a time. */
  #flushChain: Promise<void> = Promise.resolve();
  /** A flush that is queued behind the running one and has not started yet; later calls share it. */
  #queuedFlush: Promise<void> | undefined;
  #reportedBackgroundFailure = false;
  #droppedAfterClose = 0;
  /** `.log` was found taken by another writer or gone: "found" until the flush that found it has looked why. */
  #logLost: "no" | "found" | "told" = "no";

  constructor(options: LogObjectWriterOptions) {
    this.#backend = options.backend;
    this.#logKey = options.logKey;
    this.#historyKey = options.historyKey;
    this.#resume = options.resume;
    this.#createOnly = options.createOnly === true;
    this.#flushIntervalMs = Math.max(0, options.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS);
    this.#flushBytes = Math.max(1, options.flushBytes ?? DEFAULT_FLUSH_BYTES);
    this.#appendRetry = options.appendRetry ?? retryPolicyOf(options.backend);
    this.#runLog = runLogFor(this.#backend, this.#logKey, () => {
      this.#logLost = "found";
    });
    this.#onStored = options.onStored;
    this.#versionDeleted = options.versionDeleted ?? (() => false);
    this.#onMissing = options.onMissing ?? (async () => {});
    this.#maxBatchChars = Math.max(1, options.maxBatchChars ?? MAX_JOINED_CHARS);
    this.#pending = new PendingLines({
      ...(options.maxBufferedBytes === undefined ? {} : { maxBufferedBytes: options.maxBufferedBytes }),
      ...(options.spoolParent === undefined ? {} : { spoolParent: options.spoolParent }),
      label: spoolLabel(options.logKey),
      onDropped: (lines, reason) => this.#warnDropped(lines, reason),
    });
  }

  /** Bytes of lines not yet stored that are held in memory (at most `maxBufferedBytes`, but for a longer line). */
  get bufferedBytes(): number {
    return this.#pending.bufferedBytes;
  }

  /** The folder where lines past `maxBufferedBytes` wait, while there is one. */
  get spoolPath(): string | undefined {
    return this.#pending.spoolPath;
  }

  /**
   * For the last moments of the process, after the store failed: puts every line not stored into the spool folder,
   * in order, also when they all fitted in memory, and returns the folder (undefined when no line waits, or none
   * could be written there). Once the version was found deleted, the lines are dropped instead, spool folder and all.
   */
  keepUnstored(): string | undefined {
    if (this.#dropIfDeleted()) return undefined;
    return this.#pending.keep();
  }

  /** Where `.log` lives, for messages. */
  get path(): string {
    return this.#backend.describe(this.#logKey);
  }

  /**
   * Prepares the objects; call it before the first flush. For a resumed run, makes sure the history exists first,
   * seeded with the previous run's `.log`, and holds every line of that `.log`; then writes an empty `.log` (so the
   * folder exists on local disk).
   */
  start(): Promise<void> {
    this.#starting ??= this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    if (this.#state !== "created") return;
    if (this.#resume && !enforcesConditions(this.#backend)) {
      throw new NotSupportedError(
        `Cannot keep a history at ${this.#backend.describe(this.#historyKey)}: the store does not enforce ` +
          `create-only and compare-and-swap writes, so concurrent runs could lose lines.`,
        { path: this.#backend.describe(this.#historyKey) },
      );
    }
    this.#state = "starting";
    try {
      // A history seeded from `.log` holds it, but a `.log` cut by a crash mid-append leaves its last line unfinished.
      if (this.#resume) await this.#completeHistory((await this.#seedHistory()) ? undefined : this.#logKey);
      await this.#runLog.start(this.#resume ? "replace" : this.#createOnly ? "create-only" : "create");
    } catch (error) {
      if (this.#state === "starting") this.#state = "created";
      this.#starting = undefined; // start() may be tried again
      throw error;
    }
    this.#started = true;
    if (this.#state === "starting") this.#state = "started";
    if (this.#pending.freshBytes >= this.#flushBytes) this.#flushInBackground();
    else if (this.#pending.waitingBytes > 0) this.#armTimer();
  }

  /**
   * Where the started objects stand, for another writer to go on from ({@link adoptStarted}). Only a started
   * writer that was never given a line has such a state: lines in flight would be stored twice or lost.
   */
  startedState(): StartedRunLog {
    if (!this.#started || this.#pending.acceptedBytes > this.#pending.settledBytes || this.#historyQueue.length > 0) {
      throw new Error(`the log at ${this.path} can be handed over only once started and before its first line`);
    }
    return this.#runLog.startedState();
  }

  /** Goes on from objects another writer started (its {@link startedState}), instead of `start()`. */
  adoptStarted(state: StartedRunLog): void {
    if (this.#state !== "created") throw new Error(`the log at ${this.path} is already started`);
    this.#runLog.adopt(state);
    this.#starting = Promise.resolve();
    this.#started = true;
    this.#state = "started";
  }

  /**
   * Creates the history, create-only, from the `.log` as it is now (empty when there is none), unless it exists.
   * True when this call created it (from `.log` as it is, so it holds `.log` whole).
   *
   * Why this is safe with several resumers at once: every resumer creates (or finds) the history BEFORE it first
   * writes `.log`. So a resumer that reads a `.log` already replaced by another resumer reads it after that other
   * resumer's create succeeded, and its own create fails with ALREADY_EXISTS, which we accept. The one create that
   * succeeds therefore always holds the `.log` of the run before all of them; later runs find the history and
   * only append. A write with a lost answer is resolved by looking again (head) rather than by retrying blindly.
   */
  async #seedHistory(): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      try {
        if (await objectExists(this.#backend, this.#historyKey)) return false;
        await this.#createHistoryFromLog();
        return true;
      } catch (error) {
        if (isOpenCrateError(error, "ALREADY_EXISTS")) return false;
        if (!isOpenCrateError(error, "TRANSIENT") || attempt >= SEED_TRANSIENT_ATTEMPTS) throw error;
      }
    }
  }

  /**
   * An existing history may lack lines of `.log` (history-recovery.ts): a history append of the previous run failed
   * and that run ended before it stored them, or another tool wrote the history. Appends them, with a warning.
   */
  async #completeHistory(logKey: string | undefined): Promise<void> {
    const { recovered } = await completeHistory(this.#backend, this.#historyKey, logKey, this.#appendRetry);
    if (recovered.byteLength === 0) return;
    let lines = 0;
    for (const byte of recovered) if (byte === 0x0a) lines += 1;
    if (recovered[recovered.byteLength - 1] !== 0x0a) lines += 1;
    process.emitWarning(
      `${this.#backend.describe(this.#historyKey)} lacked ${lines} line(s) (${recovered.byteLength} bytes) of ` +
        `${this.path}, the previous run's log; they were appended to it before this run replaced ${this.path}.`,
      { code: "OPENCRATE_LOG_RECOVERED" },
    );
  }

  write(line: string): void {
    if (this.#versionDeleted()) return;
    if (this.#state === "closed") {
      this.#warnDroppedAfterClose();
      return;
    }
    const text = `${line}\n`;
    this.#pending.push(text, Buffer.byteLength(text));
    if (this.#state !== "started") return;
    if (this.#pending.freshBytes >= this.#flushBytes) this.#flushInBackground();
    else this.#armTimer();
  }

  /**
   * Stores every line written so far (the history, then `.log`). Rejects when a write failed; the lines stay
   * queued for the next flush. Before `start()` this stores nothing.
   */
  flush(): Promise<void> {
    if (this.#queuedFlush !== undefined) return this.#queuedFlush;
    const flush = this.#flushChain.then(() => {
      this.#queuedFlush = undefined;
      return this.#flushOnce();
    });
    this.#queuedFlush = flush;
    this.#flushChain = flush.catch(() => {});
    return flush;
  }

  /** Flushes and stops the timer. Lines written afterwards are dropped (with one process warning). A failed close
   * can be retried with `flush()`. */
  async close(): Promise<void> {
    if (this.#state === "created" || this.#state === "starting") await this.#starting?.catch(() => {});
    this.#state = "closed";
    this.#clearTimer();
    await this.flush();
  }

  /** Stores the lines written so far: as many laps as the spool needs (each as much as memory may hold). */
  async #flushOnce(): Promise<void> {
    if (!this.#started) return; // not started (or closed before it ever started): nothing to write to yet
    this.#clearTimer();
    if (this.#dropIfDeleted()) return;
    const target = this.#pending.mark;
    let stored = false;
    for (;;) {
      const cut = this.#cutBatch();
      await this.#storeQueued();
      if (this.#dropIfDeleted()) return;
      const storedNow = this.#pending.stored();
      stored ||= storedNow;
      if (this.#pending.settledUpTo(target) || (!cut && !storedNow)) break;
    }
    this.#reportedBackgroundFailure = false;
    if (stored) this.#onStored?.();
  }

  /**
   * Stores the batches queued: the history, then `.log`. Rejects when either failed (they stay queued); returns
   * without writing more once the version is found deleted (the caller drops the lines).
   */
  async #storeQueued(): Promise<void> {
    const failures: unknown[] = [];
    // The history first: the next resumed run replaces `.log`, so a line that reached `.log` but not the history
    // would be lost for good if this process died between the two writes. The other way round a line is in the
    // history a moment before `.log` shows it, and a death there loses nothing (the history keeps it).
    if (this.#historyQueue.length > 0) {
      const batches = this.#historyQueue.slice();
      try {
        await this.#appendHistory(batches);
        this.#historyQueue.splice(0, batches.length);
      } catch (error) {
        failures.push(error);
      }
      if (this.#versionDeleted()) return;
    }
    // Also when the history append failed: `.log` then shows the lines at once (they stay queued for the history).
    try {
      await this.#runLog.store();
    } catch (error) {
      failures.push(error);
    }
    if (this.#logLost === "found") {
      this.#logLost = "told";
      await this.#onMissing();
      if (this.#versionDeleted()) return;
      this.#warnReplaced();
    }
    if (failures.length > 0) {
      if (this.#state === "started") this.#armTimer();
      throw failures[0];
    }
  }

  /**
   * Appends to the history, which a started resumed run has made sure exists: gone, it was deleted with the version
   * (then nothing is written) or by another process emptying the folder (then it is created again, as before).
   */
  async #appendHistory(batches: readonly AppendBatch[]): Promise<void> {
    if ((await appendBatches(this.#backend, this.#historyKey, batches, this.#appendRetry, { create: false })) === "appended") return;
    await this.#onMissing();
    if (this.#versionDeleted()) return;
    await appendBatches(this.#backend, this.#historyKey, batches, this.#appendRetry);
  }

  /**
   * Once the version was found deleted: the lines kept (in memory and in the spool, whose folder goes) and those to
   * come are dropped (the run said so once).
   */
  #dropIfDeleted(): boolean {
    if (!this.#versionDeleted()) return false;
    this.#clearTimer();
    this.#pending.discard();
    this.#historyQueue = [];
    return true;
  }

  /** Moves the next lines into this run's body and, on a resumed run, into new history batches. False when none. */
  #cutBatch(): boolean {
    const batches = this.#pending.cut(this.#maxBatchChars);
    for (const bytes of batches) {
      this.#runLog.add(bytes);
      if (this.#resume) this.#historyQueue.push({ id: randomBytes(8).toString("hex"), bytes });
    }
    return batches.length > 0;
  }

  #flushInBackground(): void {
    if (this.#queuedFlush !== undefined) return; // one is already waiting and will take these lines
    this.flush().catch((error: unknown) => this.#reportBackgroundFailure(error));
  }

  #armTimer(): void {
    if (this.#timer !== undefined || this.#state !== "started") return;
    this.#timer = clock().setTimer(this.#flushIntervalMs, () => {
      this.#timer = undefined;
      this.#flushInBackground();
    });
  }

  #clearTimer(): void {
    if (this.#timer === undefined) return;
    this.#timer();
    this.#timer = undefined;
  }

  /** A background flush has no caller to reject; say so once per failure streak (lines are kept and retried). */
  #reportBackgroundFailure(error: unknown): void {
    if (this.#reportedBackgroundFailure) return;
    this.#reportedBackgroundFailure = true;
    const reason = error instanceof Error ? error.message : String(error);
    process.emitWarning(`Could not store log lines at ${this.path} (kept, will retry): ${reason}`, {
      code: "OPENCRATE_LOG_FLUSH",
    });
  }

  #warnReplaced(): void {
    const fate = this.#resume ? "go only to the history" : "are not stored";
    process.emitWarning(
      `${this.path} was replaced by another run of this version, which owns it now; this run's further lines ${fate}.`,
      { code: "OPENCRATE_LOG_REPLACED" },
    );
  }

  /** Once per run: lines are lost only when neither the store nor the local disk could take them. */
  #warnDropped(lines: number, reason: string): void {
    if (this.#warnedDropped) return;
    this.#warnedDropped = true;
    process.emitWarning(
      `${lines} log line(s) for ${this.path} were dropped: the store could not take them and they could not be kept on local disk either (${reason}). ` +
        "A line in the log says where (and how many, in all, at that place).",
      { code: "OPENCRATE_LOG_DROPPED" },
    );
  }

  #warnDroppedAfterClose(): void {
    if (this.#droppedAfterClose++ > 0) return;
    process.emitWarning(`A log line arrived after the log at ${this.path} was closed; it was not stored.`, {
      code: "OPENCRATE_LOG_CLOSED",
    });
  }

  /** A server-side create-only copy where the store enforces it; otherwise read `.log` and create from it. */
  async #createHistoryFromLog(): Promise<void> {
    if (this.#backend.capabilities.copyCreateOnly) {
      try {
        await this.#backend.copy(this.#logKey, this.#historyKey, { mode: CREATE_ONLY });
        return;
      } catch (error) {
        if (!isOpenCrateError(error, "NOT_FOUND")) throw error;
      }
    }
    const previous = await this.#readOrEmpty(this.#logKey);
    await this.#backend.put(this.#historyKey, previous, { mode: CREATE_ONLY, contentType: TEXT_CONTENT_TYPE });
  }

  async #readOrEmpty(key: string): Promise<Uint8Array> {
    try {
      return await this.#backend.get(key);
    } catch (error) {
      if (isOpenCrateError(error, "NOT_FOUND")) return new Uint8Array(0);
      throw error;
    }
  }
}

/** A spool folder's name part from the `.log` key: its characters that are safe in a file name, the last 60. */
function spoolLabel(logKey: string): string {
  return logKey.replace(/\.log$/, "").replace(/[^A-Za-z0-9._-]+/g, "_").slice(-60);
}
