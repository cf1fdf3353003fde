/**
 * Running one conditional write (If-None-Match / If-Match) to a decision.
 *
 * Two traps:
 * - 409 ConditionalRequestConflict means a concurrent operation interfered and nothing was written: repeat.
 * - A failure after the SDK retried (or after a time-out) may hide our own success: the first attempt landed,
 *   its response was lost, and the retry saw our object and answered 412. Every conditional write carries a
 *   random writer token in its user metadata; in those cases the object is read back, and our token there
 *   means the write did happen. When that read-back fails too, the outcome stays unknown: TRANSIENT, never a guess.
 */
import { randomUUID } from "node:crypto";
import {
  attemptsOf,
  isConditionalConflict,
  isNoSuchKey,
  isNoSuchUpload,
  isPreconditionFailed,
  isTransient,
  outcomeUnknownError,
} from "./errors.ts";
import type { RetryPolicy } from "../retry-policy.ts";

export interface ConditionalWriteOptions<T> {
  /** Sends the write once (the SDK's own retries happen inside). */
  readonly write: () => Promise<T>;
  /** The stored object's info when it carries this write's token, else undefined. Called only when the outcome
   * of a failed write is unknown. */
  readonly readBackIfOurs: () => Promise<T | undefined>;
  /** Whether the body can be sent again (after a 409, as often as the policy's conflictAttempts allow). */
  readonly replayable: boolean;
  readonly retry: RetryPolicy;
  readonly signal?: AbortSignal | undefined;
}

export function newWriterToken(): string {
  return randomUUID();
}

/** Returns the write's result, or throws the SDK error that decided it, or outcomeUnknownError(…) (the caller maps it). */
export async function runConditionalWrite<T>(options: ConditionalWriteOptions<T>): Promise<T> {
  let retried = false;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await options.write();
    } catch (error) {
      if (attemptsOf(error) > 1) retried = true;
      if (isConditionalConflict(error)) {
        if (!options.replayable || !options.retry.mayRetry("conditional", "conflict", attempt)) throw error;
        await options.retry.wait(attempt, options.signal);
        continue;
      }
      const outcomeUnknown =
        isPreconditionFailed(error) || isNoSuchUpload(error) ? retried : isTransient(error);
      if (outcomeUnknown) {
        let ours: T | undefined;
        try {
          ours = await options.readBackIfOurs();
        } catch (readBackError) {
          // Unsettled, a 412 would read as a definite "taken" / "changed" (and backup() takes ALREADY_EXISTS as
          // "move to the next name"). A missing object is an answer: not ours now.
          if (!isTransient(error) && !isNoSuchKey(readBackError)) throw outcomeUnknownError(error, readBackError);
        }
        if (ours !== undefined) return ours;
      }
      throw error;
    }
  }
}
