/**
 * Deletes of objects read earlier (a listing, a head), so that a delete never removes what another writer put at
 * the key since: each goes out with `ifRevision`, checked by the store, and a request that lands late (a retry's
 * original, held by the network) deletes nothing once the key holds a newer object.
 *
 * Backends without `conditionalDelete`, and stores found to ignore the condition (MinIO, fake-gcs-server: the
 * backend throws NotSupportedError), get plain deletes: there the old race remains.
 */
import { isOpenCrateError } from "../errors.ts";
import { mapWithConcurrency } from "../cli/pool.ts";
import type { ObjectInfo, StorageBackend } from "./backend.ts";

/** Deletes in flight at once in {@link deleteListed}. */
const CONCURRENCY = 16;

/** "deleted" (or already absent), or "changed": another revision is there now and was left alone. */
export type DeleteOutcome = "deleted" | "changed";

/** Deletes `key` only while it is at `revision` (a plain delete where that cannot be asked for, see above). */
export async function deleteAtRevision(backend: StorageBackend, key: string, revision: string): Promise<DeleteOutcome> {
  if (backend.capabilities.conditionalDelete === true) {
    try {
      await backend.delete(key, { ifRevision: revision });
      return "deleted";
    } catch (error) {
      if (isOpenCrateError(error, "PRECONDITION_FAILED")) return "changed";
      if (!isOpenCrateError(error, "NOT_SUPPORTED")) throw error;
    }
  }
  await backend.delete(key);
  return "deleted";
}

/**
 * Deletes each listed object at the revision its listing gave. Resolves with the keys left alone because they
 * changed since (another writer's objects). The first failure is thrown once the deletes in flight are done.
 */
export async function deleteListed(backend: StorageBackend, listed: readonly ObjectInfo[]): Promise<string[]> {
  const [first, ...rest] = listed;
  if (first === undefined) return [];
  if (backend.capabilities.conditionalDelete !== true) {
    await backend.deleteMany(listed.map((info) => info.key));
    return [];
  }
  const changed: string[] = [];
  // The first alone: a store that ignores the condition is found out by it, and the rest go in one batch.
  try {
    await backend.delete(first.key, { ifRevision: first.revision });
  } catch (error) {
    if (isOpenCrateError(error, "PRECONDITION_FAILED")) changed.push(first.key);
    else if (isOpenCrateError(error, "NOT_SUPPORTED")) {
      await backend.deleteMany(listed.map((info) => info.key));
      return [];
    } else throw error;
  }
  const outcomes = await mapWithConcurrency(rest, CONCURRENCY, (info) => deleteAtRevision(backend, info.key, info.revision));
  rest.forEach((info, index) => {
    if (outcomes[index] === "changed") changed.push(info.key);
  });
  return changed.sort();
}
