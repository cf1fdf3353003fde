/** Strict UTF-8 decoding of stored text: bytes that are not UTF-8 are corrupt data, not silently replaced. */
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
    throw corruptData(storage, format, "the bytes are not UTF-8 text.", error);
  }
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
