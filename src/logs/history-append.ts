/**
 * Appending to a shared log object (`<name>.history.log`) that several writers may append to at once, by
 * compare-and-swap: read the object's revision, append our batches under it (`append` with `ifRevision`, or, on a
 * backend without `append`, get + put old + new with `replace`); when another writer got in first, look again and
 * re-apply only our own batches.
 *
 * Idempotency: a conditional write whose answer was lost (time-out, retried 5xx) may have landed. Every batch has
 * an id, and each write records the ids of the last {@link REMEMBERED_BATCHES} batches in the object's metadata
 * (`oc-batches`); before applying a batch we skip it when the current object already lists it. A backend that keeps
 * no metadata makes this check a no-op; the local backend is one, and its writes are never ambiguous.
 *
 * Cost: with `append`, a head and the new bytes (S3 copies the object server-side from 5 MiB; below that it
 * rewrites it). Without, each append reads and rewrites the whole object.
 */
import type { ObjectInfo, StorageBackend } from "../backends/backend.ts";
import { CREATE_ONLY, ifRevision } from "../backends/backend.ts";
import { headIfPresent } from "../backends/presence.ts";
import { retryPolicyOf, type RetryPolicy } from "../backends/retry-policy.ts";
import { isOpenCrateError, TransientError } from "../errors.ts";

/** Lines one writer hands over in one go, with the id that makes re-applying it detectable. */
export interface AppendBatch {
  readonly id: string;
  readonly bytes: Uint8Array;
}

export const BATCH_IDS_METADATA_KEY = "oc-batches";
/** 32 ids of 16 hex characters stay well inside S3's 2 KB of user metadata. */
export const REMEMBERED_BATCHES = 32;

export const TEXT_CONTENT_TYPE = "text/plain; charset=utf-8";

/**
 * Appends `batches` (in order) to `key`, creating it when absent unless `create` is false (then "absent", with
 * nothing written). Resolves once every batch is in the object exactly once; throws (TransientError after the
 * policy's conflictAttempts, or the backend's error) with nothing applied twice, so the caller can keep the batches
 * and call again later.
 */
export async function appendBatches(
  backend: StorageBackend,
  key: string,
  batches: readonly AppendBatch[],
  policy: RetryPolicy = retryPolicyOf(backend),
  options: { readonly create?: boolean } = {},
): Promise<"appended" | "absent"> {
  if (batches.length === 0) return "appended";
  let conflicts = 0;
  let transients = 0;
  for (let attempt = 0; ; attempt++) {
    if (attempt > 0) await policy.wait(attempt);
    try {
      // head before get: if the object changes in between, the revision we hold is stale and the write fails, so
      // the body we extend is always the one that revision names.
      const current = await headIfPresent(backend, key);
      if (current === undefined && options.create === false) return "absent";
      const applied = current === undefined ? [] : appliedBatchIds(current);
      const todo = batches.filter((batch) => !applied.includes(batch.id));
      if (todo.length === 0) return "appended";
      const metadata = { [BATCH_IDS_METADATA_KEY]: [...applied, ...todo.map((batch) => batch.id)].slice(-REMEMBERED_BATCHES).join(" ") };
      if (current === undefined) {
        await backend.put(key, concatBytes(todo.map((batch) => batch.bytes)), {
          mode: CREATE_ONLY,
          contentType: TEXT_CONTENT_TYPE,
          metadata,
        });
      } else if (backend.append !== undefined) {
        await backend.append(key, concatBytes(todo.map((batch) => batch.bytes)), { ifRevision: current.revision, metadata });
      } else {
        const body = await backend.get(key);
        await backend.put(key, concatBytes([body, ...todo.map((batch) => batch.bytes)]), {
          mode: ifRevision(current.revision),
          contentType: TEXT_CONTENT_TYPE,
          metadata,
        });
      }
      return "appended";
    } catch (error) {
      if (isLostRace(error)) {
        if (!policy.mayRetry("conditional", "conflict", ++conflicts)) {
          throw new TransientError(
            `Gave up appending to ${backend.describe(key)} after ${conflicts} conflicting writes; will retry later.`,
            { path: backend.describe(key), cause: error },
          );
        }
      } else if (isOpenCrateError(error, "TRANSIENT")) {
        if (!policy.mayRetry("conditional", "transient", ++transients)) throw error;
      } else {
        throw error;
      }
    }
  }
}

/** Another writer changed, created or (between head and get) removed the object: read again and retry. */
function isLostRace(error: unknown): boolean {
  return (
    isOpenCrateError(error, "PRECONDITION_FAILED") ||
    isOpenCrateError(error, "ALREADY_EXISTS") ||
    isOpenCrateError(error, "NOT_FOUND")
  );
}

function appliedBatchIds(info: ObjectInfo): string[] {
  const listed = info.metadata?.[BATCH_IDS_METADATA_KEY];
  return listed === undefined || listed === "" ? [] : listed.split(" ");
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1 && parts[0] !== undefined) return parts[0];
  return Buffer.concat(parts);
}
