/**
 * Appending to a file in place, under the key's compare-and-swap lock (the one `replace` writes hold), so the
 * cost is the appended bytes, not the file.
 *
 * Under the lock: open the file, compare its revision, write the bytes after its end, sync, and stamp a
 * modification time later than the old one (the size grows as well, so the revision always changes).
 *
 * What this gives up against the rename that every other write commits with (acceptable for logs, which are
 * what appends are for):
 * - A reader racing the append may see the old bytes followed by only part of the new ones.
 * - A crash mid-append can leave part of the bytes at the end of the file (a cut last batch of lines).
 * - A write that fails (ENOSPC, EIO) is cut back to the old size before the error is thrown; the file then holds
 *   its old bytes under a new revision (the modification time moved).
 * - Plain overwrites and deletes take no lock. One that lands between our open and our write replaces the file
 *   we hold, so the append goes into the replaced file: it is ordered before the overwrite, as if it came first.
 */
import type { BigIntStats } from "node:fs";
import { open } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { folderIsNotAnObject, isErrno, revisionMismatch } from "./errors.ts";
import { NotFoundError } from "../../errors.ts";
import { statIfPresent } from "./files.ts";
import { withLock, type LockOptions } from "./lock.ts";
import { lockPathsFor } from "./paths.ts";
import { revisionOf, stampTimeAfter } from "./revision.ts";

/** Appends `bytes` to the file at `path` and returns its new stats. `location` names it in errors. */
export async function appendInPlace(
  path: string,
  bytes: Uint8Array,
  expectedRevision: string | undefined,
  location: string,
  lock: LockOptions,
): Promise<BigIntStats> {
  // Before the lock: its file lives in the key's folder, which is missing when the key is.
  const before = await statIfPresent(path);
  if (before === undefined) throw missing(location);
  if (!before.isFile()) throw folderIsNotAnObject(location);
  return withLock(lockPathsFor(path), lock, async () => {
    let handle: FileHandle;
    try {
      handle = await open(path, "r+");
    } catch (error) {
      if (isErrno(error, "ENOENT", "ENOTDIR")) throw missing(location, error);
      throw error;
    }
    try {
      const current = await handle.stat({ bigint: true });
      if (!current.isFile()) throw folderIsNotAnObject(location);
      if (expectedRevision !== undefined && revisionOf(current) !== expectedRevision) {
        throw revisionMismatch(location, expectedRevision, revisionOf(current));
      }
      if (bytes.byteLength === 0) return current;
      await writeAtEnd(handle, bytes, current.size, lock.signal);
      const time = stampTimeAfter(current);
      await handle.utimes(time, time);
      await handle.sync();
      return await handle.stat({ bigint: true });
    } finally {
      await handle.close();
    }
  });
}

async function writeAtEnd(handle: FileHandle, bytes: Uint8Array, end: bigint, signal: AbortSignal | undefined): Promise<void> {
  const start = Number(end);
  try {
    for (let offset = 0; offset < bytes.byteLength; ) {
      signal?.throwIfAborted();
      const { bytesWritten } = await handle.write(bytes, offset, bytes.byteLength - offset, start + offset);
      offset += bytesWritten;
    }
  } catch (error) {
    await handle.truncate(start).catch(() => {});
    throw error;
  }
}

function missing(location: string, cause?: unknown): NotFoundError {
  return new NotFoundError(`No object at ${location}.`, { path: location, cause });
}
