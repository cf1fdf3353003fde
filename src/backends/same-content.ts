/**
 * Whether two stored objects hold the same bytes, as cheaply as the store allows: objects of different sizes
 * differ; a checksum both carry exactly (GCS's MD5, the MD5 of an S3 single-part upload, a SHA-256) decides; a
 * CRC32C both carry decides only a difference. Otherwise the two are read and compared, stopping at the first
 * byte that differs: an S3 create-only copy is a multipart one, whose ETag is no MD5, so a backup on S3 is read.
 */
import type { Readable } from "node:stream";
import { isOpenCrateError } from "../errors.ts";
import type { ObjectInfo, StorageBackend } from "./backend.ts";
import { headIfPresent } from "./presence.ts";

/** True when `a` and `b` both exist and hold the same bytes. One that is missing, or changes while read: false. */
export async function sameContent(backend: StorageBackend, a: string, b: string): Promise<boolean> {
  const [left, right] = await Promise.all([headIfPresent(backend, a), headIfPresent(backend, b)]);
  if (left === undefined || right === undefined || left.size !== right.size) return false;
  for (const algorithm of ["sha256", "md5"] as const) {
    const x = exactChecksum(left, algorithm);
    const y = exactChecksum(right, algorithm);
    if (x !== undefined && y !== undefined) return x === y;
  }
  const x = crc32cOf(left);
  const y = crc32cOf(right);
  if (x !== undefined && y !== undefined && x !== y) return false;
  if (left.size === 0) return true;
  try {
    const [first, second] = await openBoth(
      backend.getStream(a, { ifRevision: left.revision }),
      backend.getStream(b, { ifRevision: right.revision }),
    );
    return await sameBytes(first, second);
  } catch (error) {
    if (isOpenCrateError(error, "NOT_FOUND") || isOpenCrateError(error, "PRECONDITION_FAILED")) return false;
    throw error;
  }
}

/**
 * Both streams, or the first failure: a stream opened while the other failed is destroyed (with a listener, so an
 * error it raises later is not an uncaught one).
 */
async function openBoth(first: Promise<Readable>, second: Promise<Readable>): Promise<[Readable, Readable]> {
  const [x, y] = await Promise.allSettled([first, second]);
  if (x.status === "fulfilled" && y.status === "fulfilled") return [x.value, y.value];
  for (const opened of [x, y]) {
    if (opened.status === "fulfilled") opened.value.on("error", () => {}).destroy();
  }
  throw x.status === "rejected" ? x.reason : (y as PromiseRejectedResult).reason;
}

function exactChecksum(info: ObjectInfo, algorithm: "sha256" | "md5"): string | undefined {
  const { checksum } = info;
  return checksum?.algorithm === algorithm && checksum.tentative !== true ? checksum.value.toLowerCase() : undefined;
}

function crc32cOf(info: ObjectInfo): string | undefined {
  const value = info.checksum?.algorithm === "crc32c" && info.checksum.tentative !== true ? info.checksum.value : info.crc32c;
  return value?.toLowerCase();
}

const EMPTY = new Uint8Array(0);

/** Reads both streams side by side; both are destroyed when this returns. */
async function sameBytes(first: Readable, second: Readable): Promise<boolean> {
  const left = first[Symbol.asyncIterator]() as AsyncIterator<Uint8Array | string>;
  const right = second[Symbol.asyncIterator]() as AsyncIterator<Uint8Array | string>;
  let a: Uint8Array = EMPTY;
  let b: Uint8Array = EMPTY;
  let leftDone = false;
  let rightDone = false;
  try {
    for (;;) {
      if (a.byteLength === 0 && !leftDone) {
        const next = await left.next();
        if (next.done === true) leftDone = true;
        else a = asBytes(next.value);
      }
      if (b.byteLength === 0 && !rightDone) {
        const next = await right.next();
        if (next.done === true) rightDone = true;
        else b = asBytes(next.value);
      }
      const leftEnded = a.byteLength === 0 && leftDone;
      const rightEnded = b.byteLength === 0 && rightDone;
      if (leftEnded || rightEnded) return leftEnded && rightEnded;
      const length = Math.min(a.byteLength, b.byteLength);
      if (Buffer.compare(a.subarray(0, length), b.subarray(0, length)) !== 0) return false;
      a = a.subarray(length);
      b = b.subarray(length);
    }
  } finally {
    first.destroy();
    second.destroy();
  }
}

function asBytes(chunk: Uint8Array | string): Uint8Array {
  return typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk;
}
