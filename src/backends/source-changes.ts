/**
 * Conditional copies under a busy source. A create-only or compare-and-swap copy reads its source at one revision
 * (an ETag, a generation), so that the bytes and the metadata it writes belong to one state. When another writer
 * replaces the source between that read and the copy, the copy fails on the revision. A writer that saves in a
 * loop can make that happen every time, so after a few tries the copy goes through a private snapshot instead:
 * one unconditional store-side copy of the source as it is at that moment (atomic: one whole state with its own
 * metadata) to a temporary key nobody else writes, then the conditional copy from there, then the temporary key
 * is deleted. So `copy` copies some complete state of the source, whichever was current, and never fails
 * because the source is busy.
 */
import { tempName } from "./temp-names.ts";
import type { RetryPolicy } from "./retry-policy.ts";

/** Direct attempts before going through a snapshot. */
const DIRECT_TRIES = 3;

/** Thrown by one attempt of a copy whose pinned source revision was gone when the copy reached it. */
export class SourceReplaced extends Error {
  constructor(cause: unknown) {
    super("the copy source was replaced after its revision was read", { cause });
    this.name = "SourceReplaced";
  }
}

export interface BusySourceCopy<T> {
  /** The source key. */
  readonly from: string;
  /** The target key (the temporary key is made next to it). */
  readonly to: string;
  /** One attempt at the conditional copy from `source` (the source, or its snapshot) to the target. */
  copyFrom(source: string): Promise<T>;
  /** Whether `copyFrom` failed because its source was replaced after its revision was read. */
  sourceChanged(error: unknown): boolean;
  /** Copies `from` as it is now to `temporary`: one store-side copy with no condition. */
  snapshot(temporary: string): Promise<void>;
  /** Deletes the temporary key (failures are ignored). */
  remove(temporary: string): Promise<void>;
  readonly signal?: AbortSignal | undefined;
  /** The waits between direct tries, so that racing copies spread out. */
  readonly retry: RetryPolicy;
}

/** See the file header. */
export async function copyFromBusySource<T>(copy: BusySourceCopy<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await copy.copyFrom(copy.from);
    } catch (error) {
      if (!copy.sourceChanged(error) || copy.signal?.aborted === true) throw error;
      if (attempt >= DIRECT_TRIES) break;
    }
    await copy.retry.wait(attempt, copy.signal);
  }
  const temporary = temporaryKeyNextTo(copy.to);
  try {
    await copy.snapshot(temporary);
    return await copy.copyFrom(temporary);
  } finally {
    await copy.remove(temporary).catch(() => undefined);
  }
}

/** A hidden key in the folder of `key`, a temp named with this process as its writer (see temp-names.ts). */
function temporaryKeyNextTo(key: string): string {
  const slash = key.lastIndexOf("/");
  return `${slash < 0 ? "" : key.slice(0, slash + 1)}${tempName("copy-")}`;
}
