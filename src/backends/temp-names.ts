/**
 * Temp files and objects of writes in progress (`.~oc-tmp-…`, beside the key they become), and the one rule by
 * which opencrate removes one it finds: never while its writer may still write it.
 *
 * A temp's name carries its writer: a hash of where the writer's pid names one process (host name, boot, pid and
 * time namespaces: see process-identity.ts; Linux only, elsewhere a name carries no writer), the pid and the
 * process's start. A temp found by a sweep (or by a delete of a whole folder) is removed
 * - whatever its age, when its writer was a process of the remover's own place that no longer runs (its pid is
 *   gone, or now another process's): the write was killed;
 * - never while that process runs, however long it wrote nothing: a source that stalls, a process stopped by
 *   SIGSTOP or a debugger, a suspended machine;
 * - when its writer cannot be judged from here (another host sharing the disk or bucket, another pid or time
 *   namespace, a name that carries no writer: written off Linux, or by an older version of opencrate), only once
 *   nothing was written to it for UNJUDGED_TEMP_AGE_MS.
 */
import { createHash, randomBytes } from "node:crypto";
import type { ObjectInfo } from "./backend.ts";
import { TEMP_NAME_PREFIX } from "./keys.ts";
import { compactStart, expandStart, placeOfThisProcess, stateOfProcess, thisProcess } from "./process-identity.ts";

/** How long a temp whose writer cannot be judged must have been left alone before it is taken for a leftover. */
export const UNJUDGED_TEMP_AGE_MS = 24 * 60 * 60_000;

/** The writer a temp's name carries: its place (the hash placeHash gives), its pid and its start. */
export interface TempWriter {
  readonly place: string;
  readonly pid: number;
  readonly start: string;
}

/**
 * The longest name tempNameOf gives: a copy's (`.~oc-tmp-copy-`), with the largest pid Linux hands out (2^22) and
 * the largest start compactStart writes. Trap: a copy's temp key is its target's folder and this name, and the
 * artifact name check (snapshot/names.ts) leaves room past the file name (one byte at least) for a backup's infix
 * only, 72 bytes: names longer than that could push a busy copy's temp key past the store's key limit.
 */
export const TEMP_NAME_MAX_BYTES = 61;

/** `<kind><place hash>.<pid, base 36>.<compact start>.<random>`; the kind is "" (local writes) or "copy-". */
const WRITER_NAME = /^(?:copy-)?([0-9a-f]{12})\.([0-9a-z]{1,5})\.([a-z][0-9a-z]{1,10})\.[0-9a-f]{16}$/;

/** A fresh temp name of this process: `kind` "copy-" for the snapshots of busy copy sources on object stores. */
export function tempName(kind: "" | "copy-" = ""): string {
  const place = placeOfThisProcess();
  const writer = place === undefined ? undefined : { place: placeHash(place), pid: process.pid, start: thisProcess().start };
  return tempNameOf(writer, kind);
}

/**
 * A fresh temp name carrying `writer`, or none (judged by age only) when undefined or not one a name can carry
 * (a pid past Linux's, a start of no known kind).
 */
export function tempNameOf(writer: TempWriter | undefined, kind: "" | "copy-"): string {
  const random = randomBytes(8).toString("hex");
  const start = writer === undefined ? undefined : compactStart(writer.start);
  const pid = writer === undefined ? "" : writer.pid.toString(36);
  if (writer === undefined || start === undefined || pid.length > 5) return `${TEMP_NAME_PREFIX}${kind}${random}`;
  return `${TEMP_NAME_PREFIX}${kind}${writer.place}.${pid}.${start}.${random}`;
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
  const start = writer?.[3] === undefined ? undefined : expandStart(writer[3]);
  if (writer !== null && place !== undefined && start !== undefined && writer[1] === placeHash(place)) {
    const state = stateOfProcess(parseInt(writer[2] ?? "", 36), start);
    return state === "this-process" || state === "running";
  }
  return nowMs - lastWrittenMs <= UNJUDGED_TEMP_AGE_MS;
}

/** A place's hash, as names carry it. */
export function placeHash(place: string): string {
  return createHash("sha256").update(place).digest("hex").slice(0, 12);
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
