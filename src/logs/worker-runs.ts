/**
 * Runs set up inside a `worker_threads` worker, closed by the main thread's exit and signal hooks.
 *
 * A worker's `process` never sees a signal or the main thread's exit: when the main thread ends, Node stops the
 * workers without running their exit hooks. So each run registered for exit in a worker is announced on a
 * BroadcastChannel; the main thread (once it has loaded this module) registers a stand-in for it with its own
 * hooks. At the main thread's `exit`, or last on a signal, the stand-in asks the worker to close the run and
 * blocks on a shared state word until the worker answers, within the same exit budget.
 *
 * Traps:
 * - the worker answers from its event loop: a worker busy in synchronous code answers only when it yields, so the
 *   main thread may wait out the whole budget;
 * - the main thread takes announcements on its next event-loop turn: a run is covered from then on;
 * - a worker that ends by itself marks the state word (its own hooks have closed the run) so nobody waits for it;
 *   `worker.terminate()` runs no code in the worker, so the main thread drops the stand-ins of a worker it created
 *   when that worker exits, and a stand-in of a terminated worker started by another worker is waited for in vain.
 */
import { BroadcastChannel, isMainThread, threadId, type Worker } from "node:worker_threads";
import type { RunEnding } from "./run-record.ts";

const CHANNEL = "opencrate:worker-runs";

/** Slot STATE of a run's shared words. */
const OPEN = 0;
const CLOSED = 1;
const CLOSE_FAILED = 2;
/** The run was closed or unregistered in the worker, or the worker ended by itself. */
const GONE = 3;
const STATE = 0;
/** Slot FLUSHED: the number of the last flush request the worker answered. */
const FLUSHED = 1;

type Message =
  | { readonly type: "register"; readonly id: string; readonly thread: number; readonly words: SharedArrayBuffer }
  | { readonly type: "unregister"; readonly id: string }
  | { readonly type: "close"; readonly id: string; readonly ending: RunEnding; readonly timeoutMs: number }
  | { readonly type: "flush"; readonly id: string; readonly request: number };

/** What the worker side needs of a registered run (the exit hooks' target). */
export interface WorkerRunTarget {
  flush(): Promise<void>;
  close?(ending: RunEnding): Promise<void>;
  closeSync?(ending: RunEnding, timeoutMs: number): boolean;
  readonly storesAtExit?: boolean;
}

/** What the main side registers with its exit hooks for each announced run. */
export interface WorkerRunStandIn {
  flush(): Promise<void>;
  closeSync(ending: RunEnding, timeoutMs: number): boolean;
  readonly storesAtExit: true;
}

// ---- worker side ----

interface Announced {
  readonly target: WorkerRunTarget;
  readonly words: Int32Array;
}

const announced = new Map<string, Announced>();
let workerChannel: BroadcastChannel | undefined;
let nextId = 0;

/** In a worker: makes `target` known to the main thread's hooks. Returns the function that withdraws it. */
export function announceToMainThread(target: WorkerRunTarget): () => void {
  if (isMainThread) return () => {};
  const channel = openWorkerChannel();
  const id = `${threadId}:${nextId++}`;
  const buffer = new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT);
  const words = new Int32Array(buffer);
  announced.set(id, { target, words });
  channel.postMessage({ type: "register", id, thread: threadId, words: buffer } satisfies Message);
  return () => {
    if (!announced.delete(id)) return;
    settle(words, GONE);
    channel.postMessage({ type: "unregister", id } satisfies Message);
  };
}

/** In a worker, at its own `exit` after its hooks closed its runs: nobody waits for them any more. */
export function markWorkerRunsEnded(): void {
  for (const { words } of announced.values()) settle(words, GONE);
  announced.clear();
}

function openWorkerChannel(): BroadcastChannel {
  if (workerChannel !== undefined) return workerChannel;
  const channel = new BroadcastChannel(CHANNEL);
  channel.unref();
  channel.onmessage = (event) => void answer((event as { readonly data: Message }).data);
  workerChannel = channel;
  return channel;
}

