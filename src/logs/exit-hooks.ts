/**
 * One process-wide registry of things to store when the process ends, however it ends:
 * - the event loop runs dry (`beforeExit`): asynchronous flushes, as many rounds as they need;
 * - `exit` (a normal end, `process.exit(n)` from anywhere, an uncaught exception or unhandled rejection after Node
 *   printed it): nothing asynchronous runs any more, so each target that can (`closeSync`, the log-writer thread)
 *   blocks this thread until its last lines and final run record are stored;
 * - SIGTERM, SIGINT, SIGHUP: the application goes on running (and logging) until the process dies, so lines are
 *   still taken while what is buffered is flushed, again until a flush finds nothing new (a few rounds at most).
 *   Then everything is closed (recorded as killed by the signal): a target that stores at `exit` last and with
 *   `closeSync`, which blocks this thread, so nothing the application logs in between is missed. Then the same
 *   signal is raised again with the default behaviour restored, so the process still dies by it and its parent sees
 *   the conventional status. A second Ctrl-C while that runs is not intercepted: it kills at once. When the
 *   application listens for the signal itself, it owns the shutdown: we only flush, and it decides the exit.
 * - an uncaught exception or unhandled rejection is first handed to `reportCrash` (the CRITICAL line), through
 *   `uncaughtExceptionMonitor`, which changes nothing about how Node then ends the process.
 * Every wait is bounded by the exit flush time-out (OPENCRATE_EXIT_FLUSH_MS, default 10 000 ms). Listeners exist
 * only while something is registered, so an idle process keeps Node's default handling.
 *
 * What can still be lost: the lines since the last flush when the process dies by SIGKILL (or the OOM killer) or
 * another uncaught signal, what is not stored within the time-out (a run's lines not stored are left in a spool
 * folder then, named on stderr: run-writer.ts keepUnstored), for a target without `closeSync`, what an
 * `exit` leaves unflushed, and what the application logs into such a target while its final close on a signal runs.
 */
import { constants } from "node:os";
import { InvalidArgumentError } from "../errors.ts";
import { endingForExitCode, endingForSignal, type RunEnding } from "./run-record.ts";
import { announceToMainThread, closeWorkerRunsAtExit, markWorkerRunsEnded } from "./worker-runs.ts";

export interface ExitFlushable {
  flush(): Promise<void>;
  /** Used instead of `flush` when the event loop runs dry, with the ending the process has if it ends now. */
  flushForExit?(ending: RunEnding): Promise<void>;
  close?(ending: RunEnding): Promise<void>;
  /** Stores what is left before returning (within `timeoutMs`); false on a time-out. Called from `exit`. */
  closeSync?(ending: RunEnding, timeoutMs: number): boolean;
  /** Begins what `closeSync` then waits for, so that all targets store at once (each within `timeoutMs`). */
  beginCloseSync?(ending: RunEnding, timeoutMs: number): void;
  /** True when `closeSync` really blocks until stored: then `beforeExit` leaves this target to `exit`. */
  readonly storesAtExit?: boolean;
  /** An uncaught exception or unhandled rejection is about to end the process (unless the application handles it). */
  reportCrash?(error: unknown, origin: NodeJS.UncaughtExceptionOrigin): void;
  /** Lines taken so far: on a signal, a flush during which this did not change left nothing new to store. */
  readonly linesWritten?: number;
}

export interface ExitHookOptions {
  /** Longest wait for the stores at exit or on a signal. Default OPENCRATE_EXIT_FLUSH_MS, else 10 000 ms. */
  readonly flushTimeoutMs?: number;
}

export const DEFAULT_EXIT_FLUSH_MS = 10_000;
const HANDLED_SIGNALS: readonly NodeJS.Signals[] = ["SIGTERM", "SIGINT", "SIGHUP"];
/** A flush that keeps failing at exit is retried this many `beforeExit` rounds, then the process may end. */
const MAX_FAILED_EXIT_ROUNDS = 3;
/** On a signal, flushes before the final close: at most this many, and none begun after SIGNAL_DRAIN_MS. */
const SIGNAL_DRAIN_ROUNDS = 3;
const SIGNAL_DRAIN_MS = 2_000;

interface Registration {
  readonly target: ExitFlushable;
}

const registrations = new Set<Registration>();
let configuredTimeoutMs: number | undefined;
let listening = false;
let exitFlushRunning = false;
let failedExitRounds = 0;

