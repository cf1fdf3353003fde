/** The one place that decides what a byte range may be and what it selects: checked before any I/O, then cut
 * to the object's size (a range past the end is cut at the end; one starting past it selects nothing; a suffix
 * longer than the object selects all of it). */
import { InvalidArgumentError } from "../errors.ts";
import type { ByteRange } from "./backend.ts";

/** Throws InvalidArgumentError unless `range` is `{ offset, length? }` or `{ suffix }` of non-negative integers. */
export function checkRange(range: ByteRange | undefined, location: string): void {
  if (range === undefined) return;
  const count = (value: unknown) => Number.isSafeInteger(value) && (value as number) >= 0;
  const ok =
    "suffix" in range
      ? count(range.suffix) && !("offset" in range) && !("length" in range)
      : count(range.offset) && (range.length === undefined || count(range.length));
  if (!ok) {
    throw new InvalidArgumentError(
      `Invalid byte range ${JSON.stringify(range)} for ${location}: give { offset, length? } or { suffix }, of ` +
        "non-negative integers.",
      { path: location },
    );
  }
}

/** Like {@link checkRange}, for a read that needs both ends: `{ offset, length }` only. */
export function checkBoundedRange(range: ByteRange, location: string): void {
  checkRange(range, location);
  if ("suffix" in range || range.length === undefined) {
    throw new InvalidArgumentError(`Invalid byte range ${JSON.stringify(range)} for ${location}: this read needs { offset, length }.`, {
      path: location,
    });
  }
}

/** The [start, end) a range selects in `size` bytes. */
export function spanOf(range: ByteRange | undefined, size: number): { readonly start: number; readonly end: number } {
  if (range === undefined) return { start: 0, end: size };
  if ("suffix" in range) return { start: Math.max(0, size - range.suffix), end: size };
  const start = Math.min(range.offset, size);
  const end = range.length === undefined ? size : Math.min(size, start + range.length);
  return { start, end };
}

/** True for a range that selects nothing whatever the size (which HTTP cannot ask for). */
export function isEmptyRange(range: ByteRange | undefined): boolean {
  return range !== undefined && ("suffix" in range ? range.suffix === 0 : range.length === 0);
}

/** The HTTP Range header of a range that is not empty (see {@link isEmptyRange}); undefined for the whole object. */
export function rangeHeaderOf(range: ByteRange | undefined): string | undefined {
  if (range === undefined) return undefined;
  if ("suffix" in range) return `bytes=-${range.suffix}`;
  if (range.offset === 0 && range.length === undefined) return undefined;
  return `bytes=${range.offset}-${range.length === undefined ? "" : range.offset + range.length - 1}`;
}
