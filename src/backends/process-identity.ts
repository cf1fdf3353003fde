/**
 * Who a process is, beyond its pid, so that one process can tell whether another (the owner of a lock, the writer
 * of a temp file) still runs. A pid alone is reused, most visibly by a restarted container (same host name, same
 * small pid), and names different processes in different pid namespaces of one host (containers that share the
 * host's name, as with host networking).
 *
 * - `space`: where a pid means one process: the boot id and the pid namespace (Linux). Two owners in different
 *   spaces cannot judge each other's pids.
 * - `start`: when the process started, which every thread of the process shares (the log writer thread takes
 *   locks too) and a later process with the same pid does not. On Linux it is the kernel's start time (field 22
 *   of /proc/<pid>/stat, in clock ticks since boot), exact and readable for any pid. Elsewhere it is worked out
 *   from the uptime in milliseconds, which two threads of one process compute a little apart:
 *   `sameProcessStart` allows for that.
 */
import { readFileSync, readlinkSync } from "node:fs";
import { hostname } from "node:os";

export interface ProcessIdentity {
  readonly space: string | undefined;
  readonly start: string;
}

const LINUX_PREFIX = "linux:";
const CLOCK_PREFIX = "clock:";
/** How far apart two threads of one process may compute a clock-based start. */
const CLOCK_TOLERANCE_MS = 1_000;

let cached: ProcessIdentity | undefined;

/** This process's identity, the same in every thread of the process. */
export function thisProcess(): ProcessIdentity {
  cached ??= {
    space: linuxSpace(),
    start: linuxStartOf("self") ?? `${CLOCK_PREFIX}${Math.round(Date.now() - process.uptime() * 1000)}`,
  };
  return cached;
}

/** The start of the process `pid` of this space, when the platform tells it (Linux); undefined otherwise. */
export function startOfPid(pid: number): string | undefined {
  return linuxStartOf(String(pid));
}

/** True when two recorded starts name the same process (given the same pid in the same space). */
export function sameProcessStart(a: string, b: string): boolean {
  if (a === b) return true;
  if (a.startsWith(CLOCK_PREFIX) && b.startsWith(CLOCK_PREFIX)) {
    const difference = Number(a.slice(CLOCK_PREFIX.length)) - Number(b.slice(CLOCK_PREFIX.length));
    return Number.isFinite(difference) && Math.abs(difference) <= CLOCK_TOLERANCE_MS;
  }
  return false;
}

/**
 * Where this process's pids name one process: its host name and space. Undefined on Linux when the space cannot be
 * read (there another pid namespace could share the host name). Other platforms have no pid namespaces.
 */
export function placeOfThisProcess(): string | undefined {
  const { space } = thisProcess();
  if (space === undefined && process.platform === "linux") return undefined;
  return `${hostname()}\n${space ?? process.platform}`;
}

/** What became of a process: this very one, another still running, gone, or gone with its pid now another's. */
export type ProcessState = "this-process" | "running" | "gone" | "pid-reused";

/**
 * What became of the process of this place (see placeOfThisProcess) that had `pid` and started at `started`. A
 * start left undefined (not recorded) is not compared, except against this process's own: a pid still running is
 * then taken for the same process. Where the start of another pid cannot be read (not Linux), the same.
 */
export function stateOfProcess(pid: number, started: string | undefined): ProcessState {
  if (pid === process.pid) {
    // This process (any of its threads), or a dead predecessor that had the same pid.
    return started === undefined || sameProcessStart(started, thisProcess().start) ? "this-process" : "pid-reused";
  }
  if (!isRunning(pid)) return "gone";
  if (started === undefined) return "running";
  const now = startOfPid(pid);
  return now === undefined || sameProcessStart(started, now) ? "running" : "pid-reused";
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

function linuxSpace(): string | undefined {
  if (process.platform !== "linux") return undefined;
  try {
    const boot = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    return `${boot}/${readlinkSync("/proc/self/ns/pid")}`;
  } catch {
    return undefined;
  }
}

function linuxStartOf(pid: string): string | undefined {
  if (process.platform !== "linux") return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) is in parentheses and may hold spaces: count the fields after its closing one.
    const ticks = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
    return ticks !== undefined && /^\d+$/.test(ticks) ? `${LINUX_PREFIX}${ticks}` : undefined;
  } catch {
    return undefined;
  }
}
