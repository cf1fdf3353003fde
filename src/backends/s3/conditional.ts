/**
 * S3's side of settling a conditional write (If-None-Match / If-Match; see ../conditional-write.ts): which S3
 * failures may hide our own success, and how an unsettled one is reported. 409 ConditionalRequestConflict wrote
 * nothing and goes again; a 412 after the SDK retried may be our own first attempt, landed with its answer lost.
 */
import { settleConditionalWrite } from "../conditional-write.ts";
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

/** Returns the write's result, or throws the SDK error that decided it, or outcomeUnknownError(…) (the caller maps it). */
export async function runConditionalWrite<T>(options: ConditionalWriteOptions<T>): Promise<T> {
  let retried = false;
  const settled = await settleConditionalWrite<T, undefined>({
    ...options,
    classify: (error) => {
      if (attemptsOf(error) > 1) retried = true;
      if (isConditionalConflict(error)) return "conflict";
      // A 412 (or a vanished upload) is only ambiguous once some attempt was retried; a transient failure always is.
      const unknown = isPreconditionFailed(error) || isNoSuchUpload(error) ? retried : isTransient(error);
      return unknown ? "unknown" : "final";
    },
    readBack: async () => {
      try {
        const ours = await options.readBackIfOurs();
        return ours === undefined ? { theirs: undefined } : { ours };
      } catch (error) {
        if (isNoSuchKey(error)) return "absent";
        throw error;
      }
    },
  });
  switch (settled.outcome) {
    case "written":
      return settled.value;
    case "unknown":
      // Unsettled, a 412 would read as a definite "taken" / "changed" (and backup() takes ALREADY_EXISTS as "move
      // to the next name"); a transient failure already says "unknown".
      throw isTransient(settled.error) ? settled.error : outcomeUnknownError(settled.error, settled.readError);
    default:
      throw settled.error;
  }
}
