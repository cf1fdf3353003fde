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

/**
 * Asserts how `backend` lists folder markers written under "m/" (`m/jsons/` and `m/sub/` empty, `m/full/` holding 25
 * bytes, `m/sub/f.txt` 25 bytes): a zero-byte key ending in "/" is no object, one that holds bytes is, and both
 * still make their folders.
 */
export async function assertFolderMarkersListed(backend: StorageBackend): Promise<void> {
  const listed: [string, number][] = [];
  for await (const info of backend.list("m/")) listed.push([info.key, info.size]);
  assert.deepEqual(listed, [["m/full/", 25], ["m/sub/f.txt", 25]]);
  assert.deepEqual((await backend.listPage("m/")).prefixes, ["m/full/", "m/jsons/", "m/sub/"]);
  assert.deepEqual((await backend.listPage("m/jsons/")).objects, []);
  assert.deepEqual((await backend.listPage("m/sub/")).objects.map((info) => info.key), ["m/sub/f.txt"]);
  assert.deepEqual((await backend.listPage("m/full/")).objects.map((info) => [info.key, info.size]), [["m/full/", 25]]);
}