async function answer(message: Message): Promise<void> {
  if (message.type !== "close" && message.type !== "flush") return;
  const run = announced.get(message.id);
  if (run === undefined) return;
  if (message.type === "flush") {
    await run.target.flush().catch(() => {}); // the close that follows stores and reports what is left
    Atomics.store(run.words, FLUSHED, message.request);
    Atomics.notify(run.words, FLUSHED);
    return;
  }
  announced.delete(message.id);
  let state = CLOSED;
  try {
    const { target } = run;
    if (target.storesAtExit === true && target.closeSync !== undefined) {
      if (!target.closeSync(message.ending, message.timeoutMs)) state = CLOSE_FAILED;
    } else if (target.close !== undefined) await target.close(message.ending);
    else await target.flush();
  } catch {
    state = CLOSE_FAILED;
  }
  settle(run.words, state);
}

function settle(words: Int32Array, state: number): void {
  if (Atomics.compareExchange(words, STATE, OPEN, state) !== OPEN) return;
  Atomics.notify(words, STATE);
  Atomics.notify(words, FLUSHED); // a flush still waited for will not be answered
}

// ---- main side ----

let mainChannel: BroadcastChannel | undefined;

/**
 * In the main thread: registers a stand-in (with `register`, the exit hooks' registration) for every run a worker
 * announces. `budgetMs` is the exit budget, used to bound a flush on a signal the application handles itself.
 */
export function closeWorkerRunsAtExit(register: (standIn: WorkerRunStandIn) => () => void, budgetMs: () => number): void {
  if (!isMainThread || mainChannel !== undefined) return;
  const channel = new BroadcastChannel(CHANNEL);
  channel.unref();
  mainChannel = channel;
  const standIns = new Map<string, { readonly thread: number; readonly unregister: () => void }>();
  const drop = (id: string): void => {
    standIns.get(id)?.unregister();
    standIns.delete(id);
  };
  channel.onmessage = (event) => {
    const message = (event as { readonly data: Message }).data;
    if (message.type === "unregister") drop(message.id);
    if (message.type !== "register" || standIns.has(message.id)) return;
    const words = new Int32Array(message.words);
    const unregister = register(standIn(channel, message.id, words, budgetMs));
    standIns.set(message.id, { thread: message.thread, unregister });
  };
  // A worker this thread started and that ended (also by terminate()) answers no more.
  process.on("worker", (worker: Worker) => {
    const thread = worker.threadId;
    worker.once("exit", () => {
      for (const [id, entry] of standIns) if (entry.thread === thread) drop(id);
    });
  });
}

function standIn(channel: BroadcastChannel, id: string, words: Int32Array, budgetMs: () => number): WorkerRunStandIn {
  let requests = 0;
  return {
    storesAtExit: true,
    async flush() {
      if (Atomics.load(words, STATE) !== OPEN) return;
      const request = ++requests;
      channel.postMessage({ type: "flush", id, request } satisfies Message);
      const deadline = Date.now() + budgetMs();
      while (Atomics.load(words, FLUSHED) < request && Atomics.load(words, STATE) === OPEN && Date.now() < deadline) {
        const seen = Atomics.load(words, FLUSHED);
        await waitAsync(words, FLUSHED, seen, Math.max(0, deadline - Date.now()));
      }
    },
    closeSync(ending, timeoutMs) {
      if (Atomics.load(words, STATE) !== OPEN) return true;
      channel.postMessage({ type: "close", id, ending, timeoutMs } satisfies Message);
      const deadline = Date.now() + timeoutMs;
      while (Atomics.load(words, STATE) === OPEN) {
        const left = deadline - Date.now();
        if (left <= 0) return false;
        Atomics.wait(words, STATE, OPEN, left);
      }
      if (Atomics.load(words, STATE) === CLOSE_FAILED) {
        throw new Error(`a run set up in worker thread ${id.split(":")[0]} could not store its last lines`);
      }
      return true;
    },
  };
}

/** `Atomics.waitAsync` (ES2024; the compiler's library predates it): resolves once `words[index]` may have changed. */
async function waitAsync(words: Int32Array, index: number, value: number, timeoutMs: number): Promise<void> {
  const atomics = Atomics as unknown as {
    waitAsync(array: Int32Array, index: number, value: number, timeout: number): { async: boolean; value: unknown };
  };
  const wait = atomics.waitAsync(words, index, value, timeoutMs);
  if (wait.async) await wait.value;
}
