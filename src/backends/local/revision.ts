/**
 * The local backend's revision: a stamp derived from `stat`. Every write lands a new file (a new inode) by a
 * rename or link, so the stamp changes with every write.
 */
import type { BigIntStats } from "node:fs";
import type { ObjectInfo } from "../backend.ts";

export function revisionOf(stats: BigIntStats): string {
  return `${stats.ino}-${stats.size}-${stats.mtimeNs}`;
}

export function objectInfoOf(key: string, stats: BigIntStats): ObjectInfo {
  return {
    key,
    size: Number(stats.size),
    lastModified: new Date(Number(stats.mtimeMs)),
    revision: revisionOf(stats),
  };
}

/**
 * The modification time (seconds, for `futimes`) to stamp on a new file before it is committed.
 *
 * Trap: file systems free an inode on replace and hand the number to the next new file (ext4 does at once), and
 * the kernel's file clock only ticks every few milliseconds. Without this stamp, a counter rewritten to the same
 * size within one tick could come back with the revision it had two writes ago, and a stale compare-and-swap
 * would win. A random microsecond within the current millisecond makes that vanishingly rare for every write;
 * passing the `previous` stats (the object being replaced) makes the new time strictly later than it.
 */
export function stampTimeAfter(previous?: BigIntStats): number {
  let micros = BigInt(Date.now()) * 1000n + BigInt(Math.floor(Math.random() * 1000));
  if (previous !== undefined) {
    // +2 µs: futimes takes a double, so the stored nanoseconds can land a fraction of a microsecond low.
    const floor = previous.mtimeNs / 1000n + 2n;
    if (micros < floor) micros = floor;
  }
  return Number(micros) / 1e6;
}

/** Whether `stats` carries a modification time strictly after `previous`. */
export function isModifiedAfter(stats: BigIntStats, previous: BigIntStats): boolean {
  return stats.mtimeNs > previous.mtimeNs;
}
