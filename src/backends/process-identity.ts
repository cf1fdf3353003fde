/**
 * Who a process is, beyond its pid, so that one process can tell whether another (the owner of a lock, the writer
 * of a temp file) still runs. A pid alone is reused, most visibly by a restarted container (same host name, same
 * small pid), and names different processes in different pid namespaces of one host (containers that share the
 * host's name, as with host networking).
 *
 * - `space`: where a pid means one process, and its start reads the same (Linux): the boot id, the pid namespace
 *   and the time namespace (the kernel shifts the starts it shows by the reader's time namespace). Two owners in
 *   different spaces cannot judge each other's pids. Elsewhere there is none: nothing tells two machines with the
 *   same host name apart, so no pid is judged there.
 * - `start`: when the process started, which every thread of the process shares (the log writer thread takes
 *   locks too) and a later process with the same pid does not. On Linux it is the kernel's start time (field 22
 *   of /proc/<pid>/stat, in clock ticks since boot), exact and readable for any pid. Where that cannot be read it is
 *   worked out from the uptime in milliseconds, which two threads of one process compute a little apart:
 *   `compareStarts` allows for that, and takes starts of the two kinds for incomparable.
 * - the thread (Linux): its id and its own start, so that another process can tell a worker thread that ended
 *   (terminated or crashed) from one still running, while the process itself runs on.
 */
import { readFileSync, readlinkSync } from "node:fs";
import { hostname } from "node:os";

export interface ProcessIdentity {
  readonly space: string | undefined;
  readonly start: string;
}

/** What a place is made of, as this process reads it (see placeOf); tests pass their own. */
export interface PlaceFacts {
  readonly platform: NodeJS.Platform;
  readonly hostName: string;
  /** Linux: the boot id; undefined when it cannot be read (or elsewhere). */
  readonly bootId: string | undefined;
  /** Linux: the link /proc/self/ns/pid names; undefined when it cannot be read. */
  readonly pidNamespace: string | undefined;
  /** Linux: the link /proc/self/ns/time names; null where the kernel has no time namespaces (before 5.6). */
  readonly timeNamespace: string | null | undefined;
}

const LINUX_PREFIX = "linux:";
const CLOCK_PREFIX = "clock:";
/** How far apart two threads of one process may compute a clock-based start. */
const CLOCK_TOLERANCE_MS = 1_000;

/** A thread of a process, as its space names it (Linux): its id and when it started. */
export interface ThreadIdentity {
  readonly tid: number;
  readonly start: string;
}

let cached: ProcessIdentity | undefined;
/** Null when the thread cannot be told here. Module state is the thread's own: each thread loads the module anew. */
let cachedThread: ThreadIdentity | null | undefined;
let cachedSpaceFacts: Omit<PlaceFacts, "hostName"> | undefined;

/** This process's identity, the same in every thread of the process. */
export function thisProcess(): ProcessIdentity {
  cached ??= {
    space: spaceOf(spaceFactsOfThisProcess()),
    start: linuxStartOf("self") ?? `${CLOCK_PREFIX}${Math.round(Date.now() - process.uptime() * 1000)}`,
  };
  return cached;
}

/** The thread running this code (Linux); undefined where it cannot be told (elsewhere, or /proc without it). */
export function thisThread(): ThreadIdentity | undefined {
  cachedThread ??= readThisThread() ?? null;
  return cachedThread ?? undefined;
}

/** The start of the process `pid` of this space, when the platform tells it (Linux); undefined otherwise. */
export function startOfPid(pid: number): string | undefined {
  return linuxStartOf(String(pid)) ?? undefined;
}

/**
 * Whether the thread `tid` of the process `pid` of this space, started at `started`, still runs: "unknown" where
 * that cannot be read (not Linux, /proc hiding other users' processes) or the starts cannot be compared.
 */
export function stateOfThread(pid: number, tid: number, started: string): "running" | "gone" | "unknown" {
  const now = linuxStartOf(`${pid}/task/${tid}`);
  if (now === null) return "gone";
  if (now === undefined) return "unknown";
  const same = compareStarts(started, now);
  return same === "same" ? "running" : same === "different" ? "gone" : "unknown";
}

/**
 * Whether two recorded starts (given the same pid in the same space) name the same process. Starts of two kinds
 * (one read from /proc, one worked out from the clock, when /proc could not be read) cannot be compared.
 */
export function compareStarts(a: string, b: string): "same" | "different" | "incomparable" {
  if (a === b) return "same";
  const kindOf = (start: string): string => start.slice(0, start.indexOf(":") + 1);
  if (kindOf(a) !== kindOf(b)) return "incomparable";
  if (a.startsWith(CLOCK_PREFIX)) {
    const difference = Number(a.slice(CLOCK_PREFIX.length)) - Number(b.slice(CLOCK_PREFIX.length));
    if (!Number.isFinite(difference)) return "incomparable";
    return Math.abs(difference) <= CLOCK_TOLERANCE_MS ? "same" : "different";
  }
  return "different";
}

/** Each kind of start, with the letter it has in a compact start. */
const START_LETTERS = [
  [LINUX_PREFIX, "l"],
  [CLOCK_PREFIX, "c"],
] as const;

/** A start written short, for names: its kind's letter and the number in base 36 (`l1xq8kv`). */
export function compactStart(start: string): string | undefined {
  for (const [prefix, letter] of START_LETTERS) {
    const digits = start.slice(prefix.length);
    if (start.startsWith(prefix) && /^\d{1,15}$/.test(digits)) return `${letter}${Number(digits).toString(36)}`;
  }
  return undefined;
}