/** OPENCRATE_EXIT_FLUSH_MS as a number of milliseconds (default 10 000); InvalidArgumentError when malformed. */
export function exitFlushTimeoutFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.OPENCRATE_EXIT_FLUSH_MS;
  if (raw === undefined || raw.trim() === "") return DEFAULT_EXIT_FLUSH_MS;
  if (!/^\d{1,9}$/.test(raw.trim())) {
    throw new InvalidArgumentError(
      `OPENCRATE_EXIT_FLUSH_MS must be a whole number of milliseconds (0 to 999999999), got ${JSON.stringify(raw)}.`,
    );
  }
  return Number(raw.trim());
}

function flushTimeoutMs(): number {
  if (configuredTimeoutMs !== undefined) return configuredTimeoutMs;
  try {
    return exitFlushTimeoutFromEnv();
  } catch {
    return DEFAULT_EXIT_FLUSH_MS; // setup() reports a malformed value; the exit path must not throw
  }
}

/** Store `target` when the process ends. Returns the function that unregisters it (safe to call twice). */
export function registerForExit(target: ExitFlushable): () => void {
  const registration: Registration = { target };
  registrations.add(registration);
  listen();
  // In a worker thread, the main thread's hooks close it too (this thread's own only see its own end).
  const withdraw = announceToMainThread(target);
  return () => {
    withdraw();
    registrations.delete(registration);
    if (registrations.size === 0) stopListening();
  };
}

export function configureExitHooks(options: ExitHookOptions): void {
  if (options.flushTimeoutMs !== undefined) configuredTimeoutMs = Math.max(0, options.flushTimeoutMs);
}

closeWorkerRunsAtExit(registerForExit, flushTimeoutMs);

function listen(): void {
  if (listening) return;
  listening = true;
  process.on("beforeExit", onBeforeExit);
  process.on("exit", onExit);
  process.on("uncaughtExceptionMonitor", onCrash);
  for (const signal of HANDLED_SIGNALS) process.on(signal, onSignal);
}

function stopListening(): void {
  if (!listening) return;
  listening = false;
  process.removeListener("beforeExit", onBeforeExit);
  process.removeListener("exit", onExit);
  process.removeListener("uncaughtExceptionMonitor", onCrash);
  removeSignalListeners();
}

function removeSignalListeners(): void {
  for (const signal of HANDLED_SIGNALS) process.removeListener(signal, onSignal);
}

function targets(): ExitFlushable[] {
  return [...registrations].map((registration) => registration.target);
}

function onCrash(error: unknown, origin: NodeJS.UncaughtExceptionOrigin): void {
  for (const target of targets()) {
    try {
      target.reportCrash?.(error, origin);
    } catch {
      // Reporting must never change how the process ends.
    }
  }
}

/**
 * The event loop ran dry. Flushing does I/O, which makes Node emit `beforeExit` again afterwards; the next round
 * finds nothing left to store, does no I/O, and the process ends. A flush that keeps failing would loop forever,
 * so after a few failed rounds in a row we stop trying and let the process end. Targets that store at `exit`
 * are left to it (a round trip to their thread would itself be I/O, and so another round, forever).
 */
function onBeforeExit(): void {
  const pending = targets().filter((target) => target.storesAtExit !== true);
  if (exitFlushRunning || pending.length === 0 || failedExitRounds >= MAX_FAILED_EXIT_ROUNDS) return;
  exitFlushRunning = true;
  const ending = endingForExitCode(pendingExitCode());
  void settleAll(pending, (target) => (target.flushForExit === undefined ? target.flush() : target.flushForExit(ending))).then((failures) => {
    exitFlushRunning = false;
    if (failures.length === 0) {
      failedExitRounds = 0;
      return;
    }
    failedExitRounds += 1;
    if (failedExitRounds >= MAX_FAILED_EXIT_ROUNDS) reportFailures("at exit", failures);
  });
}

/** The code the process ends with if it ends now: `process.exitCode`, else 0. */
function pendingExitCode(): number {
  const code = process.exitCode;
  if (code === undefined || code === null) return 0;
  const number = typeof code === "number" ? code : Number.parseInt(code, 10);
  return Number.isInteger(number) ? number : 0;
}

/** The process is ending with `code` (normally, by `process.exit`, or after an uncaught error). */
function onExit(code: number): void {
  const budget = flushTimeoutMs();
  const deadline = Date.now() + budget;
  const ending = endingForExitCode(code);
  let timedOut = false;
  beginCloses(ending, budget);
  for (const target of targets()) {
    if (target.closeSync === undefined) continue;
    try {
      if (!target.closeSync(ending, Math.max(0, deadline - Date.now()))) timedOut = true;
    } catch (error) {
      reportFailures("at exit", [error]);
    }
  }
  if (timedOut) reportFailures("at exit", [`timed out after ${budget} ms (OPENCRATE_EXIT_FLUSH_MS)`]);
  markWorkerRunsEnded();
}

