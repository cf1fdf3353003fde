/** What S3 requests make of checked arguments: conditions, part sizes, Range headers. */
import type { ByteRange, WriteMode } from "../backend.ts";
import { isEmptyRange, rangeHeaderOf } from "../byte-range.ts";
import { S3_MAX_PARTS, S3_MAX_PART_SIZE, S3_MIN_PART_SIZE } from "./options.ts";

export function conditionsFor(mode: WriteMode): { IfNoneMatch?: string; IfMatch?: string } {
  if (mode.kind === "create") return { IfNoneMatch: "*" };
  if (mode.kind === "replace") return { IfMatch: mode.revision };
  return {};
}

/** The part size to use: the hint brought within S3's 5 MiB to 5 GiB, and large enough for a body of `size` bytes
 * to fit in 10,000 parts. */
export function partSizeFor(partSize: number, size?: number): number {
  const needed = size !== undefined && Number.isFinite(size) && size > 0 ? Math.ceil(size / S3_MAX_PARTS) : 0;
  return Math.min(S3_MAX_PART_SIZE, Math.max(S3_MIN_PART_SIZE, partSize, needed));
}

/** The most keys one ListObjectsV2 page returns. */
export const MAX_LIST_PAGE = 1000;

export const EMPTY_RANGE = "empty";

/** The Range header for a byte range; EMPTY_RANGE for a zero-length one (which HTTP cannot express). */
export function rangeHeader(range: ByteRange | undefined): string | undefined {
  return isEmptyRange(range) ? EMPTY_RANGE : rangeHeaderOf(range);
}
