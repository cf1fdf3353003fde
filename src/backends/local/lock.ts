/**
 * A per-key lock file for compare-and-swap on local disk, which has no atomic "rename if unchanged".
 *
 * The lock is a file holding its owner (host, pid, the process's start and space, the thread and its start, token).
 * It appears with its owner already in it: the owner is written to a temp file that is then linked to the lock's
 * name (link fails when the name is taken), so a process killed while taking a lock never leaves an empty one.
 *
 * Whether a lock is stale depends on what can be told of its owner from here (`judge`, the one rule):
 * - An owner of this host (same host name, boot, pid and time namespace) is judged by its process and thread. One
 *   that no longer runs (its pid gone, the pid now another process's, its thread ended, as a worker thread that
 *   was terminated or crashed) leaves a stale lock, taken over at once. One that runs is never taken over, however
 *   old its lock: a holder paused past any age (SIGSTOP, a debugger, a slow disk) still believes it holds the lock,
 *   and a second writer inside the same compare-and-swap would lose an update. Past `staleMs` its waiters fail
 *   TRANSIENT instead, naming it. A lock this very thread took and no longer holds (its release failed to remove it)
 *   is stale at once too.
 * - An owner that cannot be judged from here (another host or pid namespace, a lock of an older version without a
 *   start or thread, a platform without /proc) leaves a lock taken over once older than `staleMs`; one holding no
 *   owner (empty, or cut short) once older than `LOCK_EMPTY_GRACE_MS` (an older version of the library, which wrote
 *   the owner after creating the file, was killed in between); one that cannot be read (another user's) by its age.
 * A stale lock is removed under a second, short-lived "breaker" lock so two waiters never both remove it (one of
 * them could otherwise delete the fresh lock the other just took); a breaker is judged by the same rule. Sweeps of
 * leftover files remove locks and breakers only by this same protocol (`removeStaleLock`, `removeStaleBreaker`).
 */
import { hostname } from "node:os";
import { randomUUID } from "node:crypto";
import type { BigIntStats } from "node:fs";
import { link, readFile, unlink, writeFile } from "node:fs/promises";
import { TransientError } from "../../errors.ts";
import { isErrno, isNoHardLinks } from "./errors.ts";
import { removeQuietly, statIfPresent } from "./files.ts";
import { tempPathBeside, type LockPaths } from "./paths.ts";
import { compareStarts, startOfPid, stateOfProcess, stateOfThread, thisProcess, thisThread } from "../process-identity.ts";
import type { RetryPolicy } from "../retry-policy.ts";

export const DEFAULT_LOCK_STALE_MS = 30_000;
/**
 * A lock file with no readable owner older than this is stale. This version never leaves one (the lock appears
 * with its owner in it); an older version wrote the owner one step after creating the file, which takes far less.
 */
export const LOCK_EMPTY_GRACE_MS = 5_000;

export interface LockOptions {
  /** A lock older than this is taken over when its owner cannot be judged from here; when its owner runs on this
   * host, its waiters fail TRANSIENT instead (see the header). */
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
  /** The thread that took it, and when that thread started (see process-identity.ts); absent in locks of older
   * versions and where threads cannot be told (not Linux). */
  readonly tid?: number | undefined;
  readonly threadStarted?: string | undefined;
  /** Which loaded copy of this module took it (see `heldHere`). */
  readonly instance?: string | undefined;
  readonly token: string;
  readonly createdAt: string;
}

/**
 * How a lock (or breaker) was judged; exported for tests. "live": kept, waited for. "overdue": kept, although older
 * than the stale age, because its owner runs on this host. The others are stale.
 */
export type LockVerdict = "live" | "overdue" | StaleVerdict;
type StaleVerdict = "old" | "ownerless" | "owner-gone" | "pid-reused" | "thread-gone" | "released";

/** Tells this loaded copy of the module, in this thread, from any other (a package loaded as both ESM and CommonJS). */
const INSTANCE = randomUUID();
/**
 * Tokens of the locks and breakers this copy of the module holds or is taking, in this thread: a lock it took that
 * is not among them is one it failed to remove (see `holderOf`). A token joins before its file can appear.
 */
const heldHere = new Set<string>();

/** Tells tests which way a stale lock was judged (undefined in production). */
let onStaleLock: ((verdict: StaleVerdict, path: string) => void) | undefined;

/** Calls `listener` for every stale lock or breaker found, until the returned function is called (for tests). */
export function watchStaleLocks(listener: (verdict: StaleVerdict, path: string) => void): () => void {
  onStaleLock = listener;
  return () => {
    if (onStaleLock === listener) onStaleLock = undefined;
  };
}

