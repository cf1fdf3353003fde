/**
 * A per-key lock file for compare-and-swap on local disk, which has no atomic "rename if unchanged".
 *
 * The lock is a file holding its owner (host, pid, the process's start and space, token). It appears with its owner
 * already in it: the owner is written to a temp file that is then linked to the lock's name (link fails when the
 * name is taken), so a process killed while taking a lock never leaves an empty one.
 *
 * A lock is stale when its mtime is older than `staleMs`; when it holds no owner (empty, or cut short) and is older
 * than `LOCK_EMPTY_GRACE_MS` (an older version of the library, which wrote the owner after creating the file, was
 * killed in between; a lock that cannot be read, another user's, is judged by its age only); or when its owner is a process of this host (same host name, boot and pid namespace) that no longer
 * runs: its pid is gone, or the pid now belongs to another process (a restarted container reuses its pid; the
 * start time tells the two apart, and tells this process's own threads, which share it, from a predecessor).
 * A stale lock is removed under a second, short-lived "breaker" lock so two waiters never both remove it (one of
 * them could otherwise delete the fresh lock the other just took); a breaker left by a killed process is judged
 * stale by the same rules. Sweeps of leftover files remove locks and breakers only by this same protocol
 * (`removeStaleLock`, `removeStaleBreaker`).
 */
import { hostname } from "node:os";
import { randomUUID } from "node:crypto";
import type { BigIntStats } from "node:fs";
import { link, readFile, unlink, writeFile } from "node:fs/promises";
import { isErrno, isNoHardLinks } from "./errors.ts";
import { removeQuietly, statIfPresent } from "./files.ts";
import { tempPathBeside, type LockPaths } from "./paths.ts";
import { stateOfProcess, thisProcess } from "../process-identity.ts";
import type { RetryPolicy } from "../retry-policy.ts";

export const DEFAULT_LOCK_STALE_MS = 30_000;
/**
 * A lock file with no readable owner older than this is stale. This version never leaves one (the lock appears
 * with its owner in it); an older version wrote the owner one step after creating the file, which takes far less.
 */
export const LOCK_EMPTY_GRACE_MS = 5_000;

export interface LockOptions {
  /** A lock older than this is taken over. */
  readonly staleMs: number;
  /** The waits while another holder has the lock. */
  readonly retry: RetryPolicy;
  readonly signal?: AbortSignal | undefined;
}

interface LockOwner {
  readonly host: string;
  readonly pid: number;
  /** Where the pid names one process (see process-identity.ts); absent in locks of older versions. */
  readonly space?: string | undefined;
  /** When the owning process started; absent in locks of older versions. */
  readonly started?: string | undefined;
  readonly token: string;
  readonly createdAt: string;
}

/** How a lock (or breaker) was judged; exported for tests. */
export type LockVerdict = "live" | "old" | "ownerless" | "owner-gone" | "pid-reused";

/** Tells tests which way a stale lock was judged (undefined in production). */
let onStaleLock: ((verdict: LockVerdict, path: string) => void) | undefined;

/** Calls `listener` for every stale lock or breaker found, until the returned function is called (for tests). */
export function watchStaleLocks(listener: (verdict: LockVerdict, path: string) => void): () => void {
  onStaleLock = listener;
  return () => {
    if (onStaleLock === listener) onStaleLock = undefined;
  };
}

function ownerOfThisProcess(token: string): LockOwner {
  const { space, start } = thisProcess();
  return { host: hostname(), pid: process.pid, space, started: start, token, createdAt: new Date().toISOString() };
}

/** Runs `action` while holding the lock at `paths`, waiting (with jittered backoff) while another holder has it. */
export async function withLock<T>(paths: LockPaths, options: LockOptions, action: () => Promise<T>): Promise<T> {
  const token = await acquire(paths, options);
  try {
    return await action();
  } finally {
    await releaseLock(paths.lock, token);
  }
}

async function acquire(paths: LockPaths, options: LockOptions): Promise<string> {
  for (let waits = 1; ; waits++) {
    const token = await tryLock(paths, options);
    if (token !== undefined) return token;
    await options.retry.wait(waits, options.signal);
  }
}

/**
 * Takes the lock at `paths` when it is free, or stale (removed as the header says): the token that releases it
 * ({@link releaseLock}), or undefined while a live holder has it. For callers that wait in their own way.
 */
export async function tryLock(paths: LockPaths, options: Staleness & Pick<LockOptions, "signal">): Promise<string | undefined> {
  const owner = ownerOfThisProcess(randomUUID());
  for (;;) {
    options.signal?.throwIfAborted();
    if (await tryCreate(paths.lock, JSON.stringify(owner))) return owner.token;
    if (!(await removeIfStale(paths, options))) return undefined;
  }
}

/**
 * Creates `path` holding `content`, in one step: the content goes to a temp file beside it, which is then linked
 * to `path`. False when `path` already exists. A kill in between leaves at most the temp file, never an empty lock.
 * A file system without hard links gets the file created exclusively and then written: a kill between the two
 * leaves an ownerless lock, stale after LOCK_EMPTY_GRACE_MS.
 */
async function tryCreate(path: string, content: string): Promise<boolean> {
  const temp = tempPathBeside(path);
  try {
    await writeFile(temp, content, { flag: "wx" });
    await link(temp, path);
    return true;
  } catch (error) {
    if (isErrno(error, "EEXIST")) return false;
    if (isNoHardLinks(error)) return createExclusive(path, content);
    throw error;
  } finally {
    await removeQuietly(temp);
  }
}

