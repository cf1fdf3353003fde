/**
 * Objects as files under a local folder. Keys map to paths below the root ("a/b.txt" → <root>/a/b.txt; ':' is
 * fine in names on POSIX). Every write is atomic (see atomic-write.ts); create-only uses `link`, compare-and-swap
 * a per-key lock file. Folders are created as needed and pruned when their last object is deleted, so an empty
 * folder never shows up in a listing.
 *
 * Capability gap: local disk keeps no user metadata and no content type; `metadata` given to a write is dropped
 * and `head` returns none (`capabilities.userMetadata` is false).
 *
 * Compare-and-swap is exact among `replace` writers, appends and conditional deletes (they share the lock) and
 * against `create`. Plain overwrites and deletes do not take the lock: one racing a `replace` is ordered as the
 * renames land. Appends
 * write in place rather than by rename (append.ts), so their cost is the appended bytes.
 */
import type { BigIntStats, Stats } from "node:fs";
import { lstat, open, readdir, rmdir, stat, unlink, type FileHandle } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Readable } from "node:stream";
import type * as api from "../backend.ts";
import { FULL_CAPABILITIES, OVERWRITE } from "../backend.ts";
import { InvalidArgumentError, PermissionDeniedError } from "../../errors.ts";
import { toBytes } from "../streams.ts";
import { openUploadSource } from "../upload-source.ts";
import { spanOf } from "../byte-range.ts";
import { appendInPlace } from "./append.ts";
import { checkMode, commit, stageBytes, stageCopy, stageStream, type StagedFile } from "./atomic-write.ts";
import { CallerBody } from "../caller-body.ts";
import { folderIsNotAnObject, isErrno, revisionMismatch, toLocalError, type FsAction } from "./errors.ts";
import { statIfPresent } from "./files.ts";
import { listObjects, listOnePage } from "./listing.ts";
import { DEFAULT_LOCK_STALE_MS, removeStaleBreaker, removeStaleLock, withLock, type LockOptions } from "./lock.ts";
import { LocalLayout, lockPathsFor, lockPathsOfLeftover } from "./paths.ts";
import { RESERVED_NAME_PREFIX } from "../keys.ts";
import { isTempInUse, isTempName } from "../temp-names.ts";
import { RetryPolicy, type RetryOptions } from "../retry-policy.ts";
import { objectInfoOf, revisionOf } from "./revision.ts";

export interface LocalBackendOptions {
  /** The folder holding the objects, relative (to the current folder at construction) or absolute. */
  readonly root: string;
  /** A compare-and-swap lock older than this is taken over when its owner cannot be judged from here (another host
   * or pid namespace); one whose owner runs on this host is never taken over, and its waiters fail TRANSIENT once
   * it is older than this. Default 30 s. */
  readonly lockStaleMs?: number;
  /** The waits for a compare-and-swap lock, and the policy lent to version claims and log appends (see
   * RetryOptions). Default: waits from 1 ms up to 50 ms. */
  readonly retry?: RetryOptions;
}

/** Lock waits on local disk are short: the holder is a process on this machine, done in milliseconds. */
export const LOCAL_RETRY: RetryOptions = { baseDelayMs: 1, maxDelayMs: 50 };

const READ_CHUNK_BYTES = 1024 * 1024;
const DELETE_CONCURRENCY = 16;

export class LocalBackend implements api.StorageBackend {
  readonly kind = "local";
  readonly capabilities: api.BackendCapabilities = {
    ...FULL_CAPABILITIES,
    userMetadata: false,
    settlesConditionalWrites: true,
    conditionalDelete: true,
  };
  readonly #layout: LocalLayout;
  readonly #lockStaleMs: number;
  readonly retryPolicy: RetryPolicy;

  constructor(options: LocalBackendOptions) {
    this.#layout = new LocalLayout(options.root);
    this.#lockStaleMs = options.lockStaleMs ?? DEFAULT_LOCK_STALE_MS;
    this.retryPolicy = new RetryPolicy(options.retry, LOCAL_RETRY);
  }

  /** The root as an absolute path. */
  get rootPath(): string {
    return this.#layout.rootPath;
  }

