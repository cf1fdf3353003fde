/** Argument checks for S3Backend calls, all made before any I/O. */
import { InvalidArgumentError } from "../../errors.ts";
import type { ByteRange, WriteMode } from "../backend.ts";
import { checkRange } from "../byte-range.ts";
import { S3_MAX_PARTS, S3_MAX_PART_SIZE, S3_MIN_PART_SIZE } from "./options.ts";

export function conditionsFor(mode: WriteMode): { IfNoneMatch?: string; IfMatch?: string } {
  if (mode.kind === "create") return { IfNoneMatch: "*" };
  if (mode.kind === "replace") return { IfMatch: mode.revision };
  return {};
}

export function checkMode(mode: WriteMode | undefined, uri: string): WriteMode {
  if (mode === undefined) return { kind: "overwrite" };
  if (mode.kind === "overwrite" || mode.kind === "create") return mode;
  if (mode.kind === "replace" && typeof mode.revision === "string" && mode.revision !== "") return mode;
  throw new InvalidArgumentError(`Invalid write mode for ${uri}: ${JSON.stringify(mode)}.`, { path: uri });
}

const METADATA_KEY = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;
const METADATA_VALUE = /^[\x20-\x7e]*$/;

export function checkMetadata(metadata: Readonly<Record<string, string>> | undefined, uri: string): void {
  for (const [name, value] of Object.entries(metadata ?? {})) {
    if (!METADATA_KEY.test(name) || typeof value !== "string" || !METADATA_VALUE.test(value)) {
      throw new InvalidArgumentError(
        `Invalid metadata ${JSON.stringify(name)}: ${JSON.stringify(value)} for ${uri}: S3 metadata keys must be lower-case ASCII header names and values printable ASCII.`,
        { path: uri },
      );
    }
  }
}

/** The part size to use: a positive integer, brought within S3's 5 MiB to 5 GiB (the option is a hint), and large
 * enough for a body of `size` bytes to fit in 10,000 parts. */
export function checkPartSize(partSize: number, uri: string, size?: number): number {
  if (!Number.isSafeInteger(partSize) || partSize < 1) {
    throw new InvalidArgumentError(`partSize for ${uri} must be a positive integer number of bytes, got ${String(partSize)}.`, {
      path: uri,
    });
  }
  const needed = size !== undefined && Number.isFinite(size) && size > 0 ? Math.ceil(size / S3_MAX_PARTS) : 0;
  return Math.min(S3_MAX_PART_SIZE, Math.max(S3_MIN_PART_SIZE, partSize, needed));
}

/** Parts in flight at once: a positive integer. */
export function checkConcurrency(concurrency: number, uri: string): number {
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
    throw new InvalidArgumentError(`concurrency for ${uri} must be a positive integer, got ${String(concurrency)}.`, { path: uri });
  }
  return concurrency;
}

export function checkPageSize(pageSize: number | undefined, uri: string): number | undefined {
  if (pageSize === undefined) return undefined;
  if (!Number.isSafeInteger(pageSize) || pageSize < 1) {
    throw new InvalidArgumentError(`pageSize for ${uri} must be a positive integer, got ${String(pageSize)}.`, { path: uri });
  }
  return Math.min(pageSize, 1000);
}

export const EMPTY_RANGE = "empty";

/** The Range header for a byte range; EMPTY_RANGE for a zero-length one (which HTTP cannot express). */
export function rangeHeader(range: ByteRange | undefined, uri: string): string | undefined {
  if (range === undefined) return undefined;
  checkRange(range, uri);
  const { offset, length } = range;
  if (length === 0) return EMPTY_RANGE;
  return `bytes=${offset}-${length === undefined ? "" : offset + length - 1}`;
}
