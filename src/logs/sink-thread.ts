/**
 * A run's log sink whose writing happens in the process's log-writer thread (writer-thread.ts). Log calls stay cheap: lines are
 * batched here and handed over on the next turn of the event loop (or at once past a batch size). What makes it
 * crash-safe is `closeSync`: at `exit` (also after `process.exit()` and uncaught errors, when no asynchronous work
 * can run any more) it hands over the last lines and blocks this thread with `Atomics.wait` until the writer thread
 * has stored them and the final run record, or until the time-out.
 */
import type { StorageBackend } from "../backends/backend.ts";
import type { BackendRecipe } from "./backend-recipe.ts";
import { endingForExitCode, type RunEnding } from "./run-record.ts";
import type { RunWriterOptions } from "./run-writer.ts";
import type { RunSink } from "./sink.ts";
import { WriterThread } from "./writer-thread.ts";

/** Lines handed over at once, without waiting for the next turn of the event loop. */
const BATCH_LINES = 1024;

export class ThreadedRunSink implements RunSink {
  readonly #thread: WriterThread;
  readonly #sink: number;
  readonly #closedFlag: Int32Array;
  readonly #stopWatching: () => void;
  readonly #path: string;
  #batch: string[] = [];
  #handOverScheduled = false;
  #closing: Promise<void> | undefined;
  #closed = false;
  #dead: Error | undefined;
  #droppedAfterClose = 0;

  private constructor(thread: WriterThread, sink: number, closedFlag: Int32Array, path: string) {
    this.#thread = thread;
    this.#sink = sink;
    this.#closedFlag = closedFlag;
    this.#path = path;
    this.#stopWatching = thread.onDeath((error) => {
      this.#dead ??= new Error(`the log writer thread for ${this.#path} stopped: ${error.message}`);
    });
  }

  /** Opens the run in the process's log-writer thread (log objects created, `running` record written). */
  static async start(recipe: BackendRecipe, describe: StorageBackend["describe"], options: RunWriterOptions): Promise<ThreadedRunSink> {
    const thread = WriterThread.shared();
    const sink = thread.reserveSink();
    const closed = new SharedArrayBuffer(4);
    let path: string | undefined;
    try {
      path = await thread.request({ type: "open", sink, recipe, options, closed });
    } catch (error) {
      thread.releaseSink();
      if (thread.dead === undefined) throw error;
      throw new Error(`the log writer thread for ${describe(options.logKey)} stopped while starting: ${thread.dead.message}`);
    }
    return new ThreadedRunSink(thread, sink, new Int32Array(closed), path ?? describe(options.logKey));
  }

  get path(): string {
    return this.#path;
  }

  get storesAtExit(): boolean {
    return true;
  }

  write(line: string): void {
    if (this.#closed) {
      if (this.#droppedAfterClose++ === 0) {
        process.emitWarning(`A log line arrived after the log at ${this.#path} was closed; it was not stored.`, {
          code: "OPENCRATE_LOG_CLOSED",
        });
      }
      return;
    }
    this.#batch.push(line);
    if (this.#batch.length >= BATCH_LINES) this.#handOver();
    else if (!this.#handOverScheduled) {
      this.#handOverScheduled = true;
      setImmediate(() => this.#handOver());
    }
  }

  flush(): Promise<void> {
    if (this.#closed) return this.#closing ?? Promise.resolve();
    return this.#request({ type: "flush", sink: this.#sink });
  }

  /** Stores the last lines and the final run record; the writer thread then drops this run. */
  close(ending: RunEnding = endingForExitCode(0)): Promise<void> {
    this.#closing ??= this.#close(ending);
    return this.#closing;
  }

  async #close(ending: RunEnding): Promise<void> {
    const request = this.#request({ type: "close", sink: this.#sink, ending });
    this.#closed = true;
    try {
      await request;
    } finally {
      this.#stopWatching();
      this.#thread.releaseSink();
    }
  }

  /**
   * Blocks until the last lines and the final record are stored, or `timeoutMs` passed. For `exit` listeners,
   * where nothing asynchronous runs any more. Returns false on a time-out (or a dead writer thread).
   */
  closeSync(ending: RunEnding, timeoutMs: number): boolean {
    if (Atomics.load(this.#closedFlag, 0) !== 0) return true;
    if (this.#dead !== undefined) return false;
    if (this.#closing === undefined) {
      this.#closing = this.#request({ type: "close", sink: this.#sink, ending }).catch(() => {});
      this.#closed = true;
    }
    const deadline = Date.now() + timeoutMs;
    while (Atomics.load(this.#closedFlag, 0) === 0) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      Atomics.wait(this.#closedFlag, 0, 0, left);
    }
    return true;
  }

  #handOver(): void {
    this.#handOverScheduled = false;
    if (this.#batch.length === 0 || this.#dead !== undefined) return;
    const text = this.#batch.join("\n");
    this.#batch = [];
    this.#thread.post({ type: "lines", sink: this.#sink, text });
  }

  async #request(message: Parameters<WriterThread["request"]>[0]): Promise<void> {
    if (this.#dead !== undefined) throw this.#dead;
    this.#handOver();
    await this.#thread.request(message);
  }
}
