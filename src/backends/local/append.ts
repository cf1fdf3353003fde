/**
 * Appending to a file in place, under the key's compare-and-swap lock (the one `replace` writes hold), so the
 * cost is the appended bytes, not the file.
 *
 * Under the lock: open the file for appending (O_APPEND), compare its revision, write the bytes, sync, and stamp a
 * modification time later than the old one (the size grows as well, so the revision always changes).
 *
 * Other programs may append to the same file without the lock (Python OpenCrate's logger appends to
 * `<name>.history.log` so). O_APPEND makes the kernel place each of our writes at the end as it is at that moment,
 * so bytes they append between our compare and our write come before ours, never under them. The compare cannot
 * see such writers: their bytes and ours all land, each write whole, in the order they reach the file. The stats
 * returned are the file's after our write, so their size counts bytes others appended meanwhile too. Trap: an NFS
 * client only emulates O_APPEND (it looks up the size, then writes there), so a writer on another machine can
 * still land under our bytes or we under its (docs/guarantees.md).
 *
 * What this gives up against the rename that every other write commits with (acceptable for logs, which are
 * what appends are for):
 * - A reader racing the append may see the old bytes followed by only part of the new ones.
 * - A crash mid-append can leave part of the bytes at the end of the file (a cut last batch of lines).
 * - A write that fails part-way (ENOSPC, EIO) is cut back to the old size before the error is thrown, but only when
 *   the file's size then shows that every byte after the old end is ours; the file then holds its old bytes under
 *   a new revision (the modification time moved). When another program appended meanwhile, the part of ours that
 *   landed stays: the cut would take its bytes too.
 * - Plain overwrites and deletes take no lock. One that lands between our open and our write replaces the file
 *   we hold, so the append goes into the replaced file: it is ordered before the overwrite, as if it came first.
 */
import { constants, type BigIntStats } from "node:fs";
import { open } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { folderIsNotAnObject, isErrno, revisionMismatch } from "./errors.ts";
import { NotFoundError } from "../../errors.ts";
import { statIfPresent } from "./files.ts";
import { withLock, type LockOptions } from "./lock.ts";
import { lockPathsFor } from "./paths.ts";
import { revisionOf, stampTimeAfter } from "./revision.ts";

/** Writes go to the end of the file as it is when each write lands; no O_CREAT, so a missing file stays missing. */
const APPEND_ONLY = constants.O_WRONLY | constants.O_APPEND;

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
      handle = await open(path, APPEND_ONLY);
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

/** Writes all of `bytes` through the O_APPEND `handle`; on failure, cuts back what landed when it is provably ours. */
async function writeAtEnd(handle: FileHandle, bytes: Uint8Array, oldSize: bigint, signal: AbortSignal | undefined): Promise<void> {
  let written = 0;
  try {
    while (written < bytes.byteLength) {
      signal?.throwIfAborted();
      // Position null: a positional write would overwrite on systems where O_APPEND does not override it.
      const { bytesWritten } = await handle.write(bytes, written, bytes.byteLength - written, null);
      written += bytesWritten;
    }
  } catch (error) {
    await cutBackOurs(handle, oldSize, written);
    throw error;
  }
}

/**
 * Removes the `written` bytes of ours after `oldSize` when the file holds nothing else after it: any byte another
 * program appended would make it longer. Trap: no system call truncates only if the size is still the one seen,
 * so bytes appended in the instant between this stat and the truncate would be cut; it is the narrowest window
 * there is, on a write that already failed.
 */
async function cutBackOurs(handle: FileHandle, oldSize: bigint, written: number): Promise<void> {
  if (written === 0) return;
  const now = await handle.stat({ bigint: true }).catch(() => undefined);
  if (now?.size !== oldSize + BigInt(written)) return;
  await handle.truncate(Number(oldSize)).catch(() => {});
}

function missing(location: string, cause?: unknown): NotFoundError {
  return new NotFoundError(`No object at ${location}.`, { path: location, cause });
}
