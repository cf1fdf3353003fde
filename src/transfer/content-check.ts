/**
 * Checking downloaded content against the checksum a store gives (MD5, SHA-256, CRC32C). A listing's checksum may be
 * tentative (an S3 ETag is the MD5 unless the object is SSE-KMS/SSE-C encrypted): only a mismatch then costs a
 * head(), whose exact answer decides.
 */
import { createHash } from "node:crypto";
import { type FileHandle, open } from "node:fs/promises";
import type { ObjectInfo, StorageBackend } from "../backends/backend.ts";
import { crc32c } from "../backends/crc32c.ts";

/** A running checksum whose hex digest compares with ObjectInfo.checksum.value. */
export interface ContentHash {
  update(bytes: Uint8Array): void;
  digest(): string;
}

/** A running CRC32C; `value` is the number, for combining with other ranges' values. */
export class Crc32cHash implements ContentHash {
  value = 0;

  update(bytes: Uint8Array): void {
    this.value = crc32c(bytes, this.value);
  }

  digest(): string {
    return crc32cHex(this.value);
  }
}

export function hashFor(info: ObjectInfo): ContentHash | undefined {
  const algorithm = info.checksum?.algorithm;
  if (algorithm === "crc32c") return new Crc32cHash();
  if (algorithm !== "md5" && algorithm !== "sha256") return undefined;
  const hash = createHash(algorithm);
  return { update: (bytes) => hash.update(bytes), digest: () => hash.digest("hex") };
}

export function crc32cHex(value: number): string {
  return (value >>> 0).toString(16).padStart(8, "0");
}

const HASH_READ_BYTES = 4 * 1024 * 1024;

/** A buffer for hashFile to read into, for a caller that hashes many parts one after another. */
export function hashReadBuffer(): Buffer {
  return Buffer.allocUnsafe(HASH_READ_BYTES);
}

/**
 * Feeds `length` bytes of the file at `path` from `start`, read in large blocks into `buffer` (a fresh one when
 * not given: V8 frees such buffers only once many have piled up, so callers hashing part after part pass one).
 */
export async function hashFile(
  path: string,
  hash: ContentHash,
  start = 0,
  length = Number.POSITIVE_INFINITY,
  buffer: Buffer = hashReadBuffer(),
): Promise<void> {
  const handle = await open(path, "r");
  try {
    await hashOpenFile(handle, hash, start, length, buffer);
  } finally {
    await handle.close();
  }
}

/** hashFile on a file already open for reading. */
export async function hashOpenFile(handle: FileHandle, hash: ContentHash, start: number, length: number, buffer: Buffer): Promise<void> {
  for (let position = start, left = length; left > 0; ) {
    const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.byteLength, left), position);
    if (bytesRead === 0) break;
    hash.update(buffer.subarray(0, bytesRead));
    position += bytesRead;
    left -= bytesRead;
  }
}

export type ContentCheck =
  | { readonly kind: "verified"; readonly algorithm: string }
  /** The store has no checksum for the object after all: only the size was checked. */
  | { readonly kind: "size-only" }
  | { readonly kind: "mismatch"; readonly detail: string };

/**
 * Compares the hex digest of content of the listed size with the checksum `info` gives. A mismatch with a
 * tentative checksum is settled by head(): its exact checksum, or none (the size then stands alone); an object whose
 * revision changed since the listing is a mismatch.
 */
export async function checkContent(
  actual: string,
  info: ObjectInfo,
  key: string,
  backend: StorageBackend,
  signal: AbortSignal | undefined,
): Promise<ContentCheck> {
  const { checksum } = info;
  if (checksum === undefined) return { kind: "size-only" };
  if (actual === checksum.value.toLowerCase()) return { kind: "verified", algorithm: checksum.algorithm };
  const claim = `${checksum.algorithm} ${actual} instead of ${checksum.value}`;
  if (checksum.tentative !== true) return { kind: "mismatch", detail: claim };

  const exact = await backend.head(key, signal === undefined ? {} : { signal });
  if (exact.revision !== info.revision) {
    return { kind: "mismatch", detail: `${claim}, and the object changed since it was listed (pull again)` };
  }
  if (exact.checksum === undefined) return { kind: "size-only" };
  if (exact.checksum.tentative !== true && exact.checksum.algorithm === checksum.algorithm) {
    return actual === exact.checksum.value.toLowerCase()
      ? { kind: "verified", algorithm: exact.checksum.algorithm }
      : { kind: "mismatch", detail: `${exact.checksum.algorithm} ${actual} instead of ${exact.checksum.value}` };
  }
  return { kind: "mismatch", detail: `${claim} (the store could not confirm it)` };
}

/** Hashes the file at `path` as the store's checksum for `info` asks, and checks it (see checkContent). */
export async function checkFile(
  path: string,
  info: ObjectInfo,
  key: string,
  backend: StorageBackend,
  signal: AbortSignal | undefined,
): Promise<ContentCheck> {
  const hash = hashFor(info);
  if (hash === undefined) return { kind: "size-only" };
  await hashFile(path, hash);
  return checkContent(hash.digest(), info, key, backend, signal);
}
