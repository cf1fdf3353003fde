/** Presence checks every layer needs, in one place. */
import { isOpenCrateError } from "../errors.ts";
import type { NotUtf8Names, ObjectInfo, StorageBackend } from "./backend.ts";

/** The object's info, or undefined when it does not exist. Other errors propagate. */
export async function headIfPresent(backend: StorageBackend, key: string): Promise<ObjectInfo | undefined> {
  try {
    return await backend.head(key);
  } catch (error) {
    if (isOpenCrateError(error, "NOT_FOUND")) return undefined;
    throw error;
  }
}

export async function objectExists(backend: StorageBackend, key: string): Promise<boolean> {
  return (await headIfPresent(backend, key)) !== undefined;
}

/**
 * True when at least one object's key starts with `prefix` (end it with "/" to mean a folder; "" is the root).
 * `notUtf8` as the listing's (ListOptions.notUtf8).
 */
export async function hasObjectsUnder(backend: StorageBackend, prefix: string, notUtf8?: NotUtf8Names): Promise<boolean> {
  return (await firstKeyUnder(backend, prefix, notUtf8)) !== undefined;
}

/** The first key (in key order) that starts with `prefix`, from a one-object listing; undefined when none does. */
export async function firstKeyUnder(backend: StorageBackend, prefix: string, notUtf8?: NotUtf8Names): Promise<string | undefined> {
  for await (const info of backend.list(prefix, notUtf8 === undefined ? { pageSize: 1 } : { pageSize: 1, notUtf8 })) return info.key;
  return undefined;
}
