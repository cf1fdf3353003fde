/**
 * Names opencrate keeps for its own bookkeeping inside a snapshot's folders, which no listing of a snapshot's files
 * (`ls`, `pull`, the viewer, `oc.io.listFilesInDir`) shows as files.
 */
import { isReservedName } from "./backends/keys.ts";

/** Starts the name of a partial file `pull` writes beside its target. */
export const PARTIAL_PREFIX = ".ocpart-";

/** A partial file of `pull`, its ranges or their journal (see partialFileName and partialEntries). */
const PARTIAL_NAME = /^\.ocpart-[0-9a-f]{32}(?:-ranges(?:\.done)?)?$/;

/**
 * True when a path is opencrate's own bookkeeping, never an artifact: a `.opencrate` folder (claims, run records,
 * probes), a reserved temp or lock name (`.~oc-…`), or a partial file `pull` left. Other names starting with "."
 * (`.env`, `cfg/.hidden.json`) are files like any other.
 */
export function isBookkeepingPath(path: string): boolean {
  return path
    .split("/")
    .some((segment) => segment === ".opencrate" || segment.startsWith(".opencrate-probe-") || isReservedName(segment) || PARTIAL_NAME.test(segment));
}
