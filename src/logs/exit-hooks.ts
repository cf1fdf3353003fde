/**
 * One process-wide registry of things to flush when the process ends: at a normal exit (`beforeExit`) and on
 * SIGTERM / SIGINT (Kubernetes sends SIGTERM before it kills a pod; Ctrl-C sends SIGINT).
 *
 * On a signal every registered flushable is flushed (closed, when it has `close`) within a bounded time, then the
 * same signal is raised again with the default behaviour restored, so the process still dies "by SIGTERM" and its
 * parent sees the conventional status. A second Ctrl-C while that flush runs is not intercepted: it kills at once.
 * When the application has SIGTERM/SIGINT listeners of its own, it owns the shutdown: we flush and do not re-raise.
 * Signal listeners exist only while something is registered, so an idle process keeps Node's default handling.
 *
 * What can still be lost: the lines since the last flush when the process dies by SIGKILL (or the OOM killer), a
 * crash (an uncaught exception exits without `beforeExit`), `process.exit()` (no `beforeExit` either: await
 * `oc.close()` first), other signals (SIGHUP, SIGQUIT), and whatever is not stored within the flush time-out.
 */

export interface ExitFlushable {
  flush(): Promise<void>;
  close?(): Promise<void>;
}

export interface ExitHookOptions {
  /** Longest wait for the flushes on a signal before the signal is re-raised anyway. Default 10 000 ms. */
  readonly flushTimeoutMs?: number;
}

const HANDLED_SIGNALS: readonly NodeJS.Signals[] = ["SIGTERM", "SIGINT"];
/** A flush that keeps failing at exit is retried this many `beforeExit` rounds, then the process may end. */
const MAX_FAILED_EXIT_ROUNDS = 3;

interface Registration {
  readonly target: ExitFlushable;
}

const registrations = new Set<Registration>();
let flushTimeoutMs = 10_000;
let listening = false;
let exitFlushRunning = false;
let failedExitRounds = 0;

/** Flush `target` when the process ends. Returns the function that unregisters it (safe to call twice). */
export function registerForExit(target: ExitFlushable): () => void {
  const registration: Registration = { target };
  registrations.add(registration);
  listen();
  return () => {
    registrations.delete(registration);
    if (registrations.size === 0) stopListening();
  };
}

export function configureExitHooks(options: ExitHookOptions): void {
  if (options.flushTimeoutMs !== undefined) flushTimeoutMs = Math.max(0, options.flushTimeoutMs);
}

function listen(): void {
  if (listening) return;
  listening = true;
  process.on("beforeExit", onBeforeExit);
  for (const signal of HANDLED_SIGNALS) process.on(signal, onSignal);
}

function stopListening(): void {
  if (!listening) return;
  listening = false;
  process.removeListener("beforeExit", onBeforeExit);
  removeSignalListeners();
}

function removeSignalListeners(): void {
  for (const signal of HANDLED_SIGNALS) process.removeListener(signal, onSignal);
}

/**
 * The event loop ran dry. Flushing does I/O, which makes Node emit `beforeExit` again afterwards; the next round
 * finds nothing left to store, does no I/O, and the process ends. A flush that keeps failing would loop forever,
 * so after a few failed rounds in a row we stop trying and let the process end.
 */
function onBeforeExit(): void {
  if (exitFlushRunning || registrations.size === 0 || failedExitRounds >= MAX_FAILED_EXIT_ROUNDS) return;
  exitFlushRunning = true;
  void settleAll("flush").then((failures) => {
    exitFlushRunning = false;
    if (failures.length === 0) {
      failedExitRounds = 0;
      return;
    }
    failedExitRounds += 1;
    if (failedExitRounds >= MAX_FAILED_EXIT_ROUNDS) reportFailures("at exit", failures);
  });
}

function onSignal(signal: NodeJS.Signals): void {
  const applicationListens = process.listenerCount(signal) > 1;
  // From here a repeated signal gets the default behaviour (or only the application's listeners).
  removeSignalListeners();
  void flushWithin(flushTimeoutMs, applicationListens ? "flush" : "close").then((outcome) => {
    if (outcome !== "done") reportFailures(`on ${signal}`, outcome === "timeout" ? [`timed out after ${flushTimeoutMs} ms`] : outcome);
    if (!applicationListens) {
      process.kill(process.pid, signal);
      return;
    }
    if (listening && registrations.size > 0) for (const handled of HANDLED_SIGNALS) process.on(handled, onSignal);
  });
}

async function flushWithin(ms: number, method: "flush" | "close"): Promise<"done" | "timeout" | unknown[]> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), ms);
  });
  try {
    const result = await Promise.race([settleAll(method), timeout]);
    if (result === "timeout") return result;
    return result.length === 0 ? "done" : result;
  } finally {
    clearTimeout(timer);
  }
}

/** Flushes (or closes) every registered target at once; resolves with the failures. */
async function settleAll(method: "flush" | "close"): Promise<unknown[]> {
  const targets = [...registrations].map((registration) => registration.target);
  const results = await Promise.allSettled(
    targets.map((target) => (method === "close" && target.close !== undefined ? target.close() : target.flush())),
  );
  return results.flatMap((result) => (result.status === "rejected" ? [result.reason] : []));
}

function reportFailures(when: string, failures: readonly unknown[]): void {
  for (const failure of failures) {
    const reason = failure instanceof Error ? failure.message : String(failure);
    process.stderr.write(`opencrate: could not store log lines ${when}: ${reason}\n`);
  }
}
