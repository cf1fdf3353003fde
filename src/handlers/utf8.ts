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
