/**
 * Strict UTF-8 decoding of stored text: bytes that are not UTF-8 are corrupt data, not silently replaced; text too
 * long for one JavaScript string is NOT_SUPPORTED (it can still be streamed).
 */
import { constants } from "node:buffer";
import { NotSupportedError } from "../errors.ts";
import { corruptData } from "./failures.ts";
import type { ArtifactStorage } from "./types.ts";

const keepBom = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const dropBom = new TextDecoder("utf-8", { fatal: true });

/**
 * Reads the artifact as UTF-8. `keepByteOrderMark` keeps a leading U+FEFF (plain text round-trips exactly);
 * structured formats drop it.
 */
export async function readUtf8(storage: ArtifactStorage, format: string, keepByteOrderMark = false): Promise<string> {
  const bytes = await storage.read();
  try {
    return (keepByteOrderMark ? keepBom : dropBom).decode(bytes);
  } catch (error) {
    if (isStringTooLong(error)) {
      throw new NotSupportedError(
        `Cannot load ${storage.path} as ${format}: its ${bytes.byteLength} bytes are more text than one JavaScript string holds (${constants.MAX_STRING_LENGTH} characters). Read it as a stream with openRead(), or copy it to a file with downloadTo().`,
        { path: storage.path, cause: error },
      );
    }
    throw corruptData(storage, format, "the bytes are not UTF-8 text.", error);
  }
}

/** V8's refusal to make a string longer than buffer.constants.MAX_STRING_LENGTH (about 512 MiB of text). */
function isStringTooLong(error: unknown): boolean {
  if ((error as { code?: unknown } | null)?.code === "ERR_STRING_TOO_LONG") return true;
  return error instanceof RangeError && /string longer than|Invalid string length/i.test(error.message);
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * The index of the first lone surrogate in `text`, or -1 when it is well-formed. UTF-8 cannot encode a lone
 * surrogate: writing one stores U+FFFD instead, so the string would load back changed.
 */
export function loneSurrogateAt(text: string): number {
  if ((text as { isWellFormed?: () => boolean }).isWellFormed?.() === true) return -1;
  return LONE_SURROGATE.exec(text)?.index ?? -1;
}

/** Why `text` cannot be stored as UTF-8 (naming `what` and the position), or undefined when it can. */
export function notUtf8Encodable(text: string, what: string): string | undefined {
  const at = loneSurrogateAt(text);
  if (at === -1) return undefined;
  const unit = text.charCodeAt(at).toString(16).toUpperCase();
  return `${what} holds a lone surrogate (\\u${unit}) at index ${at}, which UTF-8 cannot store (it would load back as U+FFFD); it is not well-formed Unicode text.`;
}
