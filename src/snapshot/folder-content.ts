/**
 * Whether a version folder holds anything of a run's, the one rule version discovery (listVersions, `@latest`,
 * `start: "last"`) and `open` apply to a folder: a file that is not opencrate's bookkeeping (bookkeeping.ts), so
 * one `ls` and `pull` would show. S3 and GCS list the temp objects of copies (local disk hides its temps): a folder
 * where `reset()` or `replace` kept one that a live copy may still write holds nothing else, and is no version.
 */
import type { StorageBackend } from "../backends/backend.ts";
import { isBookkeepingPath } from "./bookkeeping.ts";

/** Keys asked for per listing request: temps are few, so the first page nearly always settles it. */
const PAGE_SIZE = 100;

/**
 * True when the folder `prefix` (ending in "/") holds a file that is not bookkeeping. A folder whose listing fails
 * counts as holding one (a name that is not UTF-8, a link that leads nowhere, a store failing): it holds something,
 * and is found as it was before this check.
 */
export async function holdsRunFiles(backend: StorageBackend, prefix: string): Promise<boolean> {
  try {
    for await (const info of backend.list(prefix, { pageSize: PAGE_SIZE })) {
      if (!isBookkeepingPath(info.key.slice(prefix.length))) return true;
    }
    return false;
  } catch {
    return true;
  }
}
