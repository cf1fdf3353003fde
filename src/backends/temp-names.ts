/**
 * Temp files and objects of writes in progress (`.~oc-tmp-…`, beside the key they become), and the one rule by
 * which opencrate removes one it finds: never while its writer may still write it.
 *
 * A temp's name carries its writer: a hash of where the writer's pid names one process (host name and pid space,
 * see process-identity.ts), the pid and the process's start. A temp found by a sweep (or by a delete of a whole
 * folder) is removed
 * - whatever its age, when its writer was a process of the remover's own place that no longer runs (its pid is
 *   gone, or now another process's): the write was killed;
 * - never while that process runs, however long it wrote nothing: a source that stalls, a process stopped by
 *   SIGSTOP or a debugger, a suspended machine;
 * - when its writer cannot be judged from here (another host sharing the disk or bucket, another pid namespace, a
 *   name from an older version of opencrate, which carries no writer), only once nothing was written to it for
 *   UNJUDGED_TEMP_AGE_MS.
 */
import { createHash, randomUUID } from "node:crypto";
import type { ObjectInfo } from "./backend.ts";
import { TEMP_NAME_PREFIX } from "./keys.ts";
import { placeOfThisProcess, stateOfProcess, thisProcess } from "./process-identity.ts";

/** How long a temp whose writer cannot be judged must have been left alone before it is taken for a leftover. */
export const UNJUDGED_TEMP_AGE_MS = 24 * 60 * 60_000;

/** `<kind>` `<place hash>.<pid>.<start, ':' written '_'>.<uuid>`; the kind is "" (local writes) or "copy-". */
const WRITER_NAME = /^(?:copy-)?([0-9a-f]{16})\.(\d+)\.([a-z]+_\d+)\.[0-9a-f-]{36}$/;

/** A fresh temp name of this process: `kind` "copy-" for the snapshots of busy copy sources on object stores. */
export function tempName(kind: "" | "copy-" = ""): string {
  const place = placeOfThisProcess();
  if (place === undefined) return `${TEMP_NAME_PREFIX}${kind}${randomUUID()}`;
  const start = thisProcess().start.replace(":", "_");
  return `${TEMP_NAME_PREFIX}${kind}${placeHash(place)}.${process.pid}.${start}.${randomUUID()}`;
}

export function isTempName(name: string): boolean {
  return name.startsWith(TEMP_NAME_PREFIX);
}

/**
 * True when the temp named `name` (the last segment of its key or path), last written at `lastWrittenMs`, may still
 * be written by its writer, so that nothing may remove it (see the file header). False for a name that is no temp's.
 */
export function isTempInUse(name: string, lastWrittenMs: number, nowMs: number): boolean {
  if (!isTempName(name)) return false;
  const writer = WRITER_NAME.exec(name.slice(TEMP_NAME_PREFIX.length));
  const place = placeOfThisProcess();
  if (writer !== null && place !== undefined && writer[1] === placeHash(place)) {
    const state = stateOfProcess(Number(writer[2]), (writer[3] ?? "").replace("_", ":"));
    return state === "this-process" || state === "running";
  }
  return nowMs - lastWrittenMs <= UNJUDGED_TEMP_AGE_MS;
}

function placeHash(place: string): string {
  return createHash("sha256").update(place).digest("hex").slice(0, 16);
}

/**
 * Sorts the listing of a folder about to be deleted whole: the objects to delete, and the temps among them (object
 * stores list theirs) that no writer writes any more, for `deleteTemps`. A temp a writer may still write is in neither.
 */
export function sortListedTemps<T extends Pick<ObjectInfo, "key" | "lastModified">>(
  listed: Iterable<T>,
  nowMs: number,
): { readonly objects: T[]; readonly abandonedTemps: string[] } {
  const objects: T[] = [];
  const abandonedTemps: string[] = [];
  for (const info of listed) {
    const name = info.key.slice(info.key.lastIndexOf("/") + 1);
    if (!isTempName(name)) objects.push(info);
    else if (!isTempInUse(name, info.lastModified.getTime(), nowMs)) abandonedTemps.push(info.key);
  }
  return { objects, abandonedTemps };
}
