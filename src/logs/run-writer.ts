/**
 * Everything one run stores about itself while it runs: its log objects and its run record. The same object works
 * in the log-writer thread (sink-worker.ts) and, for backends that thread cannot rebuild, in the main thread.
 */
import type { StorageBackend } from "../backends/backend.ts";
import { clock } from "../clock.ts";
import { LogObjectWriter } from "./log-object.ts";
import type { RunEnding, RunRecord, StartedRunRecord } from "./run-record.ts";
import { RunRecordWriter } from "./run-record.ts";
import type { StartedRunLog } from "./run-log.ts";

export interface RunWriterOptions {
  readonly logKey: string;
  readonly historyKey: string;
  readonly resume: boolean;
  readonly flushIntervalMs?: number;
  readonly recordKey: string;
  readonly record: RunRecord;
}

/** A started run that has logged nothing yet, as another writer (in another thread) goes on from it. */
export interface StartedRun {
  readonly log: StartedRunLog;
  readonly record: StartedRunRecord;
}

/** `lastSeen` is refreshed this often even when nothing is logged, so a quiet run does not look stale. */
const HEARTBEAT_MS = 60_000;
/**
 * The `running` record is written this long after the start (or at the first flush, if sooner): a run that ends
 * within it writes only its final record. A run killed by SIGKILL before then leaves no record, as it loses the
 * lines of its last flush interval.
 */
const FIRST_RECORD_DELAY_MS = 1_000;

export class RunWriter {
  readonly #logs: LogObjectWriter;
  readonly #record: RunRecordWriter;
  #heartbeat: NodeJS.Timeout | undefined;
  /** Cancels the timer of the first `running` record. */
  #cancelFirstRecord: () => void = () => {};
  #closing: Promise<void> | undefined;
  /** Flushes that stored lines so far. */
  #storedFlushes = 0;

  constructor(backend: StorageBackend, options: RunWriterOptions) {
    this.#record = new RunRecordWriter(backend, options.recordKey, options.record);
    this.#logs = new LogObjectWriter({
      backend,
      logKey: options.logKey,
      historyKey: options.historyKey,
      resume: options.resume,
      ...(options.flushIntervalMs === undefined ? {} : { flushIntervalMs: options.flushIntervalMs }),
      onStored: () => {
        this.#storedFlushes += 1;
        void this.#record.touch();
      },
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
    const before = this.#storedFlushes;
    await this.flush();
    if (this.#storedFlushes !== before) return;
    await this.#record.endProvisionally(ending);
  }

  /** Stores the last lines, then the final record (also when the lines could not be stored). Once. */
  close(ending: RunEnding): Promise<void> {
    this.#closing ??= this.#close(ending);
    return this.#closing;
  }

  async #close(ending: RunEnding): Promise<void> {
    this.#stopTimers();
    let failure: unknown;
    try {
      await this.#logs.close();
    } catch (error) {
      failure = error;
    }
    await this.#record.end(ending).catch((error: unknown) => {
      failure ??= error;
    });
    if (failure !== undefined) throw failure;
  }
}
