/**
 * The log-writer thread: for each run of the process, takes the run's backend (rebuilt from its recipe once, then
 * shared: worker-backends.ts), goes on with the run from where the main thread started it (its RunWriter), and
 * answers the main thread. Because it has its own event loop, it keeps storing lines while the main thread is
 * blocked (in an `exit` listener waiting for the final flush, or in a long synchronous computation).
 */
import { writeSync } from "node:fs";
import { parentPort } from "node:worker_threads";
import type { StorageBackend } from "../backends/backend.ts";
import { retryPolicyOf } from "../backends/retry-policy.ts";
import { isOpenCrateError } from "../errors.ts";
import type { RunEnding } from "./run-record.ts";
import { RunWriter } from "./run-writer.ts";
import type { FromWorker, ToWorker } from "./sink-protocol.ts";
import { CLOSE_FAILED, CLOSE_STORED, sendError } from "./sink-protocol.ts";
import { WorkerBackends } from "./worker-backends.ts";

const port = parentPort;
if (port === null) throw new Error("sink-worker.ts runs only as a worker thread");

/**
 * Closes sent from an `exit` listener still running. The main thread, blocked there, never prints what this
 * thread writes to its stderr, so the warnings raised meanwhile are written to the process's stderr at once.
 */
let exitCloses = 0;
process.on("warning", (warning: Error & { code?: string }) => {
  if (exitCloses === 0) return;
  const code = warning.code === undefined ? "" : `[${warning.code}] `;
  try {
    writeSync(2, `(node:${process.pid}) ${code}${warning.name}: ${warning.message}\n`);
  } catch {
    // Nowhere left to say it.
  }
});

interface OpenRun {
  readonly backend: StorageBackend;
  readonly writer: RunWriter;
}

const runs = new Map<number, OpenRun>();
const backends = new WorkerBackends();
const send = (message: FromWorker): void => port.postMessage(message);

port.on("message", (message: ToWorker) => {
  switch (message.type) {
    case "open":
      open(message);
      return;
    case "lines":
      runs.get(message.sink)?.writer.write(message.text);
      return;
    case "touch":
      runs.get(message.sink)?.writer.touch();
      return;
    case "flush":
      void answer(message.id, () => runOf(message.sink).writer.flush());
      return;
    case "close":
      void answer(message.id, () => close(message));
      return;
  }
});

function runOf(sink: number): OpenRun {
  const run = runs.get(sink);
  // The main thread sends nothing for a run before "open" answered or after "close": a broken protocol.
  if (run === undefined) throw new Error(`the log writer thread has no run ${sink}`);
  return run;
}

function open(message: Extract<ToWorker, { type: "open" }>): void {
  let backend: StorageBackend | undefined;
  try {
    backend = backends.acquire(message.recipe);
    const writer = RunWriter.adopt(backend, message.options, message.started);
    runs.set(message.sink, { backend, writer });
    send({ type: "done", id: message.id, path: writer.path });
  } catch (error) {
    if (backend !== undefined) void backends.release(backend);
    send({ type: "done", id: message.id, error: sendError(error) });
  }
}

/**
 * The last lines and the final record, then the flag a blocked main thread waits on, then the backend back. A close
 * that fails and is not final keeps the run (its lines are still queued) for the next "close".
 */
async function close(message: Extract<ToWorker, { type: "close" }>): Promise<void> {
  const flag = new Int32Array(message.closed);
  let outcome = CLOSE_FAILED;
  const run = runs.get(message.sink);
  const atExit = message.retryUntil !== undefined;
  if (atExit) exitCloses += 1;
  try {
    // Also when "open" failed: the flag must still be set, or a blocked main thread waits out its time-out.
    if (run === undefined) throw new Error(`the log writer thread has no run ${message.sink}`);
    if (message.final && message.retryUntil !== undefined) await closeWithin(run, message.ending, message.retryUntil);
    await run.writer.close(message.ending, { final: message.final });
    outcome = CLOSE_STORED;
  } finally {
    const done = outcome === CLOSE_STORED || message.final;
    if (done && run !== undefined && runs.get(message.sink) === run) runs.delete(message.sink);
    if (atExit) {
      // A warning is emitted on the next tick: it is printed before the main thread may let the process end.
      await new Promise((resolve) => process.nextTick(resolve));
      exitCloses -= 1;
    }
    Atomics.store(flag, 0, outcome);
    Atomics.notify(flag, 0);
    if (done && run !== undefined) await backends.release(run.backend);
  }
}

/**
 * Closes (not the last try) until that succeeds, fails in a way that trying again does not mend (only TRANSIENT
 * failures are tried again), or `deadline` comes. An attempt still running then is left running: the last try
 * follows it, so the run's record ends even when the store hangs.
 */
async function closeWithin(run: OpenRun, ending: RunEnding, deadline: number): Promise<void> {
  const policy = retryPolicyOf(run.backend);
  for (let retry = 1; ; retry++) {
    const attempt = run.writer.close(ending).then(
      () => "stored" as const,
      (error: unknown) => (isOpenCrateError(error, "TRANSIENT") ? ("transient" as const) : ("lasting" as const)),
    );
    const outcome = await Promise.race([attempt, until(deadline)]);
    if (outcome === "late") return run.writer.endIncomplete(ending);
    if (outcome !== "transient") return;
    if (!(await policy.waitBefore(retry, deadline))) return;
  }
}

function until(deadline: number): Promise<"late"> {
  return new Promise((resolve) => setTimeout(() => resolve("late"), Math.max(0, deadline - Date.now())).unref());
}

async function answer(id: number, work: () => Promise<void>): Promise<void> {
  try {
    await work();
    send({ type: "done", id });
  } catch (error) {
    send({ type: "done", id, error: sendError(error) });
  }
}