/** The start a compactStart names; undefined for text compactStart never writes. */
export function expandStart(compact: string): string | undefined {
  const kind = START_LETTERS.find(([, letter]) => compact.startsWith(letter));
  const digits = compact.slice(1);
  if (kind === undefined || !/^[0-9a-z]{1,10}$/.test(digits)) return undefined;
  return `${kind[0]}${parseInt(digits, 36)}`;
}

/**
 * Where a pid names one process: the host name and the space (see the file header). Undefined where there is no
 * space: off Linux, or when it cannot be read (another pid or time namespace, or another machine with the same
 * host name, could not be told from this one).
 */
export function placeOf(facts: PlaceFacts): string | undefined {
  const space = spaceOf(facts);
  return space === undefined ? undefined : `${facts.hostName}\n${space}`;
}

/** This process's place (see placeOf). */
export function placeOfThisProcess(): string | undefined {
  return placeOf({ ...spaceFactsOfThisProcess(), hostName: hostname() });
}

/** What became of a process: this very one, another still running, gone, or gone with its pid now another's. */
export type ProcessState = "this-process" | "running" | "gone" | "pid-reused";

/**
 * What became of the process of this place (see placeOf) that had `pid` and started at `started`. A start left
 * undefined (not recorded), or one that cannot be compared with the start read now, is not compared, except
 * against this process's own: a pid still running is then taken for the same process. Where the start of another
 * pid cannot be read (not Linux), the same. A zombie (ended, not yet reaped by its parent) is gone.
 */
export function stateOfProcess(pid: number, started: string | undefined): ProcessState {
  if (pid === process.pid) {
    // This process (any of its threads), or a dead predecessor that had the same pid.
    return started === undefined || compareStarts(started, thisProcess().start) !== "different" ? "this-process" : "pid-reused";
  }
  if (!isRunning(pid)) return "gone";
  const stat = linuxStatOf(String(pid));
  // A zombie still answers a signal, but has ended. Trap: a pid that answers but has no entry is another user's
  // process that /proc hides (mounted with hidepid), not an ended one.
  if (stat !== undefined && stat !== null && isEnded(stat)) return "gone";
  const now = stat === undefined || stat === null ? undefined : startIn(stat);
  if (started === undefined) return "running";
  return now === undefined || compareStarts(started, now) !== "different" ? "running" : "pid-reused";
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, under another user.
    return (error as NodeJS.ErrnoException).code !== "ESRCH";
  }
}

function spaceOf(facts: Omit<PlaceFacts, "hostName">): string | undefined {
  const { platform, bootId, pidNamespace, timeNamespace } = facts;
  if (platform !== "linux" || bootId === undefined || pidNamespace === undefined || timeNamespace === undefined) return undefined;
  return `${bootId}/${pidNamespace}/${timeNamespace ?? "no-time-namespaces"}`;
}

function spaceFactsOfThisProcess(): Omit<PlaceFacts, "hostName"> {
  cachedSpaceFacts ??= readSpaceFacts();
  return cachedSpaceFacts;
}

function readSpaceFacts(): Omit<PlaceFacts, "hostName"> {
  const platform = process.platform;
  if (platform !== "linux") return { platform, bootId: undefined, pidNamespace: undefined, timeNamespace: undefined };
  return {
    platform,
    bootId: readOrUndefined(() => readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim()),
    pidNamespace: readOrUndefined(() => readlinkSync("/proc/self/ns/pid")),
    timeNamespace: readOrUndefined(() => {
      try {
        return readlinkSync("/proc/self/ns/time");
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
        throw error;
      }
    }),
  };
}

function readOrUndefined<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}

function readThisThread(): ThreadIdentity | undefined {
  if (process.platform !== "linux") return undefined;
  // Trap: only a synchronous call reads the link from the calling thread; an asynchronous one runs on a pool thread.
  const link = readOrUndefined(() => readlinkSync("/proc/thread-self"));
  const match = /^(\d+)\/task\/(\d+)$/.exec(link ?? "");
  // A /proc of another pid namespace than this process's names other pids.
  if (match === null || Number(match[1]) !== process.pid) return undefined;
  const tid = Number(match[2]);
  const start = linuxStartOf(`${process.pid}/task/${tid}`);
  return typeof start === "string" ? { tid, start } : undefined;
}

/**
 * The start in /proc/<entry>/stat (`entry`: a pid, "self", or "<pid>/task/<tid>" for a thread): null when there is
 * no such process or thread, or it has ended (a zombie its parent has not reaped yet); undefined when it cannot be
 * read (or not on Linux).
 */
function linuxStartOf(entry: string): string | null | undefined {
  const stat = linuxStatOf(entry);
  if (stat === null || stat === undefined) return stat;
  return isEnded(stat) ? null : startIn(stat);
}

/**
 * The fields of /proc/<entry>/stat from the state on (field 3): null when there is no such entry, undefined when it
 * cannot be read (or not on Linux).
 */
function linuxStatOf(entry: string): readonly string[] | null | undefined {
  if (process.platform !== "linux") return undefined;
  try {
    const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    // The command name (field 2) is in parentheses and may hold spaces: count the fields after its closing one.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ENOENT" || (error as NodeJS.ErrnoException).code === "ESRCH" ? null : undefined;
  }
}

/** A zombie its parent has not reaped yet, or a process being torn down. */
function isEnded(stat: readonly string[]): boolean {
  return stat[0] === "Z" || stat[0] === "X";
}

function startIn(stat: readonly string[]): string | undefined {
  const ticks = stat[19];
  return ticks !== undefined && /^\d+$/.test(ticks) ? `${LINUX_PREFIX}${ticks}` : undefined;
}
