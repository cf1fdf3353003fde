/**
 * Everything one run stores about itself while it runs: its log objects and its run record. The same object works
 * in the log-writer thread (sink-worker.ts) and, for backends that thread cannot rebuild, in the main thread.
 */
import { writeSync } from "node:fs";
import type { StorageBackend } from "../backends/backend.ts";
import { clock } from "../clock.ts";
import { LogObjectWriter } from "./log-object.ts";
import type { RunEnding, RunRecord, StartedRunRecord } from "./run-record.ts";
import { RunRecordWriter } from "./run-record.ts";
import type { StartedRunLog } from "./run-log.ts";
import { type ClaimAtSetup, VersionDeletedMark } from "./version-deleted.ts";

export interface CloseOptions {
  /** The process is ending: nothing will try again after this close. */
  readonly final?: boolean;
}

export interface RunWriterOptions {
  readonly logKey: string;
  readonly historyKey: string;
  readonly resume: boolean;
  /** See LogObjectWriterOptions.createOnly. */
  readonly createOnly?: boolean;
  readonly flushIntervalMs?: number;
  /** See LogObjectWriterOptions.maxBufferedBytes. */
  readonly maxBufferedBytes?: number;
  readonly recordKey: string;
  readonly record: RunRecord;
  /** The run's VersionDeletedMark, shared by its threads (each writer of the run gets the same one). */
  readonly deletedMark?: SharedArrayBuffer;
  /** The version's claim at setup, when it has one (see VersionWatch). */
  readonly claim?: ClaimAtSetup | undefined;
}

/** A started run that has logged nothing yet, as another writer (in another thread) goes on from it. */
export interface StartedRun {
  readonly log: StartedRunLog;
  readonly record: StartedRunRecord;
}

/** `lastSeen` is refreshed this often even when nothing is logged, so a quiet run does not look stale. */
const HEARTBEAT_MS = 60_000;
/**
 * The `running` record is written this long after the start (or at the first flush or save, if sooner): a run that
 * ends within it writes only its final record. A run killed by SIGKILL before then leaves no record, as it loses the
 * lines of its last flush interval.
 */
const FIRST_RECORD_DELAY_MS = 1_000;

export class RunWriter {
  readonly #logs: LogObjectWriter;
  readonly #record: RunRecordWriter;
  #heartbeat: NodeJS.Timeout | undefined;
  /** Cancels the timer of the first `running` record. */
  #cancelFirstRecord: () => void = () => {};
  /** The close running, or the last one if it succeeded; undefined after a failed one (the next call tries again). */
  #closing: Promise<void> | undefined;
  /** Whether {@link #closing} is a final close. */
  #closingFinal = false;
  /** How the first close() said the run ended; later attempts end it so. */
  #closeEnding: RunEnding | undefined;
  /** The lines and the final record are stored. */
  #closed = false;
  /** Flushes that stored lines so far. */
  #storedFlushes = 0;
  /** stderr was told where the lines not stored are kept. */
  #toldKept = false;

