/**
 * Joins text pieces into strings of bounded length. V8 refuses a string past about 2^29 characters (RangeError),
 * and a burst of log lines can pass that before a single hand-over or flush: such text is cut into several strings.
 */

/** The longest string a batch of lines is joined into (in UTF-16 units), unless one piece alone is longer. */
export const MAX_JOINED_CHARS = 64 * 1024 * 1024;

/** `pieces` joined by `separator`, cut between pieces so each string holds at most `maxChars` (a longer piece stands alone). */
export function joinBounded(pieces: readonly string[], separator: string, maxChars = MAX_JOINED_CHARS): string[] {
  const joined: string[] = [];
  let start = 0;
  let chars = 0;
  for (let index = 0; index < pieces.length; index++) {
    const size = (pieces[index] as string).length + (index > start ? separator.length : 0);
    if (index > start && chars + size > maxChars) {
      joined.push(pieces.slice(start, index).join(separator));
      start = index;
      chars = (pieces[index] as string).length;
    } else {
      chars += size;
    }
  }
  if (start < pieces.length) joined.push(start === 0 ? pieces.join(separator) : pieces.slice(start).join(separator));
  return joined;
}
