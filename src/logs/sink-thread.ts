/**
 * A run's log sink that stores through the process's log-writer thread (writer-thread.ts) once the run has lines to
 * store. The run starts in this thread (its empty `.log`, then the `running` record), so a run that logs nothing (a
 * version claim, a save) never starts the thread, which costs a V8 isolate and a second copy of the storage SDK.
 * The first line hands the run over: the thread goes on from where this thread left it (RunWriter `handOff` and
 * `adopt`). From then on log calls stay cheap: lines are batched here and handed over on the next turn of the
 * event loop, or by the log call itself once the batch passes its size or has waited HAND_OVER_MS: so lines logged
 * from code that never yields (a synchronous loop) still reach the thread, which stores them on its own event loop,
 * and they never pile up here. Such code also never lets this thread see the thread's answer to "open": past the
 * same bounds, the run is sent at once (the thread takes it before the next message) and the lines follow it.
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
import { RunWriter, type CloseOptions, type RunWriterOptions, type StartedRun } from "./run-writer.ts";
import { CLOSE_FAILED, CLOSE_PENDING, CLOSE_STORED } from "./sink-protocol.ts";
import type { RunSink } from "./sink.ts";
import { WriterThread } from "./writer-thread.ts";
import { joinBounded } from "./bounded-join.ts";

/** Lines handed over at once, without waiting for the next turn of the event loop. */
const BATCH_LINES = 1024;
/** Characters handed over at once, likewise (also the most one hand-over message holds). */
const BATCH_CHARS = 64 * 1024;
/** Longest a line waits here when the event loop does not turn (the flush interval, if shorter). */
const HAND_OVER_MS = 100;
/** At exit, the time kept for the last try of the close after the retries (a tenth of the exit budget, if less). */
const EXIT_LAST_TRY_MS = 1_000;
/**
 * Lines handed over before the thread said it took the run are kept here up to this many characters, so that they
 * are stored from this thread if it refuses the run after all.
 */
const UNCONFIRMED_CHARS = 16 * 1024 * 1024;

/** The run's place in the writer thread. */
interface Attachment {
  readonly thread: WriterThread;
  readonly sink: number;
}

interface Moving {
  readonly kind: "moving";
  readonly started: StartedRun;
  readonly attachment: Attachment;
  /** The thread's answer to "open", once sent. */
  opened: Promise<string | undefined> | undefined;
  /** Settles once the run is in the thread, or back here. */
  moved: Promise<void> | undefined;
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
  #batchChars = 0;
  #lastHandOver = 0;
  readonly #handOverMs: number;
  /** Text handed over before the thread answered "open" (see UNCONFIRMED_CHARS); undefined when there is none. */
  #unconfirmed: string[] | undefined;
  #unconfirmedChars = 0;
  /** Settles once the thread's answer to "open" (sent by {@link #openNow}) was dealt with. */
  #answered: Promise<void> = Promise.resolve();
  /** Lines handed over unconfirmed beyond UNCONFIRMED_CHARS, which a refused run cannot store. */
  #unconfirmedLost = 0;
  #handOverScheduled = false;
  /** The close running, or the one that succeeded; undefined after a failed one (the next call tries again). */
  #closing: Promise<void> | undefined;
  /** How close() said the run ended; an exit while that close is still running (or after it failed) records this. */
  #closeEnding: RunEnding | undefined;
  /** close() was called (or closeSync): later lines are dropped. */
  #closed = false;
  /** A close() of a run still here has finished. */
  #closedHere = false;
  /** The thread was asked to close the run (slot 0 of the flag is about that request). */
  #closeSent = false;
  /** That request was the last try (closeSync): the thread ends the run whatever happens. */
  #finalSent = false;
  /** The run's place in the thread was given back. */
  #released = false;
  /** Slot 0 says how the thread's final close went (CLOSE_PENDING until it has). */
  readonly #closeShared = new SharedArrayBuffer(4);
  readonly #closedFlag = new Int32Array(this.#closeShared);
  #dead: Error | undefined;
  #stopWatching: () => void = () => {};
  /** The close begun at exit (beginCloseSync); the attachment is undefined when nothing is left to wait for. */
  #exitClose: { readonly ending: RunEnding; readonly deadline: number; readonly attachment: Attachment | undefined } | undefined;
  #droppedAfterClose = 0;
  #linesWritten = 0;