/** Every target's last close is sent before any is waited for: a slow one must not eat the others' time. */
function beginCloses(ending: RunEnding, timeoutMs: number, only: (target: ExitFlushable) => boolean = () => true): void {
  for (const target of targets()) {
    if (!only(target)) continue;
    try {
      target.beginCloseSync?.(ending, timeoutMs);
    } catch {
      // closeSync tries again and reports.
    }
  }
}

function onSignal(signal: NodeJS.Signals): void {
  const applicationListens = process.listenerCount(signal) > 1;
  // From here a repeated signal gets the default behaviour (or only the application's listeners).
  removeSignalListeners();
  const budget = flushTimeoutMs();
  const deadline = Date.now() + budget;
  if (applicationListens) {
    void settleWithin(budget, (target) => target.flush()).then((outcome) => {
      reportSignalOutcome(signal, budget, outcome);
      if (listening && registrations.size > 0) for (const handled of HANDLED_SIGNALS) process.on(handled, onSignal);
    });
    return;
  }
  const ending = endingForSignal(signal);
  const drainUntil = Date.now() + Math.min(budget, SIGNAL_DRAIN_MS);
  void settleWithin(budget, (target) => endOnSignal(target, ending, drainUntil)).then((outcome) => {
    reportSignalOutcome(signal, budget, outcome);
    // Last, and without giving the event loop back: the lines logged until now are all in these closes.
    let timedOut = false;
    beginCloses(ending, Math.max(0, deadline - Date.now()), closesSyncOnSignal);
    for (const target of targets()) {
      if (!closesSyncOnSignal(target)) continue;
      try {
        if (target.closeSync?.(ending, Math.max(0, deadline - Date.now())) === false) timedOut = true;
      } catch (error) {
        reportFailures(`on ${signal}`, [error]);
      }
    }
    if (timedOut && outcome !== "timeout") reportFailures(`on ${signal}`, [`timed out after ${budget} ms`]);
    // Dying by the signal skips `exit`; nothing else is stored after this.
    stopListening();
    process.kill(process.pid, signal);
    // Still here: the signal's default action does not apply to us (PID 1 of a container ignores it).
    process.exit(128 + constants.signals[signal]);
  });
}

/** A target that blocks until stored at `exit` is closed that way on a signal too, after every other target. */
function closesSyncOnSignal(target: ExitFlushable): boolean {
  return target.storesAtExit === true && target.closeSync !== undefined;
}

/**
 * The application still runs and may still log: flushes while lines keep coming (within the rounds and the time
 * allowed), then the close, unless `closeSync` does it at the very end.
 */
async function endOnSignal(target: ExitFlushable, ending: RunEnding, drainUntil: number): Promise<void> {
  for (let round = 0; round < SIGNAL_DRAIN_ROUNDS && (round === 0 || Date.now() < drainUntil); round++) {
    const before = target.linesWritten;
    try {
      await target.flush();
    } catch (error) {
      // The close stores (and reports) what this flush could not; a target without one reports it here.
      if (target.close === undefined && !closesSyncOnSignal(target)) throw error;
      break;
    }
    if (before === undefined || target.linesWritten === before) break;
  }
  if (closesSyncOnSignal(target)) return;
  if (target.close !== undefined) await target.close(ending);
}

function reportSignalOutcome(signal: NodeJS.Signals, budget: number, outcome: "done" | "timeout" | unknown[]): void {
  if (outcome !== "done") reportFailures(`on ${signal}`, outcome === "timeout" ? [`timed out after ${budget} ms`] : outcome);
}

async function settleWithin(ms: number, store: (target: ExitFlushable) => Promise<void>): Promise<"done" | "timeout" | unknown[]> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), ms);
  });
  try {
    const result = await Promise.race([settleAll(targets(), store), timeout]);
    if (result === "timeout") return result;
    return result.length === 0 ? "done" : result;
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `store` on every target at once; resolves with the failures. */
async function settleAll(all: readonly ExitFlushable[], store: (target: ExitFlushable) => Promise<void>): Promise<unknown[]> {
  const results = await Promise.allSettled(all.map((target) => store(target)));
  return results.flatMap((result) => (result.status === "rejected" ? [result.reason] : []));
}

function reportFailures(when: string, failures: readonly unknown[]): void {
  for (const failure of failures) {
    const reason = failure instanceof Error ? failure.message : String(failure);
    process.stderr.write(`opencrate: could not store log lines ${when}: ${reason}\n`);
  }
}