function ownerOfThisProcess(token: string): LockOwner {
  const { space, start } = thisProcess();
  const thread = thisThread();
  return {
    host: hostname(),
    pid: process.pid,
    space,
    started: start,
    tid: thread?.tid,
    threadStarted: thread?.start,
    instance: INSTANCE,
    token,
    createdAt: new Date().toISOString(),
  };
}

/**
 * Runs `action` while holding the lock at `paths`, waiting (by `options.retry`) while another holder has it. Fails
 * TRANSIENT, naming the lock and its holder, when a holder that runs on this host keeps it past `staleMs` for as
 * many tries as the policy allows.
 */
export async function withLock<T>(paths: LockPaths, options: LockOptions, action: () => Promise<T>): Promise<T> {
  const token = await acquire(paths, options);
  try {
    return await action();
  } finally {
    await releaseLock(paths.lock, token);
  }
}

async function acquire(paths: LockPaths, options: LockOptions): Promise<string> {
  let overdueTries = 0;
  for (let waits = 1; ; waits++) {
    const taken = await take(paths, options);
    if (typeof taken === "string") return taken;
    overdueTries = taken.overdue === undefined ? 0 : overdueTries + 1;
    if (taken.overdue !== undefined && overdueTries >= options.retry.attempts) {
      throw lockHeldError(taken.path, options.staleMs, taken.overdue.pid);
    }
    await options.retry.wait(waits, options.signal);
  }
}

/**
 * Takes the lock at `paths` when it is free, or stale (removed as the header says): the token that releases it
 * ({@link releaseLock}), or undefined while a live holder has it. For callers that wait in their own way.
 */
export async function tryLock(paths: LockPaths, options: Staleness & Pick<LockOptions, "signal">): Promise<string | undefined> {
  const taken = await take(paths, options);
  return typeof taken === "string" ? taken : undefined;
}

/** A lock (or breaker) found held, at `path`; `overdue` names its owner when that runs past the stale age. */
interface Held {
  readonly path: string;
  readonly overdue?: LockOwner | undefined;
}

/** The token of the lock now taken, or what holds it. */
async function take(paths: LockPaths, options: Staleness & Pick<LockOptions, "signal">): Promise<string | Held> {
  const owner = ownerOfThisProcess(randomUUID());
  heldHere.add(owner.token);
  let taken = false;
  try {
    for (;;) {
      options.signal?.throwIfAborted();
      if (await tryCreate(paths.lock, JSON.stringify(owner))) {
        taken = true;
        return owner.token;
      }
      const held = await removeIfStale(paths, options);
      if (held !== undefined) return held;
    }
  } finally {
    if (!taken) heldHere.delete(owner.token);
  }
}

/**
 * The failure of a wait for the lock at `path`, held past `heldForMs`: TRANSIENT, as the holder may let go later.
 * `runningHolder` is the pid of a holder known to run on this host, which is never taken over.
 */
export function lockHeldError(path: string, heldForMs: number, runningHolder?: number): TransientError {
  const held = `${path} has been held for over ${heldForMs / 1000} s`;
  const message =
    runningHolder === undefined
      ? `${held}; delete it if no opencrate process is running.`
      : `${held} by process ${runningHolder} of this host, which still runs (stopped, paused in a debugger, or on a ` +
        "slow disk?); a running holder's lock is never taken over, as it may still write. Try again once it lets go, or end that process.";
  return new TransientError(message, { path });
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
  try {
    const owner = await readOwner(lockPath);
    // A holder that could not be judged from where a waiter ran may have lost its lock to it after `staleMs`;
    // never remove someone else's lock.
    if (typeof owner === "string" || owner.token !== token) return;
    await unlink(lockPath).catch((error: unknown) => {
      if (!isErrno(error, "ENOENT")) throw error;
    });
  } finally {
    // Only once the file is gone: until then this thread's own waiters must find the lock held.
    heldHere.delete(token);
  }
}

/**
 * Removes the lock at `paths` if it is stale, as a waiter would: under the breaker, and only the very lock judged
 * stale (a lock another waiter took since is kept). For sweeps of leftover files; a live lock is kept.
 */
