/**
 * A run's log sink that stores through the process's log-writer thread (writer-thread.ts) once the run has lines to
 * store. The run starts in this thread (its empty `.log`, then the `running` record), so a run that logs nothing (a
 * version claim, a save) never starts the thread, which costs a V8 isolate and a second copy of the storage SDK.
 * The first line hands the run over: the thread goes on from where this thread left it (RunWriter `handOff` and
 * `adopt`). From then on log calls stay cheap: lines are batched here and handed over on the next turn of the
 * event loop (or at once past a batch size).
 *
 * What makes it crash-safe is `closeSync`: at `exit` (also after `process.exit()` and uncaught errors, when no
 * asynchronous work can run any more) it hands the run over if it has not yet (starting the thread there), then the
 * last lines, and blocks this thread with `Atomics.wait` until the writer thread has stored them and the final run
 * record, or until the time-out.
 *
 * If the thread cannot take the run, the run goes on from this thread, as for a backend the thread cannot rebuild.
 */
import type { StorageBackend } from "../backends/backend.ts";
import type { BackendRecipe } from "./backend-recipe.ts";
import { endingForExitCode, type RunEnding } from "./run-record.ts";
import { RunWriter, type RunWriterOptions, type StartedRun } from "./run-writer.ts";
import type { RunSink } from "./sink.ts";
import { WriterThread } from "./writer-thread.ts";

/** Lines handed over at once, without waiting for the next turn of the event loop. */
const BATCH_LINES = 1024;

/** The run's place in the writer thread. */
interface Attachment {
  readonly thread: WriterThread;
  readonly sink: number;
  /** Int32 slot 0 turns 1 once the thread has finished the run's final close. */
  readonly closedFlag: Int32Array;
}

interface Moving {
  readonly kind: "moving";
  readonly started: StartedRun;
  readonly attachment: Attachment;
  /** The thread's answer to "open", once sent. */
  opened: Promise<unknown> | undefined;
  moved: Promise<void>;
}

type Phase =
  /** Started here, nothing logged yet. */
  | { readonly kind: "here"; readonly writer: RunWriter }
  /** The first line arrived: waiting for this thread's record writes, then for the thread to take the run. */
  | Moving
  | { readonly kind: "thread"; readonly attachment: Attachment }
  /** The thread could not take the run: it goes on here. */
  | { readonly kind: "inline"; readonly writer: RunWriter };

export class ThreadedRunSink implements RunSink {
  readonly #recipe: BackendRecipe;
  readonly #backend: StorageBackend;
  readonly #options: RunWriterOptions;
  readonly #path: string;
  #phase: Phase;
  #batch: string[] = [];
  #handOverScheduled = false;
  #closing: Promise<void> | undefined;
  /** close() was called (or closeSync): later lines are dropped. */
  #closed = false;
  /** A close() of a run still here has finished. */
  #closedHere = false;
  /** The thread was asked to close the run. */
  #closeSent = false;
  #dead: Error | undefined;
  #stopWatching: () => void = () => {};
  #droppedAfterClose = 0;

  private constructor(recipe: BackendRecipe, backend: StorageBackend, options: RunWriterOptions, writer: RunWriter) {
    this.#recipe = recipe;
    this.#backend = backend;
    this.#options = options;
    this.#path = writer.path;
    this.#phase = { kind: "here", writer };
  }

  /** Starts the run in this thread (log objects created); the writer thread takes it at its first line. */
  static async start(recipe: BackendRecipe, backend: StorageBackend, options: RunWriterOptions): Promise<ThreadedRunSink> {
    const writer = new RunWriter(backend, options);
    await writer.start();
    return new ThreadedRunSink(recipe, backend, options, writer);
  }

  get path(): string {
    return this.#path;
  }

  /** Once the run is in the writer thread, `closeSync` stores everything before it returns. */
  get storesAtExit(): boolean {
    return this.#phase.kind === "moving" || this.#phase.kind === "thread";
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
    const phase = this.#phase;
    if (phase.kind === "inline") {
      phase.writer.write(line);
      return;
    }
    this.#batch.push(line);
    if (phase.kind === "here") this.#beginMove(phase.writer);
    else if (phase.kind === "thread") this.#scheduleHandOver();
  }

  async flush(): Promise<void> {
    if (this.#closed) return this.#closing;
    const phase = this.#phase;
    switch (phase.kind) {
      case "here":
      case "inline":
        return phase.writer.flush();
      case "moving":
        await phase.moved;
        return this.flush();
      case "thread":
        return this.#request(phase.attachment, { type: "flush", sink: phase.attachment.sink });
    }
  }

  /** Stores the last lines and the final run record. */
  close(ending: RunEnding = endingForExitCode(0)): Promise<void> {
    this.#closing ??= this.#close(ending);
    return this.#closing;
  }

  async #close(ending: RunEnding): Promise<void> {
    this.#closed = true;
    let phase = this.#phase;
    if (phase.kind === "moving") {
      await phase.moved;
      phase = this.#phase;
    }
    switch (phase.kind) {
      case "here":
        await phase.writer.close(ending);
        this.#closedHere = true;
        return;
      case "inline":
        return phase.writer.close(ending);
      case "moving":
        throw new Error(`the log at ${this.#path} is still being handed over`);
      case "thread":
        this.#closeSent = true;
        try {
          await this.#request(phase.attachment, { type: "close", sink: phase.attachment.sink, ending });
        } finally {
          this.#stopWatching();
          phase.attachment.thread.releaseSink();
        }
    }
  }