async function createExclusive(path: string, content: string): Promise<boolean> {
  try {
    await writeFile(path, content, { flag: "wx" });
    return true;
  } catch (error) {
    if (isErrno(error, "EEXIST")) return false;
    throw error;
  }
}

/** Removes the lock at `lockPath` if it is still the one `token` took. */
export async function releaseLock(lockPath: string, token: string): Promise<void> {
  const owner = await readOwner(lockPath);
  // A holder that outlived `staleMs` may have lost its lock to a waiter; never remove someone else's lock.
  if (typeof owner === "string" || owner.token !== token) return;
  await unlink(lockPath).catch((error: unknown) => {
    if (!isErrno(error, "ENOENT")) throw error;
  });
}

/**
 * Removes the lock at `paths` if it is stale, as a waiter would: under the breaker, and only the very lock judged
 * stale (a lock another waiter took since is kept). For sweeps of leftover files; a live lock is kept.
 */
export async function removeStaleLock(paths: LockPaths, staleMs: number): Promise<void> {
  // A stale breaker in the way is removed first, then the lock is judged again.
  for (let attempt = 0; attempt < 3; attempt++) {
    if (!(await removeIfStale(paths, { staleMs }))) return;
    if ((await statIfPresent(paths.lock)) === undefined) return;
  }
}

/**
 * Removes the breaker at `paths` if it is stale (its holder was killed), and only the very breaker judged stale.
 * For sweeps of leftover files; a live breaker is kept.
 */
export async function removeStaleBreaker(paths: LockPaths, staleMs: number): Promise<void> {
  await removeBreakerIfStale(paths, { staleMs });
}

/** Removes the breaker when it is stale. False when it is gone or live. */
async function removeBreakerIfStale(paths: LockPaths, options: Staleness): Promise<boolean> {
  const breaker = await statIfPresent(paths.breaker);
  if (breaker === undefined) return false;
  const breakerVerdict = judge(breaker, await readOwner(paths.breaker), options);
  if (breakerVerdict === "live") return false;
  onStaleLock?.(breakerVerdict, paths.breaker);
  // Remove only the breaker judged stale, not one another waiter took since.
  const current = await statIfPresent(paths.breaker);
  if (current !== undefined && current.ino === breaker.ino && current.mtimeNs === breaker.mtimeNs) {
    await removeQuietly(paths.breaker);
  }
  return true;
}

type Staleness = Pick<LockOptions, "staleMs">;

/** Removes the lock when it is stale. True when the caller should retry at once. */
async function removeIfStale(paths: LockPaths, options: Staleness): Promise<boolean> {
  const observed = await statIfPresent(paths.lock);
  if (observed === undefined) return true;
  const verdict = judge(observed, await readOwner(paths.lock), options);
  if (verdict === "live") return false;
  onStaleLock?.(verdict, paths.lock);

  if (!(await tryCreate(paths.breaker, JSON.stringify(ownerOfThisProcess(randomUUID()))))) {
    return removeBreakerIfStale(paths, options);
  }
  try {
    // Remove only the very lock judged stale, not one another waiter took since.
    const current = await statIfPresent(paths.lock);
    if (current !== undefined && current.ino === observed.ino && current.mtimeNs === observed.mtimeNs) {
      await unlink(paths.lock).catch(() => {});
    }
  } finally {
    await unlink(paths.breaker).catch(() => {});
  }
  return true;
}

function judge(lock: BigIntStats, owner: OwnerReading, options: Staleness): LockVerdict {
  const age = ageMs(lock);
  if (age > options.staleMs) return "old";
  if (owner === "none") return age > LOCK_EMPTY_GRACE_MS ? "ownerless" : "live";
  // Another user's lock this process may not read: its owner is unknown, not absent; only the age tells.
  if (owner === "unreadable") return "live";
  const ours = thisProcess();
  // Another host, boot or pid namespace: its pids mean nothing here, only the age tells.
  if (owner.host !== hostname()) return "live";
  if (owner.space !== undefined && ours.space !== undefined && owner.space !== ours.space) return "live";
  // Older locks carry no start; one with no space may hold another pid namespace's start, compared only to ours.
  const started = owner.space === undefined && owner.pid !== process.pid ? undefined : owner.started;
  const state = stateOfProcess(owner.pid, started);
  if (state === "gone") return "owner-gone";
  return state === "pid-reused" ? "pid-reused" : "live";
}

function ageMs(stats: BigIntStats): number {
  return Date.now() - Number(stats.mtimeMs);
}

/**
 * What a lock file says of its owner: "none" when it holds none (gone, empty, cut short, or not an owner: an older
 * version's lock caught between its creation and its first write), "unreadable" when it cannot be read (another
 * user's, EACCES).
 */
type OwnerReading = LockOwner | "none" | "unreadable";

async function readOwner(lockPath: string): Promise<OwnerReading> {
  let text: string;
  try {
    text = await readFile(lockPath, "utf8");
  } catch (error) {
    return isErrno(error, "ENOENT") ? "none" : "unreadable";
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return "none";
  }
  if (typeof parsed !== "object" || parsed === null) return "none";
  const { host, pid, space, started, token, createdAt } = parsed as Record<string, unknown>;
  if (typeof host !== "string" || typeof pid !== "number" || typeof token !== "string") return "none";
  return {
    host,
    pid,
    space: typeof space === "string" ? space : undefined,
    started: typeof started === "string" ? started : undefined,
    token,
    createdAt: typeof createdAt === "string" ? createdAt : "",
  };
}
