/**
 * Atomic writes on local disk. The bytes go to a hidden temp file in the target's folder and are synced; only
 * then do they appear at the final name, in one step: `rename` (overwrite), `link` (create: fails when the name
 * is taken) or `rename` under the key's lock after comparing revisions (replace). A crash leaves at most a temp
 * file, never a partial file at the final name; every failure path removes the temp file.
 */
import { constants, type BigIntStats } from "node:fs";
import { copyFile, link, open, rename, stat, utimes } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
import type { WriteMode } from "../backend.ts";
import { alreadyExists, folderInTheWay, isErrno, revisionMismatch } from "./errors.ts";
import { makeFolders } from "./make-folders.ts";
import { removeQuietly, statIfPresent } from "./files.ts";
import { withLock, type LockOptions } from "./lock.ts";
import { lockPathsFor, tempPathBeside } from "./paths.ts";
import { isModifiedAfter, revisionOf, stampTimeAfter } from "./revision.ts";

/** A complete, synced temp file waiting to be committed. */
export interface StagedFile {
  readonly path: string;
  readonly stats: BigIntStats;
}

/** How often to recreate a folder that a concurrent delete pruned between our mkdir and our open. */
const FOLDER_RACE_RETRIES = 5;

export async function stageBytes(finalPath: string, bytes: Uint8Array): Promise<StagedFile> {
  return stage(finalPath, (handle) => handle.writeFile(bytes));
}

export async function stageStream(
  finalPath: string,
  body: AsyncIterable<Uint8Array>,
  signal?: AbortSignal,
): Promise<StagedFile> {
  return stage(finalPath, async (handle) => {
    // Plain writes, not handle.createWriteStream(): a stream with autoClose off keeps a reference on the handle,
    // and the handle.close() in seal() would then wait forever.
    for await (const chunk of body) {
      signal?.throwIfAborted();
      for (let offset = 0; offset < chunk.byteLength; ) {
        const { bytesWritten } = await handle.write(chunk, offset, chunk.byteLength - offset);
        offset += bytesWritten;
      }
    }
  });
}

/** Copies `sourcePath` into a temp file beside `finalPath` (a reflink where the file system has them). */
export async function stageCopy(sourcePath: string, finalPath: string): Promise<StagedFile> {
  const path = await inFreshFolder(finalPath, async (candidate) => {
    await copyFile(sourcePath, candidate, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
    return candidate;
  });
  try {
    return await seal(await open(path, "r+"), path);
  } catch (error) {
    await removeQuietly(path);
    throw error;
  }
}

/**
 * Fails early, before any bytes are written, when the mode already cannot succeed. The commit checks again; this
 * only spares writing a body that would be thrown away.
 */
export async function checkMode(finalPath: string, mode: WriteMode, location: string): Promise<void> {
  if (mode.kind === "overwrite") return;
  const current = await statIfPresent(finalPath);
  if (current?.isDirectory() === true) throw folderInTheWay(location);
  if (mode.kind === "create") {
    if (current !== undefined) throw alreadyExists(location);
  } else if (current === undefined || revisionOf(current) !== mode.revision) {
    throw revisionMismatch(location, mode.revision, current === undefined ? undefined : revisionOf(current));
  }
}

/** Puts a staged file at `finalPath` as `mode` says, and returns the stats of the object now there. */
export async function commit(
  staged: StagedFile,
  finalPath: string,
  mode: WriteMode,
  location: string,
  lock: LockOptions,
): Promise<BigIntStats> {
  let tempLeft = true;
  try {
    let stats = staged.stats;
    if (mode.kind === "overwrite") {
      await rename(staged.path, finalPath);
      tempLeft = false;
    } else if (mode.kind === "create") {
      await link(staged.path, finalPath).catch((error: unknown) => {
        throw isErrno(error, "EEXIST") ? alreadyExists(location, error) : error;
      });
    } else {
      const expected = mode.revision;
      stats = await withLock(lockPathsFor(finalPath), lock, async () => {
        const current = await statIfPresent(finalPath);
        if (current === undefined || current.isDirectory() || revisionOf(current) !== expected) {
          throw revisionMismatch(location, expected, current === undefined ? undefined : revisionOf(current));
        }
        const committed = isModifiedAfter(staged.stats, current) ? staged.stats : await restamp(staged.path, current);
        await rename(staged.path, finalPath);
        tempLeft = false;
        return committed;
      });
    }
    await syncFolder(dirname(finalPath));
    return stats;
  } finally {
    // After a link or a failure the temp file is still there.
    if (tempLeft) await removeQuietly(staged.path);
  }
}

async function stage(finalPath: string, fill: (handle: FileHandle) => Promise<void>): Promise<StagedFile> {
  const { path, handle } = await inFreshFolder(finalPath, async (candidate) => ({
    path: candidate,
    handle: await open(candidate, "wx"),
  }));
  try {
    await fill(handle);
    return await seal(handle, path);
  } catch (error) {
    await handle.close().catch(() => {});
    await removeQuietly(path);
    throw error;
  }
}

/**
 * Runs `create` on a new temp path beside `finalPath`, creating the folder first when it is missing, and again if a
 * concurrent delete pruned it in between. The folder is usually there: trying first spares a mkdir per write.
 */
async function inFreshFolder<T>(finalPath: string, create: (tempPath: string) => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await create(tempPathBeside(finalPath));
    } catch (error) {
      if (!isErrno(error, "ENOENT") || attempt >= FOLDER_RACE_RETRIES) throw error;
    }
    await makeFolders(dirname(finalPath));
  }
}

/** Stamps, syncs and closes a fully written temp file. */
async function seal(handle: FileHandle, path: string): Promise<StagedFile> {
  try {
    const time = stampTimeAfter();
    await handle.utimes(time, time);
    await handle.sync();
    const stats = await handle.stat({ bigint: true });
    return { path, stats };
  } finally {
    await handle.close();
  }
}

/** Gives a staged file a modification time after `current`'s, so the revisions of the two always differ. */
async function restamp(path: string, current: BigIntStats): Promise<BigIntStats> {
  const time = stampTimeAfter(current);
  await utimes(path, time, time);
  return stat(path, { bigint: true });
}

/** Makes a rename or link durable. Some platforms cannot sync a folder; the data itself is already synced. */
async function syncFolder(folder: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(folder, "r");
    await handle.sync();
  } catch {
    // Best effort: the commit has happened either way.
  } finally {
    await handle?.close().catch(() => {});
  }
}
