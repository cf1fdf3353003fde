/**
 * The library's one source of time for what tests must control: backup timestamps, the log flush interval and
 * lock waits. Production code reads it through `clock()`; tests swap in a manual clock (see test/support) so they
 * advance time instead of sleeping. Not part of the public API.
 */
import { setTimeout as sleepFor } from "node:timers/promises";

export interface Clock {
  now(): Date;
  /** Resolves after `ms`; rejects with an AbortError (cause: the signal's reason) when `signal` aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Calls `callback` once after `ms`, without keeping the process alive; returns a function that cancels it. */
  setTimer(ms: number, callback: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => new Date(),
  sleep: (ms, signal) => sleepFor(ms, undefined, signal === undefined ? {} : { signal }),
  setTimer(ms, callback) {
    const timer = setTimeout(callback, ms);
    timer.unref();
    return () => clearTimeout(timer);
  },
};

let current: Clock = systemClock;

export function clock(): Clock {
  return current;
}

/** Makes `replacement` the clock until the returned function restores the previous one (for tests). */
export function useClock(replacement: Clock): () => void {
  const previous = current;
  current = replacement;
  return () => {
    current = previous;
  };
}

let machineNow: () => number = Date.now;

/**
 * This machine's wall clock, as other machines see it: what S3 requests are signed with. Always the real time (a
 * test's manual clock above, stopped days in the past, must not sign requests), unless a test installs a wrong one
 * with useMachineTime to play a machine whose clock is off.
 */
export function machineTime(): number {
  return machineNow();
}

/** Makes `now` this machine's wall clock until the returned function restores the previous one (for tests). */
export function useMachineTime(now: () => number): () => void {
  const previous = machineNow;
  machineNow = now;
  return () => {
    machineNow = previous;
  };
}
