/** The one place that decides what a byte range may be and what it selects: checked before any I/O, then cut
 * to the object's size (a range past the end is cut at the end; one starting past it selects nothing). */
import { InvalidArgumentError } from "../errors.ts";
import type { ByteRange } from "./backend.ts";

/** Throws InvalidArgumentError unless `range` has a non-negative integer offset and length. */
export function checkRange(range: ByteRange | undefined, location: string): void {
  if (range === undefined) return;
  const { offset, length } = range;
  const lengthOk = length === undefined || (Number.isSafeInteger(length) && length >= 0);
  if (!Number.isSafeInteger(offset) || offset < 0 || !lengthOk) {
    throw new InvalidArgumentError(
      `Invalid byte range ${JSON.stringify(range)} for ${location}: offset and length must be non-negative integers.`,
      { path: location },
    );
  }
}

/** The [start, end) a range selects in `size` bytes; a range past the end is cut at the end. */
export function spanOf(range: ByteRange | undefined, size: number): { readonly start: number; readonly end: number } {
  if (range === undefined) return { start: 0, end: size };
  const start = Math.min(range.offset, size);
  const end = range.length === undefined ? size : Math.min(size, start + range.length);
  return { start, end };
}
