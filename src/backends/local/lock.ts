/**
 * A per-key lock file for compare-and-swap on local disk, which has no atomic "rename if unchanged".
 *
 * The lock is a file created with O_EXCL ('wx') holding its owner (host, pid, token). A lock is stale when its
 * mtime is older than `staleMs`, or when its owner is a process on this host that no longer runs; a stale lock is
 * removed under a second, short-lived "breaker" lock so two waiters never both remove it (one of them could
 * otherwise delete the fresh lock the other just took).
 */
import { hostname } from "node:os";
import { randomUUID } from "node:crypto";
import type { BigIntStats } from "node:fs";
import { open, readFile, unlink } from "node:fs/promises";
import { isErrno } from "./errors.ts";
import { statIfPresent } from "./files.ts";
import type { LockPaths } from "./paths.ts";
import type { RetryPolicy } from "../retry-policy.ts";

export const DEFAULT_LOCK_STALE_MS = 30_000;

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
  readonly token: string;
  readonly createdAt: string;
}

/** Runs `action` while holding the lock at `paths`, waiting (with jittered backoff) while another holder has it. */
export async function withLock<T>(paths: LockPaths, options: LockOptions, action: () => Promise<T>): Promise<T> {
  const token = await acquire(paths, options);
  try {
    return await action();
  } finally {
    await release(paths.lock, token);
  }
}

async function acquire(paths: LockPaths, options: LockOptions): Promise<string> {
  const owner: LockOwner = { host: hostname(), pid: process.pid, token: randomUUID(), createdAt: new Date().toISOString() };
  for (let waits = 1; ; waits++) {
    options.signal?.throwIfAborted();
    if (await tryCreate(paths.lock, JSON.stringify(owner))) return owner.token;
    if (await removeIfStale(paths, options.staleMs)) continue;
    await options.retry.wait(waits, options.signal);
  }
}

/** Creates `path` holding `content`; false when it already exists. */
async function tryCreate(path: string, content: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(path, "wx");
  } catch (error) {
    if (isErrno(error, "EEXIST")) return false;
    throw error;
  }
  try {
    await handle.writeFile(content);
    await handle.close();
    return true;
  } catch (error) {
    await handle.close().catch(() => {});
    await unlink(path).catch(() => {});
    throw error;
  }
}

async function release(lockPath: string, token: string): Promise<void> {
  const owner = await readOwner(lockPath);
  // A holder that outlived `staleMs` may have lost its lock to a waiter; never remove someone else's lock.
  if (owner?.token !== token) return;
  await unlink(lockPath).catch((error: unknown) => {
    if (!isErrno(error, "ENOENT")) throw error;
  });
}

/** Removes the lock when it is stale. True when the caller should retry at once. */
async function removeIfStale(paths: LockPaths, staleMs: number): Promise<boolean> {
  const observed = await statIfPresent(paths.lock);
  if (observed === undefined) return true;
  if (!isStale(observed, await readOwner(paths.lock), staleMs)) return false;

  if (!(await tryCreate(paths.breaker, JSON.stringify({ host: hostname(), pid: process.pid })))) {
    const breaker = await statIfPresent(paths.breaker);
    if (breaker !== undefined && ageMs(breaker) > staleMs) await unlink(paths.breaker).catch(() => {});
    return false;
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

function isStale(lock: BigIntStats, owner: LockOwner | undefined, staleMs: number): boolean {
  if (ageMs(lock) > staleMs) return true;
  return owner !== undefined && owner.host === hostname() && owner.pid !== process.pid && !isRunning(owner.pid);
}

function ageMs(stats: BigIntStats): number {
  return Date.now() - Number(stats.mtimeMs);
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, under another user.
    return !isErrno(error, "ESRCH");
  }
}

async function readOwner(lockPath: string): Promise<LockOwner | undefined> {
  try {
    const parsed: unknown = JSON.parse(await readFile(lockPath, "utf8"));
    if (typeof parsed !== "object" || parsed === null) return undefined;
    const { host, pid, token, createdAt } = parsed as Record<string, unknown>;
    if (typeof host !== "string" || typeof pid !== "number" || typeof token !== "string") return undefined;
    return { host, pid, token, createdAt: typeof createdAt === "string" ? createdAt : "" };
  } catch {
    // Missing, or caught between its creation and its first write.
    return undefined;
  }
}