  private constructor(recipe: BackendRecipe, backend: StorageBackend, options: RunWriterOptions, writer: RunWriter) {
    this.#recipe = recipe;
    this.#backend = backend;
    this.#options = options;
    this.#path = writer.path;
    this.#phase = { kind: "here", writer };
    this.#handOverMs = Math.min(HAND_OVER_MS, Math.max(0, options.flushIntervalMs ?? HAND_OVER_MS));
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

  /** Whether to leave this run to `exit` (`closeSync`): once it is in the writer thread, or on its way there. */
  get storesAtExit(): boolean {
    return this.#phase.kind === "moving" || this.#phase.kind === "thread";
  }

  get linesWritten(): number {
    return this.#linesWritten;
  }

  write(line: string): void {
    this.#linesWritten += 1;
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
    this.#batchChars += line.length;
    if (phase.kind === "thread") this.#scheduleHandOver();
    else if (phase.kind === "here") this.#beginMove(phase.writer);
    else if (this.#handOverDue()) this.#openNow(phase);
  }

  touch(): void {
    if (this.#closed) return;
    const phase = this.#phase;
    if (phase.kind === "here" || phase.kind === "inline") phase.writer.touch();
    // While moving, the record is between writers: the next save refreshes it.
    else if (phase.kind === "thread" && this.#dead === undefined) phase.attachment.thread.post({ type: "touch", sink: phase.attachment.sink });
  }

  async flush(): Promise<void> {
    // After close() (also a failed one, whose lines are kept): storing them is that close's work.
    if (this.#closed) return this.close(this.#closeEnding);
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

  /**
   * In the thread, or still here with nothing logged (`exit` then starts the thread for the final record): a flush.
   * Gone on here because the thread could not take it: as for any run written from this thread.
   */
  async flushForExit(ending: RunEnding): Promise<void> {
    if (this.#closed) return this.close(this.#closeEnding);
    if (this.#phase.kind === "inline") return this.#phase.writer.flushForExit(ending);
    return this.flush();
  }

  /**
   * Stores the last lines and the final run record. When that fails, the lines stay queued (here or in the thread)
   * and the run stays open: a later close() or flush() tries again, and `exit` makes a last try.
   */
  close(ending: RunEnding = endingForExitCode(0), options: CloseOptions = {}): Promise<void> {
    this.#closed = true;
    this.#closeEnding ??= ending;
    // A run still here (or gone on here) is closed by its RunWriter, which lets a final close follow a running one.
    const byWriter = this.#phase.kind === "here" || this.#phase.kind === "inline";
    if (this.#closing === undefined || (options.final === true && byWriter)) {
      const closing = this.#close(this.#closeEnding, options);
      this.#closing = closing;
      closing.catch(() => {
        if (this.#closing === closing) this.#closing = undefined;
      });
    }
    return this.#closing;
  }

  async #close(ending: RunEnding, options: CloseOptions): Promise<void> {
    if (this.#phase.kind === "moving") await this.#phase.moved;
    // Handed over at once and not taken yet: should the thread refuse the run, it is closed here, lines and all.
    if (this.#unconfirmed !== undefined) await this.#answered;
    const phase = this.#phase;
    switch (phase.kind) {
      case "here":
        await phase.writer.close(ending, options);
        this.#closedHere = true;
        return;
      case "inline":
        return phase.writer.close(ending, options);
      case "moving":
      case "thread": {
        const attachment = phase.attachment;
        const final = options.final === true;
        try {
          await this.#sendClose(attachment, ending, final);
        } catch (error) {
          // The thread refused the run after this close was sent: it went on here, and is closed here.
          if (this.#phase.kind === "inline") return this.#phase.writer.close(ending, options);
          // The thread keeps a run whose close failed, lines and all, for the next try.
          if (final || this.#dead !== undefined) this.#release(attachment);
          throw error;
        }
        this.#release(attachment);
      }
    }
  }

  /** Asks the thread to close the run; slot 0 of the flag says how it went. */
  #sendClose(attachment: Attachment, ending: RunEnding, final: boolean, retryUntil?: number): Promise<void> {
    Atomics.store(this.#closedFlag, 0, CLOSE_PENDING);
    this.#closeSent = true;
    this.#finalSent = final;
    const retry = retryUntil === undefined ? {} : { retryUntil };
    return this.#request(attachment, { type: "close", sink: attachment.sink, ending, final, closed: this.#closeShared, ...retry });
  }

  #release(attachment: Attachment): void {
    if (this.#released) return;
    this.#released = true;
    this.#stopWatching();
    attachment.thread.releaseSink();
  }

  /**
   * Blocks until the last lines and the final record are stored, or `timeoutMs` passed. For `exit` listeners,
   * where nothing asynchronous runs any more. Returns false on a time-out (or a dead writer thread). The thread tries
   * the close again while it fails for a passing reason (a store refusing connections for a moment), until
   * EXIT_LAST_TRY_MS before the time-out, then once more as the last try: the record then ends even if the lines
   * cannot be stored. After {@link beginCloseSync}, waits for the close begun there, within that one's time.
   */
  closeSync(exitEnding: RunEnding, timeoutMs: number): boolean {
    this.beginCloseSync(exitEnding, timeoutMs);
    const exit = this.#exitClose;
    if (exit?.attachment === undefined) return true;
    for (;;) {
      const state = Atomics.load(this.#closedFlag, 0);
      if (state === CLOSE_STORED) return true;
      if (state === CLOSE_FAILED && this.#finalSent) {
        throw new Error(`the log writer thread could not store the last lines and the run record of ${this.#path}`);
      }
      if (this.#dead !== undefined) return false;
      if (state === CLOSE_FAILED || !this.#closeSent) {
        this.#sendExitClose(exit.attachment, exit.ending, exit.deadline);
        continue;
      }
      const left = exit.deadline - Date.now();
      if (left <= 0) return false;
      Atomics.wait(this.#closedFlag, 0, CLOSE_PENDING, left);
    }
  }

  /**
   * Sends the last close without waiting for it, so that the closes of all the process's runs go on together in the
   * writer thread, each within the whole time-out, and {@link closeSync} then only waits. Does nothing the second
   * time.
   */
  beginCloseSync(exitEnding: RunEnding, timeoutMs: number): void {
    if (this.#exitClose !== undefined) return;
    const deadline = Date.now() + timeoutMs;
    // A close() still running when the process ends (its lines not all stored yet) is finished here, as it began.
    const ending = this.#closeEnding ?? exitEnding;
    const phase = this.#phase;
    if (phase.kind === "inline") {
      this.#exitClose = { ending, deadline, attachment: undefined };
      // As for any run written from this thread: the writes can only be started.
      phase.writer.close(ending, { final: true }).catch(() => {});
      phase.writer.keepUnstored();
      return;
    }
    const attachment = phase.kind === "here" && this.#closedHere ? undefined : this.#attachNow(phase, ending);
    this.#exitClose = { ending, deadline, attachment };
    if (attachment === undefined) return;
    this.#closed = true;
    if (this.#dead === undefined && Atomics.load(this.#closedFlag, 0) !== CLOSE_STORED && !this.#closeSent) {
      this.#sendExitClose(attachment, ending, deadline);
    }
  }

  #sendExitClose(attachment: Attachment, ending: RunEnding, deadline: number): void {
    const budget = deadline - Date.now();
    this.#sendClose(attachment, ending, true, deadline - Math.min(EXIT_LAST_TRY_MS, Math.max(0, budget) / 10)).catch(() => {});
  }

  /**
   * The run in the writer thread now, handed over at once if it was not yet: at exit nothing can be awaited, so a
   * record write this thread began may still be on its way (it was sent before the thread's, so it lands first
   * unless the store reorders them). Undefined when no thread could be started: the writes here are then only
   * started, as for a run written from this thread.
   */
  #attachNow(phase: Exclude<Phase, { kind: "inline" }>, ending: RunEnding): Attachment | undefined {
    switch (phase.kind) {
      case "thread":
        return phase.attachment;
      case "moving":
        this.#openNow(phase);
        return phase.attachment;
      case "here": {
        // Nothing was logged, but the final record has yet to be stored, and only the thread can still do it.
        let attachment: Attachment;
        try {
          attachment = this.#reserve();
        } catch {
          phase.writer.close(ending, { final: true }).catch(() => {});
          return undefined;
        }
        this.#open(attachment, phase.writer.handOff()).catch(() => {});
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
      // The writer was not handed off: it goes on as it is.
      this.#goOnHere(writer, undefined, error);
      return;
    }
    const moving: Moving = { kind: "moving", started: writer.handOff(), attachment, opened: undefined, moved: undefined };
    this.#phase = moving;
    this.#lastHandOver = Date.now();
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
      if (this.#phase === moving) this.#goOnHere(RunWriter.adopt(this.#backend, this.#options, moving.started), moving.attachment, error);
      return;
    }
    if (this.#phase !== moving) return;
    this.#phase = { kind: "thread", attachment: moving.attachment };
    this.#handOver();
  }

  /**
   * The run to the thread now, without waiting for this thread's record writes (a write begun here was sent before
   * the thread's, so it lands first unless the store reorders them), then the lines. Should the thread refuse the
   * run, it goes on here with the lines kept meanwhile.
   */
  #openNow(moving: Moving): void {
    const opened = (moving.opened ??= this.#open(moving.attachment, moving.started));
    this.#phase = { kind: "thread", attachment: moving.attachment };
    this.#unconfirmed = [];
    this.#answered = opened.then(
      () => this.#confirm(),
      (error: unknown) => this.#refused(moving, error),
    );
    this.#handOver();
  }

  #confirm(): void {
    this.#unconfirmed = undefined;
    this.#unconfirmedChars = 0;
  }

  /**
   * The thread refused a run handed over by {@link #openNow}: it goes on here, and a close already sent to the
   * thread (which cannot have it) is done here.
   */
  #refused(moving: Moving, error: unknown): void {
    const phase = this.#phase;
    const kept = this.#unconfirmed ?? [];
    this.#confirm();
    if (phase.kind !== "thread" || phase.attachment !== moving.attachment) return;
    this.#batch = [...kept, ...this.#batch];
    const writer = RunWriter.adopt(this.#backend, this.#options, moving.started);
    this.#goOnHere(writer, moving.attachment, error);
    if (this.#closeSent) writer.close(this.#closeEnding ?? endingForExitCode(0), { final: this.#finalSent }).catch(() => {});
    if (this.#unconfirmedLost > 0) {
      process.emitWarning(`${this.#unconfirmedLost} log line(s) for ${this.#path} were lost with the writer thread.`, {
        code: "OPENCRATE_LOG_THREAD",
      });
    }
  }

  /** A place for the run in the process's writer thread (started if it is not running). */
  #reserve(): Attachment {
    const thread = WriterThread.shared();
    const sink = thread.reserveSink();
    this.#stopWatching = thread.onDeath((error) => {
      this.#dead ??= new Error(`the log writer thread for ${this.#path} stopped: ${error.message}`);
    });
    return { thread, sink };
  }

  /** Sends the run to the thread, which takes it before its next message. */
  #open(attachment: Attachment, started: StartedRun): Promise<string | undefined> {
    return attachment.thread.request({ type: "open", sink: attachment.sink, recipe: this.#recipe, options: this.#options, started });
  }

  /**
   * The thread could not start, refused the run or died before taking it (nothing of the run was stored there): the
   * run goes on here, with `writer`.
   */
  #goOnHere(writer: RunWriter, attachment: Attachment | undefined, error: unknown): void {
    this.#stopWatching();
    this.#dead = undefined;
    attachment?.thread.releaseSink();
    for (const line of this.#batch) writer.write(line);
    this.#batch = [];
    this.#batchChars = 0;
    this.#phase = { kind: "inline", writer };
    const reason = error instanceof Error ? error.message : String(error);
    process.emitWarning(`The log writer thread could not take the log at ${this.#path} (${reason}); it is stored from the main thread.`, {
      code: "OPENCRATE_LOG_THREAD",
    });
  }

  /** The batch passed its size, or its oldest line may have waited HAND_OVER_MS (checked at each log call). */
  #handOverDue(): boolean {
    return this.#batch.length >= BATCH_LINES || this.#batchChars >= BATCH_CHARS || Date.now() - this.#lastHandOver >= this.#handOverMs;
  }

  #scheduleHandOver(): void {
    if (this.#handOverDue()) this.#handOver();
    else if (!this.#handOverScheduled) {
      this.#handOverScheduled = true;
      setImmediate(() => this.#handOver());
    }
  }

  #handOver(): void {
    this.#handOverScheduled = false;
    const phase = this.#phase;
    if (phase.kind !== "thread" || this.#batch.length === 0 || this.#dead !== undefined) return;
    this.#lastHandOver = Date.now();
    const texts = this.#batchChars <= BATCH_CHARS ? [this.#batch.join("\n")] : joinBounded(this.#batch, "\n", BATCH_CHARS);
    const lines = this.#batch.length;
    this.#batch = [];
    this.#batchChars = 0;
    for (const text of texts) phase.attachment.thread.post({ type: "lines", sink: phase.attachment.sink, text });
    if (this.#unconfirmed !== undefined) this.#keepUnconfirmed(texts, lines);
  }

  #keepUnconfirmed(texts: readonly string[], lines: number): void {
    for (const text of texts) this.#unconfirmedChars += text.length;
    if (this.#unconfirmedChars <= UNCONFIRMED_CHARS) this.#unconfirmed?.push(...texts);
    else this.#unconfirmedLost += lines;
  }

  async #request(attachment: Attachment, message: Parameters<WriterThread["request"]>[0]): Promise<void> {
    if (this.#dead !== undefined) throw this.#dead;
    this.#handOver();
    await attachment.thread.request(message);
  }
}