  /**
   * Blocks until the last lines and the final record are stored, or `timeoutMs` passed. For `exit` listeners,
   * where nothing asynchronous runs any more. Returns false on a time-out (or a dead writer thread).
   */
  closeSync(ending: RunEnding, timeoutMs: number): boolean {
    const phase = this.#phase;
    if (phase.kind === "inline") {
      // As for any run written from this thread: the writes can only be started.
      phase.writer.close(ending).catch(() => {});
      return true;
    }
    if (phase.kind === "here" && this.#closedHere) return true;
    const attachment = this.#attachNow(phase);
    if (Atomics.load(attachment.closedFlag, 0) !== 0) return true;
    if (this.#dead !== undefined) return false;
    this.#closed = true;
    if (!this.#closeSent) {
      this.#closeSent = true;
      this.#request(attachment, { type: "close", sink: attachment.sink, ending }).catch(() => {});
    }
    const deadline = Date.now() + timeoutMs;
    while (Atomics.load(attachment.closedFlag, 0) === 0) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      Atomics.wait(attachment.closedFlag, 0, 0, left);
    }
    return true;
  }

  /** The run in the writer thread now, handed over at once if it was not yet (at exit, nothing can be awaited). */
  #attachNow(phase: Exclude<Phase, { kind: "inline" }>): Attachment {
    switch (phase.kind) {
      case "thread":
        return phase.attachment;
      case "moving": {
        phase.opened ??= this.#open(phase.attachment, phase.started);
        this.#phase = { kind: "thread", attachment: phase.attachment };
        return phase.attachment;
      }
      case "here": {
        // Nothing was logged, but the final record has yet to be stored, and only the thread can still do it.
        const attachment = this.#reserve();
        void this.#open(attachment, phase.writer.handOff()).catch(() => {});
        this.#phase = { kind: "thread", attachment };
        return attachment;
      }
    }
  }

  /** The first line: the thread starts loading at once, and takes the run once this thread's record writes landed. */
  #beginMove(writer: RunWriter): void {
    let attachment: Attachment;
    try {
      attachment = this.#reserve();
    } catch (error) {
      this.#goOnHere(writer.handOff(), undefined, error);
      return;
    }
    const moving: Moving = { kind: "moving", started: writer.handOff(), attachment, opened: undefined, moved: Promise.resolve() };
    this.#phase = moving;
    moving.moved = this.#finishMove(writer, moving);
  }

  /** The record writes begun here land before the thread writes anything, so the two never cross. */
  async #finishMove(writer: RunWriter, moving: Moving): Promise<void> {
    await writer.settled();
    if (this.#phase !== moving) return;
    try {
      moving.opened ??= this.#open(moving.attachment, moving.started);
      await moving.opened;
    } catch (error) {
      if (this.#phase === moving) this.#goOnHere(moving.started, moving.attachment, error);
      return;
    }
    if (this.#phase !== moving) return;
    this.#phase = { kind: "thread", attachment: moving.attachment };
    this.#handOver();
  }

  /** A place for the run in the process's writer thread (started if it is not running). */
  #reserve(): Attachment {
    const thread = WriterThread.shared();
    const sink = thread.reserveSink();
    this.#stopWatching = thread.onDeath((error) => {
      this.#dead ??= new Error(`the log writer thread for ${this.#path} stopped: ${error.message}`);
    });
    return { thread, sink, closedFlag: new Int32Array(new SharedArrayBuffer(4)) };
  }

  /** Sends the run to the thread, which takes it before its next message. */
  #open(attachment: Attachment, started: StartedRun): Promise<unknown> {
    const { thread, sink, closedFlag } = attachment;
    return thread.request({ type: "open", sink, recipe: this.#recipe, options: this.#options, started, closed: closedFlag.buffer as SharedArrayBuffer });
  }

  /** The thread could not start, refused the run or died before taking it: nothing of it was stored there. */
  #goOnHere(started: StartedRun, attachment: Attachment | undefined, error: unknown): void {
    this.#stopWatching();
    this.#dead = undefined;
    attachment?.thread.releaseSink();
    const writer = RunWriter.adopt(this.#backend, this.#options, started);
    for (const line of this.#batch) writer.write(line);
    this.#batch = [];
    this.#phase = { kind: "inline", writer };
    const reason = error instanceof Error ? error.message : String(error);
    process.emitWarning(`The log writer thread could not take the log at ${this.#path} (${reason}); it is stored from the main thread.`, {
      code: "OPENCRATE_LOG_THREAD",
    });
  }

  #scheduleHandOver(): void {
    if (this.#batch.length >= BATCH_LINES) this.#handOver();
    else if (!this.#handOverScheduled) {
      this.#handOverScheduled = true;
      setImmediate(() => this.#handOver());
    }
  }

  #handOver(): void {
    this.#handOverScheduled = false;
    const phase = this.#phase;
    if (phase.kind !== "thread" || this.#batch.length === 0 || this.#dead !== undefined) return;
    const text = this.#batch.join("\n");
    this.#batch = [];
    phase.attachment.thread.post({ type: "lines", sink: phase.attachment.sink, text });
  }

  async #request(attachment: Attachment, message: Parameters<WriterThread["request"]>[0]): Promise<void> {
    if (this.#dead !== undefined) throw this.#dead;
    this.#handOver();
    await attachment.thread.request(message);
  }
}
