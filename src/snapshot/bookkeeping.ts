/**
 * The names opencrate keeps for its own bookkeeping, in one place: the listings (`ls`, `pull`, the viewer) leave
 * out every path with such a segment, and setup and saves refuse names that have one, so that nothing written as
 * a run's file is hidden from them.
 */
import { isReservedName, RESERVED_NAME_PREFIX } from "../backends/keys.ts";

/** The folder of a name's claims and records (`<name>/.opencrate/`), and of a pull's record in its destination. */
export const BOOKKEEPING_FOLDER = ".opencrate";

/** Starts the names of the probe objects a backend writes to test the store. */
const PROBE_PREFIX = ".opencrate-probe-";

/** Starts the name of a partial file `pull` writes beside its target. */
export const PARTIAL_PREFIX = ".ocpart-";

/**
 * A partial file of `pull`, its ranges or their journal (see partialFileName and partialEntries): `.ocpart-`, 16 hex
 * digits, `-` and 16 more; or 32 hex digits, as earlier versions named them.
 */
const PARTIAL_NAME = /^\.ocpart-(?:[0-9a-f]{32}|[0-9a-f]{16}-[0-9a-f]{16})(?:-ranges(?:\.done)?)?$/;

/** Why one path segment is opencrate's bookkeeping, or undefined when it is a name like any other. */
export function bookkeepingReason(segment: string): string | undefined {
  if (segment === BOOKKEEPING_FOLDER) return `'${BOOKKEEPING_FOLDER}' is the folder of opencrate's own records`;
  if (segment.startsWith(PROBE_PREFIX)) return `names starting with '${PROBE_PREFIX}' are opencrate's store probes`;
  if (isReservedName(segment)) return `names starting with '${RESERVED_NAME_PREFIX}' are reserved for opencrate's temp and lock files`;
  if (PARTIAL_NAME.test(segment)) return `'${PARTIAL_PREFIX}' and hex digits name the partial files of an interrupted pull`;
  return undefined;
}

/** The first segment of a "/"-separated path that is bookkeeping, with why; undefined when there is none. */
export function bookkeepingSegment(path: string): { segment: string; reason: string } | undefined {
  for (const segment of path.split("/")) {
    const reason = bookkeepingReason(segment);
    if (reason !== undefined) return { segment, reason };
  }
  return undefined;
}

/**
 * True when a path is opencrate's own bookkeeping, never an artifact: a `.opencrate` folder (claims, run records,
 * probes), a reserved temp or lock name (`.~oc-…`), or a partial file `pull` left. Other names starting with "."
 * (`.env`, `cfg/.hidden.json`) are files like any other.
 */
export function isBookkeepingPath(path: string): boolean {
  return bookkeepingSegment(path) !== undefined;
}
