/**
 * A run's log sink whose writing happens in a worker thread (sink-worker.ts). Log calls stay cheap: lines are
 * batched here and handed over on the next turn of the event loop (or at once past a batch size). What makes it
 * crash-safe is `closeSync`: at `exit` (also after `process.exit()` and uncaught errors, when no asynchronous work
 * can run any more) it hands over the last lines and blocks this thread with `Atomics.wait` until the worker has
 * stored them and the final run record, or until the time-out.
 */
import { Worker } from "node:worker_threads";
import type { StorageBackend } from "../backends/backend.ts";
import type { BackendRecipe } from "./backend-recipe.ts";
import { endingForExitCode, type RunEnding } from "./run-record.ts";
import type { RunWriterOptions } from "./run-writer.ts";
import type { FromWorker, SinkWorkerData, ToWorker } from "./sink-protocol.ts";
import { receiveError } from "./sink-protocol.ts";
import type { RunSink } from "./sink.ts";

/** Lines handed over at once, without waiting for the next turn of the event loop. */
const BATCH_LINES = 1024;

// Built output is .js next to .js; the sources run as .ts (type stripping).
const WORKER_URL = new URL(import.meta.url.endsWith(".ts") ? "./sink-worker.ts" : "./sink-worker.js", import.meta.url);

interface Pending {
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

export class ThreadedRunSink implements RunSink {
  readonly #worker: Worker;
  readonly #closedFlag: Int32Array;
  readonly #requests = new Map<number, Pending>();
  #path: string;
  #nextId = 1;
  #batch: string[] = [];
  #handOverScheduled = false;
  #closing: Promise<void> | undefined;
  #closed = false;
  #dead: Error | undefined;
  #droppedAfterClose = 0;

  private constructor(worker: Worker, closedFlag: Int32Array, path: string) {
    this.#worker = worker;
    this.#closedFlag = closedFlag;
    this.#path = path;
    worker.on("message", (message: FromWorker) => this.#receive(message));
    worker.on("error", (error) => this.#die(error));
    worker.on("exit", () => this.#die(new Error(`the log writer thread for ${this.#path} stopped`)));
    // After the listeners: adding a "message" listener refs the thread's port again.
    worker.unref();
  }

  /** Starts the thread and its writer (log objects created, `running` record written). */
  static async start(recipe: BackendRecipe, describe: StorageBackend["describe"], options: RunWriterOptions): Promise<ThreadedRunSink> {
    const closed = new SharedArrayBuffer(4);
    const data: SinkWorkerData = { recipe, options, closed };
    const worker = new Worker(WORKER_URL, { workerData: data, stderr: false, stdout: false });
    let onMessage: ((message: FromWorker) => void) | undefined;
    let onError: ((error: Error) => void) | undefined;
    let onExit: (() => void) | undefined;
    const path = await new Promise<string>((resolve, reject) => {
      onMessage = (message) => {
        if (message.type === "started") resolve(message.path);
        else if (message.type === "start-failed") reject(receiveError(message.error));
      };
      onError = reject;
      onExit = () => reject(new Error(`the log writer thread for ${describe(options.logKey)} stopped while starting`));
      worker.on("message", onMessage).on("error", onError).on("exit", onExit);
    })
      .catch(async (error: unknown) => {
        await worker.terminate();
        throw error;
      })
      .finally(() => {
        if (onMessage !== undefined) worker.off("message", onMessage);
        if (onError !== undefined) worker.off("error", onError);
        if (onExit !== undefined) worker.off("exit", onExit);
      });
    return new ThreadedRunSink(worker, new Int32Array(closed), path);
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
    return this.#request((id) => ({ type: "flush", id }));
  }

  /** Stores the last lines and the final run record, then stops the thread. */
  close(ending: RunEnding = endingForExitCode(0)): Promise<void> {
    this.#closing ??= this.#close(ending);
    return this.#closing;
  }

  async #close(ending: RunEnding): Promise<void> {
    const request = this.#request((id) => ({ type: "close", id, ending }));
    this.#closed = true;
    try {
      await request;
    } finally {
      await this.#worker.terminate();
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
      this.#closing = this.#request((id) => ({ type: "close", id, ending })).catch(() => {});
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
    this.#post({ type: "lines", text });
  }

  #request(message: (id: number) => ToWorker): Promise<void> {
    if (this.#dead !== undefined) return Promise.reject(this.#dead);
    this.#handOver();
    const id = this.#nextId++;
    const answered = new Promise<void>((resolve, reject) => this.#requests.set(id, { resolve, reject }));
    // An unanswered request keeps the process alive, as an awaited write to storage would.
    this.#worker.ref();
    this.#post(message(id));
    return answered;
  }

  #post(message: ToWorker): void {
    this.#worker.postMessage(message);
  }

  #receive(message: FromWorker): void {
    if (message.type !== "done") return;
    const pending = this.#requests.get(message.id);
    this.#requests.delete(message.id);
    if (this.#requests.size === 0) this.#worker.unref();
    if (pending === undefined) return;
    if (message.error === undefined) pending.resolve();
    else pending.reject(receiveError(message.error));
  }

  #die(error: Error): void {
    this.#dead ??= error;
    for (const pending of this.#requests.values()) pending.reject(this.#dead);
    this.#requests.clear();
  }
}
