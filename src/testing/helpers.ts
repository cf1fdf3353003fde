/** Small assertions and data makers for the conformance cases. */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import type { ObjectInfo, StorageBackend } from "../backends/backend.ts";
import { isOpenCrateError, type ErrorCode, type OpenCrateError } from "../errors.ts";

export const MiB = 1024 * 1024;

/** Awaits `attempt`, asserts it fails with an OpenCrateError of `code`, and returns the error. */
export async function rejectsWithCode(
  attempt: Promise<unknown> | (() => Promise<unknown>),
  code: ErrorCode,
  what: string,
): Promise<OpenCrateError> {
  let caught: unknown;
  try {
    await (typeof attempt === "function" ? attempt() : attempt);
  } catch (error) {
    caught = error;
  }
  if (caught === undefined) assert.fail(`${what}: expected ${code}, but it succeeded`);
  assert.ok(isOpenCrateError(caught, code), `${what}: expected ${code}, got ${describeError(caught)}`);
  return caught;
}

export function describeError(error: unknown): string {
  if (isOpenCrateError(error)) return `${error.code}: ${error.message}`;
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** True when `error` is `original` or has it somewhere down its `cause` chain. */
export function isCausedBy(error: unknown, original: unknown): boolean {
  for (let current = error, depth = 0; current !== undefined && depth < 10; depth++) {
    if (current === original) return true;
    current = current instanceof Error ? current.cause : undefined;
  }
  return false;
}

/** Asserts two byte sequences are equal without printing megabytes on failure. */
export function assertSameBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  assert.equal(actual.byteLength, expected.byteLength, `${what}: length`);
  const a = Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength);
  const b = Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength);
  if (a.equals(b)) return;
  let index = 0;
  while (index < a.length && a[index] === b[index]) index++;
  assert.fail(`${what}: bytes differ first at offset ${index}`);
}

export function randomBody(size: number): Uint8Array {
  return randomBytes(size);
}

/** `body` as an async iterable of `chunkBytes`-sized pieces (the last one shorter). */
export async function* chunksOf(body: Uint8Array, chunkBytes: number): AsyncGenerator<Uint8Array> {
  for (let start = 0; start < body.byteLength; start += chunkBytes) yield body.slice(start, start + chunkBytes);
}

export function utf8(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8");
}

export async function readText(backend: StorageBackend, key: string): Promise<string> {
  return utf8(await backend.get(key));
}

export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

export async function listKeys(backend: StorageBackend, prefix: string, startAfter?: string): Promise<string[]> {
  const infos: ObjectInfo[] = await collect(backend.list(prefix, startAfter === undefined ? {} : { startAfter }));
  return infos.map((info) => info.key);
}

/** Sorted the way keys are ordered (UTF-16 code units, as Array.prototype.sort does). */
export function keyOrder(keys: readonly string[]): string[] {
  return [...keys].sort();
}

export async function readStream(stream: AsyncIterable<Uint8Array | string>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : Buffer.from(chunk));
  return Buffer.concat(chunks);
}

export function assertValidInfo(info: ObjectInfo, key: string, size: number, what: string): void {
  assert.equal(info.key, key, `${what}: key`);
  assert.equal(info.size, size, `${what}: size`);
  assert.equal(typeof info.revision, "string", `${what}: revision type`);
  assert.ok(info.revision.length > 0, `${what}: revision is empty`);
  assert.ok(info.lastModified instanceof Date && !Number.isNaN(info.lastModified.getTime()), `${what}: lastModified`);
}
