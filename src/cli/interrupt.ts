/**
 * How the CLI ends on SIGINT (Ctrl-C) and SIGTERM (`docker stop`, a pod's deletion). main.ts installs the handlers
 * before anything else runs: a process that is PID 1 (a container's entrypoint) is not ended by a signal it has no
 * handler for, so without them a command waiting on a store would ignore both until it was killed.
 *
 * A signal ends the command at once, by that signal (a shell shows 130 for SIGINT, 143 for SIGTERM). A command with
 * something to finish (pull's record) or that runs until it is stopped (`log --follow`, `ui`) takes the first
 * signal over with onInterrupt(); a second one ends it at once all the same.
 *
 * Kept free of the CLI's other modules: main.ts loads it before them.
 */
import { constants } from "node:os";

const SIGNALS = ["SIGINT", "SIGTERM"] as const;

export type InterruptSignal = (typeof SIGNALS)[number];

/** The commands' handlers, the latest last: a signal goes to the latest only. */
const handlers: ((signal: InterruptSignal) => void)[] = [];
let interrupted = false;

/** Installs the handlers; main.ts calls it first. */
export function handleInterrupts(): void {
  for (const signal of SIGNALS) process.on(signal, onSignal);
}

/**
 * Until the returned function is called, the first SIGINT or SIGTERM calls `handler` instead of ending the
 * process; it must then end the command promptly, or stop it so that it returns. A later signal ends the process.
 */
export function onInterrupt(handler: (signal: InterruptSignal) => void): () => void {
  handlers.push(handler);
  return () => {
    const index = handlers.lastIndexOf(handler);
    if (index >= 0) handlers.splice(index, 1);
  };
}

function onSignal(signal: InterruptSignal): void {
  const handler = handlers.at(-1);
  if (interrupted || handler === undefined) {
    process.stderr.write(`opencrate: interrupted (${signal}).\n`);
    endBySignal(signal);
  }
  interrupted = true;
  handler(signal);
}

/** Ends the process by `signal`, as its default action would. */
function endBySignal(signal: InterruptSignal): never {
  for (const handled of SIGNALS) process.off(handled, onSignal);
  process.kill(process.pid, signal);
  // Still here: the signal's default action does not apply (PID 1 of a container ignores it), or someone else
  // listens for it. The status a shell would show.
  process.exit(128 + constants.signals[signal]);
}
