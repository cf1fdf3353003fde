/** Assertion helpers shared by the test suites. */
import assert from "node:assert/strict";
import type { StorageBackend } from "../../src/backends/backend.ts";
import { isOpenCrateError, type ErrorCode, type OpenCrateError } from "../../src/errors.ts";

/** Awaits `attempt` (or calls it), asserts it fails with an OpenCrateError of `code`, and returns the error. */
export async function expectCode(
  attempt: Promise<unknown> | (() => unknown),
  code: ErrorCode,
  label = "",
): Promise<OpenCrateError> {
  try {
    await (typeof attempt === "function" ? attempt() : attempt);
  } catch (error) {
    assert.ok(
      isOpenCrateError(error, code),
      `${label}: expected ${code}, got ${isOpenCrateError(error) ? error.code : String(error)}: ${(error as Error)?.message}`,
    );
    return error;
  }
  assert.fail(`${label}: expected ${code}, but it succeeded`);
}

/** Every key under a prefix, sorted. */
export async function collectKeys(backend: StorageBackend, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of backend.list(prefix)) keys.push(info.key);
  return keys.sort();
}

export async function readText(backend: StorageBackend, key: string): Promise<string> {
  return Buffer.from(await backend.get(key)).toString("utf8");
}
