/**
 * The process's one log-writer thread (sink-worker.ts), shared by every run whose backend it can rebuild. Starting
 * a thread costs far more than a run's setup otherwise does (a new V8 isolate loading the backend modules), so it
 * starts with the first run and stays for the next ones; it stops once no run has been open for a while.
 *
 * It never keeps the process alive by itself: it is referenced only while a request waits for its answer, as an
 * awaited write to storage would be.
 */
import { Worker } from "node:worker_threads";
import { clock } from "../clock.ts";
import type { FromWorker, ToWorker } from "./sink-protocol.ts";
import { receiveError } from "./sink-protocol.ts";

// The sources run as .ts (type stripping); the package runs the thread's own bundle (scripts/bundle.ts).
const WORKER_URL = new URL(import.meta.url.endsWith(".ts") ? "../logs/sink-worker.ts" : "../lib/sink-worker.js", import.meta.url);

/**
 * The thread's young generation, in MiB. It only batches lines and sends requests, so a small one is enough; V8's
 * default lets it grow to 16 MiB of pages, which the process keeps for the thread's lifetime. Measured on a 1 GiB
 * save: 6 MiB (S3) to 10 MiB (GCS) less peak RSS, and 200,000 log calls as fast as before.
 */
const YOUNG_GENERATION_MB = 2;

/** How long the thread stays without any open run before it stops (a later run starts a new one). */
export const IDLE_STOP_MS = 5_000;

/**
 * Whether the process runs a script given as a string with `--input-type` (`node --input-type=module -e '…'`, or
 * from stdin). A worker inherits the process's options and refuses to start from a file with that one ("--input-type
 * can only be used with string input"); `execArgv` cannot simply leave it out, since a worker refuses an explicit
 * list holding V8 or process-wide flags (--max-old-space-size, --expose-gc …) that inheriting keeps.
 */
export function hasInputType(execArgv: readonly string[], nodeOptions = ""): boolean {
  const isFlag = (arg: string): boolean => arg === "--input-type" || arg.startsWith("--input-type=");
  return execArgv.some(isFlag) || nodeOptions.split(/\s+/).some(isFlag);
}

/**
 * The thread's entry: its module file, or where the process runs a string with `--input-type`, a string that
 * imports it (the worker then runs string input too, and inherits every option as usual). A module that fails to
 * load still fails the thread, as the file would.
 */
function workerEntry(): [URL | string, { eval?: true }] {
  if (!hasInputType(process.execArgv, process.env.NODE_OPTIONS)) return [WORKER_URL, {}];
  const source = `import(${JSON.stringify(WORKER_URL.href)}).catch((error) => process.nextTick(() => { throw error; }));`;
  return [source, { eval: true }];
}

interface Pending {
  readonly resolve: (path: string | undefined) => void;
  readonly reject: (error: unknown) => void;
}

/** A message that expects an answer, without its id (the thread numbers them). */
type Request = ToWorker extends infer Message ? (Message extends { readonly id: number } ? Omit<Message, "id"> : never) : never;

let current: WriterThread | undefined;

export class WriterThread {
  readonly #worker: Worker;
  readonly #requests = new Map<number, Pending>();
  readonly #deathListeners = new Set<(error: Error) => void>();
  #nextId = 1;
  #nextSink = 1;
  #openSinks = 0;
  #cancelIdleStop: (() => void) | undefined;
  #dead: Error | undefined;

  /** The running thread, or a new one. */
  static shared(): WriterThread {
    if (current === undefined || current.#dead !== undefined) current = new WriterThread();
    return current;
  }

  /** The running thread, if any (for tests). */
  static running(): WriterThread | undefined {
    return current !== undefined && current.#dead === undefined ? current : undefined;
  }

  private constructor() {
    const [entry, mode] = workerEntry();
    this.#worker = new Worker(entry, {
      ...mode,
      stderr: false,
      stdout: false,
      resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB },
    });
    this.#worker.on("message", (message: FromWorker) => this.#receive(message));
    this.#worker.on("error", (error) => this.#die(error));
    this.#worker.on("exit", () => this.#die(new Error("the log writer thread stopped")));
    // After the listeners: adding a "message" listener refs the thread's port again.
    this.#worker.unref();
  }

  /** The thread's V8 limits as it runs (for tests). */
  get resourceLimits(): Worker["resourceLimits"] {
    return this.#worker.resourceLimits;
  }

  /** Why the thread can no longer serve (it stopped or failed), or undefined while it can. */
  get dead(): Error | undefined {
    return this.#dead;
  }

  /** Stops the thread now, as a crash would: open runs see it dead (for tests). */
  async terminate(): Promise<void> {
    await this.#worker.terminate();
    this.#die(new Error("the log writer thread was stopped"));
  }

  /** A number for a new run's messages; the run counts as open until `releaseSink`. */
  reserveSink(): number {
    this.#cancelIdleStop?.();
    this.#cancelIdleStop = undefined;
    this.#openSinks += 1;
    return this.#nextSink++;
  }

  /** The run no longer needs the thread (closed, or failed to open). */
  releaseSink(): void {
    this.#openSinks -= 1;
    if (this.#openSinks > 0 || this.#dead !== undefined) return;
    this.#cancelIdleStop = clock().setTimer(IDLE_STOP_MS, () => {
      if (this.#openSinks > 0 || this.#requests.size > 0) return;
      if (current === this) current = undefined;
      void this.#worker.terminate();
    });
  }

  /** Calls `listener` once if the thread dies while it is registered. Returns the function that unregisters it. */
  onDeath(listener: (error: Error) => void): () => void {
    this.#deathListeners.add(listener);
    return () => this.#deathListeners.delete(listener);
  }

  /** Sends a request and resolves with its answer (the `.log` path for "open"). */
  request(message: Request): Promise<string | undefined> {
    if (this.#dead !== undefined) return Promise.reject(this.#dead);
    const id = this.#nextId++;
    const answered = new Promise<string | undefined>((resolve, reject) => this.#requests.set(id, { resolve, reject }));
    // An unanswered request keeps the process alive, as an awaited write to storage would.
    this.#worker.ref();
    this.#worker.postMessage({ ...message, id } as ToWorker);
    return answered;
  }

  /** Sends a message that gets no answer. */
  post(message: Extract<ToWorker, { type: "lines" | "touch" }>): void {
    if (this.#dead === undefined) this.#worker.postMessage(message);
  }

  #receive(message: FromWorker): void {
    const pending = this.#requests.get(message.id);
    this.#requests.delete(message.id);
    if (this.#requests.size === 0) this.#worker.unref();
    if (pending === undefined) return;
    if (message.error === undefined) pending.resolve(message.path);
    else pending.reject(receiveError(message.error));
  }

  #die(error: Error): void {
    if (this.#dead !== undefined) return;
    this.#dead = error;
    this.#cancelIdleStop?.();
    if (current === this) current = undefined;
    for (const pending of this.#requests.values()) pending.reject(error);
    this.#requests.clear();
    for (const listener of this.#deathListeners) listener(error);
    this.#deathListeners.clear();
  }
}
