/** What a writer that names the state it expects (create-only, compare-and-swap) asks of the store and meets. */
import { isOpenCrateError } from "../errors.ts";
import type { StorageBackend } from "./backend.ts";

/** The store enforces both conditions, so writes can name what they expect. */
export function enforcesConditions(backend: StorageBackend): boolean {
  return backend.capabilities.createOnly && backend.capabilities.compareAndSwap;
}

/** Another writer's object is there, or is gone, where a condition named a state. */
export function lostCondition(error: unknown): boolean {
  return isOpenCrateError(error, "PRECONDITION_FAILED") || isOpenCrateError(error, "ALREADY_EXISTS") || isOpenCrateError(error, "NOT_FOUND");
}
