/**
 * Names are shown with printable()'s escapes (`safe\u{200b}.txt`), and a shown name can be typed back: in the part
 * of an argument that names keys inside a root, each such escape is read back into its character. Keys never hold
 * "\" (keys.ts), so there an escape means one thing. A local root path, and any local path outside a snapshot, is
 * taken as written: a folder on disk may hold "\".
 *
 * Where the key part starts: in a URI with a scheme, after its bucket or store (the whole path is keys). In a
 * local path, at the snapshot name: the segment before the first version folder (`<root>/<name>/v3/…`), or the
 * first `<name>@<selector>` segment before it (`<root>/<name>@latest/…`). A local path with neither is left as it
 * is; a bare `<root>/<name>` is read back where it is looked up (targets.ts findNameTarget).
 */
import { InvalidArgumentError, isOpenCrateError } from "../errors.ts";
import { fromPrintable } from "../printable.ts";
import { parseFolderName } from "../snapshot/layout.ts";
import { redact, schemeLength } from "../uri.ts";

/** `argument` with the escapes in its key part read back; INVALID_ARGUMENT naming it for an escape printable() does not write. */
export function withTypedEscapes(argument: string): string {
  if (!argument.includes("\\")) return argument;
  const schemeEnd = schemeLength(argument);
  const segments = argument.slice(schemeEnd).split("/");
  const start = schemeEnd > 0 ? 1 : nameIndex(segments);
  if (start === undefined) return argument;
  const decoded = segments.map((segment, index) => (index < start ? segment : decodeIn(segment, argument)));
  return argument.slice(0, schemeEnd) + decoded.join("/");
}

function nameIndex(segments: readonly string[]): number | undefined {
  for (let index = 0; index < segments.length; index++) {
    const segment = segments[index] ?? "";
    if (index > 0 && parseFolderName(segment) !== undefined) return index - 1;
    // `<name>@<selector>`: the selector holds no "@", the name may (snapshot-uri.ts).
    if (/^.+@[^@]+$/s.test(segment)) return index;
  }
  return undefined;
}

function decodeIn(segment: string, argument: string): string {
  try {
    return fromPrintable(segment);
  } catch (error) {
    if (!isOpenCrateError(error, "INVALID_ARGUMENT")) throw error;
    throw new InvalidArgumentError(`Invalid escape in ${redact(argument)}: ${error.message}`, { path: redact(argument), cause: error });
  }
}