  constructor(backend: StorageBackend, options: RunWriterOptions) {
    const mark = new VersionDeletedMark(options.deletedMark);
    const folder = backend.describe(options.logKey.slice(0, options.logKey.lastIndexOf("/")));
    this.#record = new RunRecordWriter(backend, options.recordKey, options.record, undefined, {
      mark,
      claim: options.claim,
      onDeleted: () => warnVersionDeleted(folder),
    });
    this.#logs = new LogObjectWriter({
      backend,
      logKey: options.logKey,
      historyKey: options.historyKey,
      resume: options.resume,
      ...(options.createOnly === true ? { createOnly: true } : {}),
      ...(options.flushIntervalMs === undefined ? {} : { flushIntervalMs: options.flushIntervalMs }),
      ...(options.maxBufferedBytes === undefined ? {} : { maxBufferedBytes: options.maxBufferedBytes }),
      onStored: () => {
        this.#storedFlushes += 1;
        void this.#record.touch();
      },
      versionDeleted: () => mark.isSet,
      // A record write finds out whether the version was deleted (its record gone, or its claim).
      onMissing: () => this.#record.touch(true),
    });
  }

  /** Where `.log` lives, for messages. */
  get path(): string {
    return this.#logs.path;
  }

  async start(): Promise<void> {
    await this.#logs.start();
    this.#startTimers();
  }

  /** A writer that goes on from a run another writer started ({@link handOff}), without writing anything. */
  static adopt(backend: StorageBackend, options: RunWriterOptions, started: StartedRun): RunWriter {
    const writer = new RunWriter(backend, options);
    writer.#logs.adoptStarted(started.log);
    writer.#record.adopt(started.record);
    writer.#startTimers();
    return writer;
  }

  /**
   * Stops this writer and returns what another writer needs to go on ({@link adopt}); only before the first line.
   * Record writes already begun may still be landing: wait for {@link settled} before the other writer writes.
   */
  handOff(): StartedRun {
    const log = this.#logs.startedState();
    this.#stopTimers();
    return { log, record: this.#record.handOff() };
  }

  /** Resolves once the record writes begun so far have landed or failed. */
  settled(): Promise<void> {
    return this.#record.settled();
  }

  #startTimers(): void {
    if (!this.#record.written) {
      this.#cancelFirstRecord = clock().setTimer(FIRST_RECORD_DELAY_MS, () => void this.#writeFirstRecord());
    }
    this.#startHeartbeat();
  }

  #startHeartbeat(): void {
    clearInterval(this.#heartbeat);
    this.#heartbeat = setInterval(() => void this.#record.touch(true), HEARTBEAT_MS);
    this.#heartbeat.unref();
  }

  #stopTimers(): void {
    clearInterval(this.#heartbeat);
    this.#cancelFirstRecord();
  }

  /** The `running` record, if nothing has written the record yet. */
  async #writeFirstRecord(): Promise<void> {
    this.#cancelFirstRecord();
    // The record is worth a warning, not a failed run: it is written again at the next flush and at the end.
    await this.#record.start().catch((error: unknown) => {
      const reason = error instanceof Error ? error.message : String(error);
      process.emitWarning(`Could not write the run record next to ${this.path}: ${reason}`, { code: "OPENCRATE_RUN_RECORD" });
    });
  }

  /** See RunSink.touch. */
  touch(): void {
    void this.#record.touch();
  }

  /** One or more file lines joined by "\n", without the trailing newline. */
  write(text: string): void {
    this.#logs.write(text);
  }

  /**
   * Stores the lines written so far, then, when that stored any, refreshes the record's `lastSeen`; the first flush
   * also writes the record if it has not been yet. A later flush with nothing to store does no I/O (the exit hooks
   * rely on it: `beforeExit` flushes until a round does none).
   */
  async flush(): Promise<void> {
    // After close() began (and failed, or still runs): storing the rest is that close's work.
    if (this.#closeEnding !== undefined) return this.close(this.#closeEnding);
    const before = this.#storedFlushes;
    await this.#logs.flush();
    if (this.#storedFlushes !== before) await this.#record.touch(true);
    else await this.#writeFirstRecord();
  }

  /**
   * For the main thread when the event loop runs dry (`beforeExit`): a flush, and once a flush has nothing left to
   * store, the record with `ending` (see RunRecordWriter.endProvisionally), since at `exit` this thread can only
   * start the final writes. Does no I/O once both are done, so `beforeExit` stops coming back.
   */
  async flushForExit(ending: RunEnding): Promise<void> {
    if (this.#closeEnding !== undefined) {
      // A close() that failed: tried again; while it fails, the record says how the run ends if the process ends
      // now (at `exit` the last try can only be started), unless a later try succeeds.
      const closeEnding = this.#closeEnding;
      await this.close(closeEnding).catch(async (error: unknown) => {
        await this.#record.endProvisionally(incomplete(closeEnding)).catch(() => {});
        throw error;
      });
      return;
    }
    const before = this.#storedFlushes;
    await this.flush();
    if (this.#storedFlushes !== before) return;
    await this.#record.endProvisionally(ending);
  }

  /**
   * Stores the last lines, then the final record with `ending`. When the lines cannot be stored, they stay queued
   * and the record is not ended (it stays `running`, refreshed by the heartbeat): a later call tries again (with the
   * ending of the first call), and resolves once the lines and the record are stored. With `final` (the process is
   * ending: nothing will try again), a failure still ends the record, `failed` rather than `finished` since the
   * run's log is incomplete (killed stays killed), before rejecting. Once it has succeeded, later calls do nothing.
   */
  close(ending: RunEnding, options: CloseOptions = {}): Promise<void> {
    this.#closeEnding ??= ending;
    const final = options.final === true;
    const running = this.#closing;
    if (running !== undefined && (this.#closingFinal || !final)) return running;
    // A final close asked while another runs waits for it, and tries again only if it failed.
    const closing = (running ?? Promise.resolve())
      .catch(() => {})
      .then(() => this.#close(this.#closeEnding ?? ending, final));
    this.#closing = closing;
    this.#closingFinal = final;
    closing.then(
      () => {},
      () => {
        // The next call tries again.
        if (this.#closing === closing) this.#closing = undefined;
      },
    );
    return closing;
  }

  /**
   * Ends the record now as a close whose lines could not be stored would (`failed` rather than `finished`), without
   * waiting for the lines: for the last moments of the process, while a store hangs. Never rejects.
   */
  endIncomplete(ending: RunEnding): Promise<void> {
    this.keepUnstored();
    return this.#record.end(incomplete(this.#closeEnding ?? ending)).catch(() => {});
  }

  /**
   * For the last moments of the process, when lines could not all be stored: those past the memory bound are in a
   * spool folder on local disk; every line not stored goes there, in order, and stderr says where (once).
   */
  keepUnstored(): void {
    const folder = this.#logs.keepUnstored();
    if (folder === undefined || this.#toldKept) return;
    this.#toldKept = true;
    // Straight to the file descriptor: at `exit`, and in the log-writer thread while the main thread waits for it,
    // nothing else would print it in time.
    try {
      writeSync(
        2,
        `opencrate: log lines of ${this.path} that could not be stored are kept in ${folder}: ` +
          `append its files, in name order, to the log (cat ${folder}/*.log).\n`,
      );
    } catch {
      // Nowhere left to say it.
    }
  }

  /** True once a close has begun (it may have failed and be tried again). */
  get closeBegun(): boolean {
    return this.#closeEnding !== undefined;
  }

  async #close(ending: RunEnding, final: boolean): Promise<void> {
    if (this.#closed) return;
    this.#stopTimers();
    try {
      await this.#logs.close();
    } catch (error) {
      if (!final) {
        // The run is not over while its lines wait: its record says so (written now if it was not yet).
        this.#startHeartbeat();
        await this.#record.start().catch(() => {});
        throw error;
      }
      this.keepUnstored();
      await this.#record.end(incomplete(ending)).catch(() => {});
      throw error;
    }
    await this.#record.end(ending);
    this.#closed = true;
  }
}

function warnVersionDeleted(folder: string): void {
  process.emitWarning(
    `${folder} was deleted by another process (reset()) while this run was writing it, and its number may hold a new ` +
      "run's version by now: this run writes nothing more there. Its later log lines are not stored (the console " +
      "still shows them), and its saves fail with PRECONDITION_FAILED.",
    { code: "OPENCRATE_VERSION_DELETED" },
  );
}

/** How a run whose last lines could not be stored ended: `failed` rather than `finished` (killed stays killed). */
function incomplete(ending: RunEnding): RunEnding {
  return ending.status === "finished" ? { ...ending, status: "failed" } : ending;
}
