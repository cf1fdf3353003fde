/**
 * "Did my lost conditional write land?", settled in one place for every conditional write of the library: the S3
 * and GCS backends' create-only and compare-and-swap writes, copies and appends, and the version claims and run
 * records written above them.
 *
 * Each such write carries a fresh writer token (in the object's metadata, or its body). A failure that may hide
 * the write's own success (a time-out or reset, a 5xx after the SDK retried, a 412 or "already exists" that a
 * retry of our own landed write would also get) is settled by reading the object back: our token there means the
 * write happened; another token means someone else's object is there; when the read fails too, the outcome stays
 * unknown, never guessed. A failure that wrote nothing but may go again (S3's 409 ConditionalRequestConflict) is
 * sent again within the retry policy's attempts.
 */
import { randomUUID } from "node:crypto";
import type { RetryPolicy } from "./retry-policy.ts";

/** User-metadata key of the writer token (S3 x-amz-meta-oc-token, GCS custom metadata). */
export const WRITER_TOKEN_KEY = "oc-token";

export function newWriterToken(): string {
  return randomUUID();
}

/** What reading the target back found: our write (its value), another writer's object, or nothing. */
export type ReadBack<T, S> = { readonly ours: T } | { readonly theirs: S } | "absent";

export type Settled<T, S> =
  | { readonly outcome: "written"; readonly value: T }
  /** Nothing of ours is there: the failure was final, or the read-back found no object. */
  | { readonly outcome: "failed"; readonly error: unknown }
  /** Another writer's object is there: `stored` as read back, undefined when the failure itself said so. */
  | { readonly outcome: "taken"; readonly error: unknown; readonly stored: S | undefined }
  /** The read-back failed too: whether the write landed is unknown. */
  | { readonly outcome: "unknown"; readonly error: unknown; readonly readError: unknown };

export interface ConditionalWrite<T, S> {
  /** Sends the write once (an SDK's own retries happen inside). */
  readonly write: () => Promise<T>;
  /** How the failure of send number `send` (from 1) ended: nothing written but may go again ("conflict"),
   * possibly landed ("unknown"), another writer's object there for certain, with no read-back needed ("theirs"),
   * or decided ("final"). */
  readonly classify: (error: unknown, send: number) => "conflict" | "unknown" | "theirs" | "final";
  /** Reads the target back, telling our token from another writer's. */
  readonly readBack: () => Promise<ReadBack<T, S>>;
  /** A read-back failure that ends the call (it is thrown) instead of leaving the outcome unknown. */
  readonly fatalReadError?: (error: unknown) => boolean;
  readonly retry: RetryPolicy;
  /** Whether the body can be sent again: after a conflict, and (with `resendUnsettled`) after a lost answer. */
  readonly replayable: boolean;
  /** Sends the same write (same token) again, within the policy's attempts, while a lost answer reads back as
   * absent or cannot be read. */
  readonly resendUnsettled?: boolean;
  readonly signal?: AbortSignal | undefined;
}

/** Runs `spec.write` to a settled outcome; throws only a fatal read-back error or an abort during a wait. */
export async function settleConditionalWrite<T, S = undefined>(spec: ConditionalWrite<T, S>): Promise<Settled<T, S>> {
  let conflicts = 0;
  let resends = 0;
  for (let send = 1; ; send++) {
    let error: unknown;
    try {
      return { outcome: "written", value: await spec.write() };
    } catch (caught) {
      error = caught;
    }
    // A write the caller stopped never reaches its commit: nothing can have landed.
    const kind = spec.signal?.aborted === true ? "final" : spec.classify(error, send);
    if (kind === "conflict" && spec.replayable && spec.retry.mayRetry("conditional", "transient", ++conflicts)) {
      await spec.retry.wait(conflicts, spec.signal);
      continue;
    }
    if (kind === "theirs") return { outcome: "taken", error, stored: undefined };
    if (kind !== "unknown") return { outcome: "failed", error };
    let unsettled: Settled<T, S>;
    try {
      const found = await spec.readBack();
      if (found !== "absent") return "ours" in found ? { outcome: "written", value: found.ours } : { outcome: "taken", error, stored: found.theirs };
      unsettled = { outcome: "failed", error };
    } catch (readError) {
      if (spec.fatalReadError?.(readError) === true) throw readError;
      unsettled = { outcome: "unknown", error, readError };
    }
    const resend = spec.resendUnsettled === true && spec.replayable;
    if (!resend || !spec.retry.mayRetry("conditional", "transient", ++resends)) return unsettled;
    await spec.retry.wait(resends, spec.signal);
  }
}