  /** Options that build an equal backend in another thread (the log writer's). */
  portableOptions(): LocalBackendOptions {
    return { root: this.rootPath, lockStaleMs: this.#lockStaleMs, retry: this.retryPolicy.options };
  }

  describe(key: string): string {
    return this.#layout.describe(key);
  }

  async head(key: string, options: { readonly signal?: AbortSignal } = {}): Promise<api.ObjectInfo> {
    const path = this.#layout.pathOfKey(key);
    const stats = await this.#attempt(key, "read", () => stat(path, { bigint: true }));
    if (!stats.isFile()) throw folderIsNotAnObject(this.describe(key));
    return objectInfoOf(key, stats);
  }

  async get(key: string, options: api.ReadOptions = {}): Promise<Uint8Array> {
    return this.#attempt(key, "read", async () => {
      const { handle, start, end } = await this.#openForRead(key, options);
      try {
        const bytes = Buffer.allocUnsafe(end - start);
        let filled = 0;
        while (filled < bytes.byteLength) {
          const want = Math.min(READ_CHUNK_BYTES * 16, bytes.byteLength - filled);
          const { bytesRead } = await handle.read(bytes, filled, want, start + filled);
          if (bytesRead === 0) break;
          filled += bytesRead;
        }
        return bytes.subarray(0, filled);
      } finally {
        await handle.close();
      }
    });
  }

  async getStream(key: string, options: api.ReadOptions = {}): Promise<Readable> {
    return this.#attempt(key, "read", async () => {
      const { handle, start, end } = await this.#openForRead(key, options);
      if (end === start) {
        await handle.close();
        return Readable.from([]);
      }
      // The stream owns the handle from here and closes it when it ends, fails or is destroyed.
      return handle.createReadStream({
        start,
        end: end - 1,
        highWaterMark: READ_CHUNK_BYTES,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
    });
  }

  /** Opens the object and finds the span of `options.range`, at `options.ifRevision`; the caller closes the handle. */
  async #openForRead(key: string, options: api.ReadOptions): Promise<{ handle: FileHandle; start: number; end: number }> {
    const handle = await open(this.#layout.pathOfKey(key), "r");
    try {
      const stats = await handle.stat({ bigint: true });
      if (!stats.isFile()) throw folderIsNotAnObject(this.describe(key));
      checkReadRevision(this.describe(key), options.ifRevision, stats);
      return { handle, ...spanOf(options.range, Number(stats.size)) };
    } catch (error) {
      await handle.close().catch(() => {});
      throw error;
    }
  }

  async put(key: string, body: Uint8Array | string, options: api.WriteOptions = {}): Promise<api.ObjectInfo> {
    const path = this.#layout.pathOfKey(key);
    const mode = options.mode ?? OVERWRITE;
    return this.#write(key, path, mode, options.signal, () => stageBytes(path, toBytes(body)));
  }

  async putStream(
    key: string,
    body: Readable | AsyncIterable<Uint8Array>,
    options: api.StreamWriteOptions = {},
  ): Promise<api.ObjectInfo> {
    const path = this.#layout.pathOfKey(key);
    const mode = options.mode ?? OVERWRITE;
    const source = new CallerBody(body, this.describe(key), options.onProgress);
    try {
      return await this.#write(key, path, mode, options.signal, () => stageStream(path, source, options.signal));
    } catch (error) {
      // The caller's own stream failed: report that (see CallerBody), not a disk error.
      if (source.failure !== undefined) throw source.failure.error;
      throw error;
    }
  }

  /**
   * Writes `bytes` after the end of the file, in place, under the key's compare-and-swap lock (see append.ts):
   * a reader racing it may see part of `bytes`, and a crash may leave part of them. Bytes another program appends
   * without the lock land before or after ours, never under them, and the returned size counts them.
   */
  async append(key: string, bytes: Uint8Array, options: api.AppendOptions = {}): Promise<api.ObjectInfo> {
    const path = this.#layout.pathOfKey(key);
    const lock = this.#lockOptions(options.signal);
    return this.#attempt(key, "write", async () =>
      objectInfoOf(key, await appendInPlace(path, bytes, options.ifRevision, this.describe(key), lock)),
    );
  }

  async *list(prefix: string, options: api.ListOptions = {}): AsyncIterable<api.ObjectInfo> {
    const location = this.#layout.locatePrefix(prefix);
    try {
      yield* listObjects(location, options.startAfter, options.signal, (key) => this.describe(key), options.notUtf8, options.onUnlistable);
    } catch (error) {
      throw toLocalError(error, this.describe(prefix), "list");
    }
  }

  async listPage(prefix: string, options: api.ListPageOptions = {}): Promise<api.ListPage> {
    const location = this.#layout.locatePrefix(prefix);
    const pageSize = options.pageSize ?? 1000;
    const describe = (key: string): string => this.describe(key);
    return this.#attempt(prefix, "list", () => listOnePage(location, options.pageToken, pageSize, describe, options.notUtf8, options.onUnlistable));
  }

  async delete(key: string, options: api.DeleteOptions = {}): Promise<void> {
    const path = this.#layout.pathOfKey(key);
    await this.#attempt(key, "delete", async () => {
      options.signal?.throwIfAborted();
      await this.#assertDeletable(key);
      if (options.ifRevision !== undefined) {
        if (await this.#unlinkAtRevision(key, path, options.ifRevision, options.signal)) await this.#pruneEmptyFolders(dirname(path));
        return;
      }
      try {
        await unlink(path);
      } catch (error) {
        if (isErrno(error, "ENOENT", "ENOTDIR")) return;
        // unlink of a folder: EISDIR on Linux, EPERM on macOS. A folder is not an object, so there is nothing to do.
        if (isErrno(error, "EISDIR", "EPERM") && (await statIfPresent(path))?.isDirectory() === true) return;
        throw error;
      }
      await this.#pruneEmptyFolders(dirname(path));
    });
  }

  /**
   * Compares and unlinks under the key's compare-and-swap lock, as a `replace` write commits: exact against
   * `replace` writes and appends. A plain overwrite (which takes no lock) landing between the compare and the
   * unlink is removed with it, as it would be by a plain delete: the window is two system calls. True when a file
   * was removed; false when nothing was there (or a folder is: not an object).
   */
  async #unlinkAtRevision(key: string, path: string, revision: string, signal: AbortSignal | undefined): Promise<boolean> {
    const present = await statIfPresent(path);
    if (present === undefined || present.isDirectory()) return false;
    try {
      return await withLock(lockPathsFor(path), this.#lockOptions(signal), async () => {
        const current = await statIfPresent(path);
        if (current === undefined || current.isDirectory()) return false;
        if (revisionOf(current) !== revision) throw revisionMismatch(this.describe(key), revision, revisionOf(current));
        try {
          await unlink(path);
        } catch (error) {
          if (isErrno(error, "ENOENT", "ENOTDIR")) return false;
          throw error;
        }
        return true;
      });
    } catch (error) {
      // The folder went away (the last object in it deleted) while the lock was being taken: nothing is there.
      if (isErrno(error, "ENOENT", "ENOTDIR") && (await statIfPresent(path)) === undefined) return false;
      throw error;
    }
  }

  /**
   * Listings follow symbolic links, so a key may lead through a link to a file that belongs elsewhere: another
   * version's folder, or a folder outside the root. Emptying a version folder must not empty what someone linked
   * into it (as `rm -r` removes a link, never what it leads to), so a file whose folder is reached through a link
   * below the root is not deleted: PermissionDeniedError names it. A key that is itself a link removes the link.
   */
  async #assertDeletable(key: string, plainFolders?: Set<string>): Promise<void> {
    await this.#assertNoLinkAlong(key.split("/").slice(0, -1), key, plainFolders);
  }

  /**
   * Refuses (PermissionDeniedError naming `subject`) when one of `folders`, walked down from the root, is a link.
   * `plainFolders` holds paths already found to be no link, and gets the ones found here.
   */
  async #assertNoLinkAlong(folders: readonly string[], subject: string, plainFolders?: Set<string>): Promise<void> {
    let path = this.#layout.rootPath;
    for (const [index, folder] of folders.entries()) {
      path = join(path, folder);
      if (plainFolders?.has(path) === true) continue;
      let info: Stats;
      try {
        info = await lstat(path);
      } catch (error) {
        if (isErrno(error, "ENOENT", "ENOTDIR")) return; // nothing there to delete
        throw error;
      }
      if (!info.isSymbolicLink()) {
        plainFolders?.add(path);
        continue;
      }
      const link = this.describe(folders.slice(0, index + 1).join("/"));
      throw new PermissionDeniedError(
        `Not deleting ${this.describe(subject)}: ${link} on its path is a symbolic link, and opencrate deletes nothing ` +
          "through a link (what it leads to may be another run's). Remove the link to drop those files from the snapshot.",
        { path: this.describe(subject) },
      );
    }
  }

  /** Every file under the folder, and the folder itself, must be deletable without passing through a link. */
  async checkDeletable(prefix: string): Promise<void> {
    await this.#attempt(prefix, "delete", async () => {
      const plainFolders = new Set<string>();
      await this.#assertNoLinkAlong(prefix.split("/").filter((part) => part !== ""), prefix, plainFolders);
      for await (const info of this.list(prefix)) await this.#assertDeletable(info.key, plainFolders);
    });
  }

  /**
   * Removes, under the folder `prefix`, the temp files no writer writes any more (temp-names.ts says which: a live
   * writer's never, however long it has been silent), and lock or breaker files a waiter would take over as stale,
   * removed as a waiter removes them (under the breaker, only the very file judged stale); then the folders this
   * leaves empty. Links are not followed, and a `prefix` reached through one is refused as `checkDeletable` refuses
   * it.
   */
  async removeLeftovers(prefix: string, options: api.LeftoverOptions = {}): Promise<void> {
    const { folderPath } = this.#layout.locatePrefix(prefix);
    await this.#attempt(prefix, "delete", async () => {
      await this.#assertNoLinkAlong(prefix.split("/").filter((part) => part !== ""), prefix);
      const top = await readdir(folderPath, { withFileTypes: true }).catch((error: unknown) => {
        if (isErrno(error, "ENOENT", "ENOTDIR")) return [];
        throw error;
      });
      for (const entry of top) {
        if (options.inFolder !== undefined && !(entry.isDirectory() && options.inFolder(entry.name))) continue;
        const path = join(folderPath, entry.name);
        if (entry.isDirectory()) await this.#sweepLeftovers(path);
        else if (entry.isFile()) await this.#removeIfLeftover(path, entry.name);
      }
      await this.#pruneEmptyFolders(folderPath);
    });
  }

  async #sweepLeftovers(folder: string): Promise<void> {
    let entries;
    try {
      entries = await readdir(folder, { withFileTypes: true });
    } catch (error) {
      if (isErrno(error, "ENOENT", "ENOTDIR")) return;
      throw error;
    }
    for (const entry of entries) {
      const path = join(folder, entry.name);
      // A link is never followed: what it leads to is not ours to clean.
      if (entry.isDirectory()) await this.#sweepLeftovers(path);
      else if (entry.isFile()) await this.#removeIfLeftover(path, entry.name);
    }
    await rmdir(folder).catch(() => {}); // only when empty now
  }

  async #removeIfLeftover(path: string, name: string): Promise<void> {
    if (!name.startsWith(RESERVED_NAME_PREFIX)) return;
    const kind = name.slice(RESERVED_NAME_PREFIX.length);
    // Locks and breakers go only as a waiter would remove them (judged stale, under the breaker, the very file
    // judged): removed by name, a lock another waiter just took in place of a stale one would go, and a third
    // writer could take it while the second still holds it.
    if (kind.startsWith("lock-")) return removeStaleLock(lockPathsOfLeftover(path, kind.slice("lock-".length)), this.#lockStaleMs);
    if (kind.startsWith("break-")) return removeStaleBreaker(lockPathsOfLeftover(path, kind.slice("break-".length)), this.#lockStaleMs);
    if (!isTempName(name)) return;
    const stats = await statIfPresent(path);
    if (stats === undefined || !stats.isFile() || isTempInUse(name, Number(stats.mtimeMs), Date.now())) return;
    await unlink(path).catch((error: unknown) => {
      if (!isErrno(error, "ENOENT")) throw error;
    });
  }

  async deleteMany(keys: Iterable<string> | AsyncIterable<string>): Promise<void> {
    let batch: string[] = [];
    for await (const key of keys) {
      batch.push(key);
      if (batch.length === DELETE_CONCURRENCY) {
        await Promise.all(batch.map((one) => this.delete(one)));
        batch = [];
      }
    }
    await Promise.all(batch.map((one) => this.delete(one)));
  }

  /** Uploads a local file by a kernel-side copy (a reflink where the file system has them) into the temp file. */
  async putFile(key: string, localPath: string, options: api.StreamWriteOptions = {}): Promise<api.ObjectInfo> {
    const path = this.#layout.pathOfKey(key);
    // The source's own problems (missing, a folder, unreadable) are named as such, not as the destination's.
    await (await openUploadSource(localPath, this.describe(key))).handle.close();
    const info = await this.#write(key, path, options.mode ?? OVERWRITE, options.signal, async () => {
      try {
        return await stageCopy(localPath, path);
      } catch (error) {
        // The source passed the check above: one gone or replaced since is still its problem, not the destination's.
        const source = await statIfPresent(localPath).catch(() => undefined);
        if (source?.isFile() !== true) {
          throw new InvalidArgumentError(`Cannot upload ${localPath}: it went away or changed while it was copied.`, {
            path: localPath,
            cause: error,
          });
        }
        throw error;
      }
    });
    options.onProgress?.(info.size);
    return info;
  }

  async copy(from: string, to: string, options: api.CopyOptions = {}): Promise<api.ObjectInfo> {
    const fromPath = this.#layout.pathOfKey(from);
    const toPath = this.#layout.pathOfKey(to);
    const mode = options.mode ?? OVERWRITE;
    await this.head(from);
    return this.#write(to, toPath, mode, options.signal, async () => {
      try {
        return await stageCopy(fromPath, toPath);
      } catch (error) {
        // ENOENT here most likely means the source went away after the head above.
        if (isErrno(error, "ENOENT") && (await statIfPresent(fromPath)) === undefined) {
          throw toLocalError(error, this.describe(from), "read");
        }
        throw error;
      }
    });
  }

  async close(): Promise<void> {}

  /** Checks the mode, stages the body, commits it; the one path every write takes. */
  async #write(
    key: string,
    path: string,
    mode: api.WriteMode,
    signal: AbortSignal | undefined,
    stageBody: () => Promise<StagedFile>,
  ): Promise<api.ObjectInfo> {
    const location = this.describe(key);
    const lock = this.#lockOptions(signal);
    return this.#attempt(key, "write", async () => {
      try {
        await checkMode(path, mode, location);
        const staged = await stageBody();
        const stats = await commit(staged, path, mode, location, lock);
        return objectInfoOf(key, stats);
      } catch (error) {
        // Folders made for a write that did not happen go again (only if nothing else is in them).
        await this.#pruneEmptyFolders(dirname(path));
        throw error;
      }
    });
  }

  #lockOptions(signal: AbortSignal | undefined): LockOptions {
    return { staleMs: this.#lockStaleMs, retry: this.retryPolicy, signal };
  }

  /** Removes folders left empty by a delete, from `folder` up to (not including) the root. */
  async #pruneEmptyFolders(folder: string): Promise<void> {
    const root = this.#layout.rootPath;
    for (let current = folder; current !== root && current.startsWith(root); current = dirname(current)) {
      try {
        await rmdir(current);
      } catch {
        // Not empty (ENOTEMPTY, EEXIST), already gone, or not ours to remove: stop here.
        return;
      }
    }
  }

  /** Runs `action`, turning file-system errors into opencrate errors naming `key`. */
  async #attempt<T>(key: string, action: FsAction, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw toLocalError(error, this.describe(key), action);
    }
  }
}

/** A read pinned to `expected` fails unless the opened file is that revision (the handle keeps reading that file). */
function checkReadRevision(location: string, expected: string | undefined, stats: BigIntStats): void {
  if (expected === undefined) return;
  const current = revisionOf(stats);
  if (current !== expected) throw revisionMismatch(location, expected, current);
}