export async function removeStaleLock(paths: LockPaths, staleMs: number): Promise<void> {
  // A stale breaker in the way is removed first, then the lock is judged again.
  for (let attempt = 0; attempt < 3; attempt++) {
    if ((await removeIfStale(paths, { staleMs })) !== undefined) return;
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

/** Removes the breaker when it is stale (undefined); otherwise what holds it (also when it is gone: then wait). */
async function removeBreakerIfStale(paths: LockPaths, options: Staleness): Promise<Held | undefined> {
  const breaker = await statIfPresent(paths.breaker);
  if (breaker === undefined) return { path: paths.breaker };
  const owner = await readOwner(paths.breaker);
  const breakerVerdict = judge(breaker, owner, options);
  if (breakerVerdict === "live" || breakerVerdict === "overdue") return heldAs(paths.breaker, breakerVerdict, owner);
  onStaleLock?.(breakerVerdict, paths.breaker);
  // Remove only the breaker judged stale, not one another waiter took since.
  const current = await statIfPresent(paths.breaker);
  if (current !== undefined && current.ino === breaker.ino && current.mtimeNs === breaker.mtimeNs) {
    await removeQuietly(paths.breaker);
  }
  return undefined;
}

type Staleness = Pick<LockOptions, "staleMs">;

/** Removes the lock when it is stale, or it is gone: undefined, and the caller tries again at once. Otherwise what holds it. */
async function removeIfStale(paths: LockPaths, options: Staleness): Promise<Held | undefined> {
  const observed = await statIfPresent(paths.lock);
  if (observed === undefined) return undefined;
  const owner = await readOwner(paths.lock);
  const verdict = judge(observed, owner, options);
  if (verdict === "live" || verdict === "overdue") return heldAs(paths.lock, verdict, owner);
  onStaleLock?.(verdict, paths.lock);

  const breaker = ownerOfThisProcess(randomUUID());
  heldHere.add(breaker.token);
  try {
    if (!(await tryCreate(paths.breaker, JSON.stringify(breaker)))) return await removeBreakerIfStale(paths, options);
    try {
      // Remove only the very lock judged stale, not one another waiter took since.
      const current = await statIfPresent(paths.lock);
      if (current !== undefined && current.ino === observed.ino && current.mtimeNs === observed.mtimeNs) {
        await unlink(paths.lock).catch(() => {});
      }
    } finally {
      await unlink(paths.breaker).catch(() => {});
    }
  } finally {
    heldHere.delete(breaker.token);
  }
  return undefined;
}

function heldAs(path: string, verdict: "live" | "overdue", owner: OwnerReading): Held {
  return { path, overdue: verdict === "overdue" && typeof owner !== "string" ? owner : undefined };
}

function judge(lock: BigIntStats, owner: OwnerReading, options: Staleness): LockVerdict {
  const age = ageMs(lock);
  const old = age > options.staleMs;
  if (owner === "none") return old ? "old" : age > LOCK_EMPTY_GRACE_MS ? "ownerless" : "live";
  // Another user's lock this process may not read: its owner is unknown, not absent; only the age tells.
  if (owner === "unreadable") return old ? "old" : "live";
  const holder = holderOf(owner);
  if (holder === "unknown") return old ? "old" : "live";
  if (holder === "running") return old ? "overdue" : "live";
  return holder;
}

/**
 * What became of a lock's owner: "running" only when it is known to run (this host, boot, pid and time namespace;
 * a process of its pid that started when it did; its thread still running), "unknown" when that cannot be told.
 */
function holderOf(owner: LockOwner): "running" | "unknown" | "owner-gone" | "pid-reused" | "thread-gone" | "released" {
  const ours = thisProcess();
  // Another host, boot or pid namespace: its pids mean nothing here.
  if (owner.host !== hostname()) return "unknown";
  if (owner.space !== undefined && ours.space !== undefined && owner.space !== ours.space) return "unknown";
  // Older locks carry no start; one with no space may hold another pid namespace's start, compared only to ours.
  const started = owner.space === undefined && owner.pid !== process.pid ? undefined : owner.started;
  const state = stateOfProcess(owner.pid, started);
  if (state === "gone") return "owner-gone";
  if (state === "pid-reused") return "pid-reused";
  // A running pid is the owner's only when the space is known to be the same and the start matches exactly.
  if (owner.space === undefined || owner.space !== ours.space || started === undefined) return "unknown";
  const startNow = state === "this-process" ? ours.start : startOfPid(owner.pid);
  if (startNow === undefined || compareStarts(started, startNow) !== "same") return "unknown";
  // Trap: a process runs on after one of its worker threads ended holding a lock; only its thread tells.
  if (owner.tid === undefined || owner.threadStarted === undefined) return "unknown";
  const thread = stateOfThread(owner.pid, owner.tid, owner.threadStarted);
  if (thread !== "running") return thread === "gone" ? "thread-gone" : "unknown";
  if (owner.pid === process.pid && owner.instance === INSTANCE && !heldHere.has(owner.token)) return "released";
  return "running";
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
  const { host, pid, space, started, tid, threadStarted, instance, token, createdAt } = parsed as Record<string, unknown>;
  if (typeof host !== "string" || typeof pid !== "number" || typeof token !== "string") return "none";
  return {
    host,
    pid,
    space: typeof space === "string" ? space : undefined,
    started: typeof started === "string" ? started : undefined,
    tid: typeof tid === "number" ? tid : undefined,
    threadStarted: typeof threadStarted === "string" ? threadStarted : undefined,
    instance: typeof instance === "string" ? instance : undefined,
    token,
    createdAt: typeof createdAt === "string" ? createdAt : "",
  };
}
