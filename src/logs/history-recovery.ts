/**
 * Before a resumed run replaces `<name>.log`, the history (`<name>.history.log`) must hold every line of it: the
 * previous run's lines are nowhere else once `.log` is replaced.
 *
 * Usually it does: the run that wrote `.log` appended each batch to the history first. It does not when a history
 * append of that run failed (the flush still writes `.log`, and the lines stay queued for the history) and the run
 * then ended before a later flush stored them (SIGKILL, an exit flush cut short, a store that stayed down), or when
 * another tool wrote or cut the history. So the resumer compares the history's end with `.log` and appends what
 * the history lacks:
 * - `.log` found whole in the history's last bytes, starting a line: nothing is missing. (It need not be at the very
 *   end: a run still writing appends to the history before `.log`, and a crash on local disk can leave part of a
 *   batch at the end of either object.)
 * - else the longest end of the history that starts a line and is a start of `.log`: the rest of `.log` is missing;
 * - else all of `.log` is (after a "\n" when the history's last line is unfinished).
 *
 * Only the history's last bytes are read (twice `.log`'s size plus 64 KiB), not the whole object, except where the
 * store cannot append (GCS) and every history append rewrites it whole anyway. The append names the revision
 * whose end was read, so several resumers at once recover the lines once: a resumer that lost the race reads again
 * and finds them there.
 */
import type { ObjectInfo, StorageBackend } from "../backends/backend.ts";
import { CREATE_ONLY, ifRevision } from "../backends/backend.ts";
import { lostCondition } from "../backends/conditions.ts";
import { headIfPresent } from "../backends/presence.ts";
import type { RetryPolicy } from "../backends/retry-policy.ts";
import { isOpenCrateError, TransientError } from "../errors.ts";
import { concatBytes, TEXT_CONTENT_TYPE } from "./history-append.ts";

/** Extra bytes of the history read beyond twice `.log`'s size. */
const TAIL_SLACK_BYTES = 64 * 1024;
const NEWLINE = 0x0a;

export interface HistoryCompletion {
  /** The bytes of `.log` that the history lacked and that were appended to it (empty when none). */
  readonly recovered: Uint8Array;
}

/**
 * How much of the start of `log` the history already holds, given the history's last bytes (`tail`) and whether
 * `tail` starts a line. `log.length` when the history holds all of it; 0 when none.
 */
export function heldPrefix(tail: Uint8Array, tailStartsLine: boolean, log: Uint8Array): number {
  if (log.byteLength === 0) return 0;
  const end = Buffer.from(tail.buffer, tail.byteOffset, tail.byteLength);
  const body = Buffer.from(log.buffer, log.byteOffset, log.byteLength);
  const startsLine = (at: number): boolean => (at === 0 ? tailStartsLine : end[at - 1] === NEWLINE);
  for (let at = end.indexOf(body); at !== -1; at = end.indexOf(body, at + 1)) {
    if (startsLine(at)) return body.byteLength;
  }
  // The longest end of the history that is a start of `.log` (shorter than all of it: that was looked for above).
  let at = Math.max(0, end.byteLength - body.byteLength + 1);
  while (at < end.byteLength) {
    if (startsLine(at) && end.subarray(at).equals(body.subarray(0, end.byteLength - at))) return end.byteLength - at;
    const newline = end.indexOf(NEWLINE, at);
    if (newline === -1) break;
    at = newline + 1;
  }
  return 0;
}

/**
 * Appends to `historyKey` the lines of `logKey` it lacks (see the file comment). Retries lost races and transient
 * failures as `policy` allows conflicts and transients.
 */
export async function completeHistory(
  backend: StorageBackend,
  historyKey: string,
  logKey: string,
  policy: RetryPolicy,
): Promise<HistoryCompletion> {
  let conflicts = 0;
  let transients = 0;
  /** What an append whose answer was lost tried to recover: it may have landed. */
  let maybeLanded: Uint8Array | undefined;
  for (let attempt = 0; ; attempt++) {
    if (attempt > 0) await policy.wait(attempt);
    try {
      const recovered = await completeOnce(backend, historyKey, logKey);
      return { recovered: recovered.byteLength === 0 && maybeLanded !== undefined ? maybeLanded : recovered };
    } catch (error) {
      if (error instanceof AppendUnanswered) {
        maybeLanded = error.bytes;
        if (!policy.mayRetry("conditional", "transient", ++transients)) throw error.cause;
      } else if (lostCondition(error)) {
        if (!policy.mayRetry("conditional", "conflict", ++conflicts)) {
          throw new TransientError(
            `Gave up making sure ${backend.describe(historyKey)} holds ${backend.describe(logKey)} after ${conflicts} ` +
              "conflicting writes.",
            { path: backend.describe(historyKey), cause: error },
          );
        }
      } else if (isOpenCrateError(error, "TRANSIENT")) {
        if (!policy.mayRetry("conditional", "transient", ++transients)) throw error;
      } else {
        throw error;
      }
    }
  }
}

/** A transient failure of the recovering write, which may have landed. */
class AppendUnanswered extends Error {
  readonly bytes: Uint8Array;
  constructor(bytes: Uint8Array, cause: unknown) {
    super("the append of recovered lines failed", { cause });
    this.bytes = bytes;
  }
}

/** One look and, when lines are missing, one conditional write. Throws a lost condition when either object changed. */
async function completeOnce(backend: StorageBackend, historyKey: string, logKey: string): Promise<Uint8Array> {
  // The history is looked at before `.log` is read: a run still writing appends to the history first, so what the
  // `.log` read shows beyond this history revision is either recovered (when the write under that revision lands)
  // or makes the write fail.
  const history = await headIfPresent(backend, historyKey);
  const log = await readLog(backend, logKey);
  if (log.byteLength === 0) return log;
  if (history === undefined) {
    await backend.put(historyKey, log, { mode: CREATE_ONLY, contentType: TEXT_CONTENT_TYPE });
    return log;
  }
  const window = Math.min(history.size, 2 * log.byteLength + TAIL_SLACK_BYTES);
  const whole = backend.append === undefined;
  // One byte before the window says whether the window starts a line.
  const before = window < history.size ? 1 : 0;
  const read =
    history.size === 0
      ? new Uint8Array(0)
      : await backend.get(historyKey, {
          ifRevision: history.revision,
          ...(whole ? {} : { range: { offset: history.size - window - before, length: window + before } }),
        });
  const tail = read.subarray(read.byteLength - window);
  const startsLine = read.byteLength === window || read[read.byteLength - window - 1] === NEWLINE;
  const held = heldPrefix(tail, startsLine, log);
  if (held === log.byteLength) return new Uint8Array(0);
  const unfinished = held === 0 && history.size > 0 && read[read.byteLength - 1] !== NEWLINE;
  const missing = unfinished ? concatBytes([Buffer.from("\n"), log.subarray(held)]) : log.subarray(held);
  await writeMissing(backend, historyKey, history, whole ? read : undefined, missing);
  return log.subarray(held);
}

async function writeMissing(
  backend: StorageBackend,
  key: string,
  history: ObjectInfo,
  body: Uint8Array | undefined,
  missing: Uint8Array,
): Promise<void> {
  try {
    if (body === undefined && backend.append !== undefined) {
      await backend.append(key, missing, { ifRevision: history.revision });
    } else {
      await backend.put(key, concatBytes([body ?? new Uint8Array(0), missing]), {
        mode: ifRevision(history.revision),
        contentType: TEXT_CONTENT_TYPE,
        ...(history.metadata === undefined ? {} : { metadata: history.metadata }),
      });
    }
  } catch (error) {
    if (isOpenCrateError(error, "TRANSIENT")) throw new AppendUnanswered(missing, error);
    throw error;
  }
}

/** `.log` as it is now; empty when there is none. */
async function readLog(backend: StorageBackend, key: string): Promise<Uint8Array> {
  try {
    return await backend.get(key);
  } catch (error) {
    if (isOpenCrateError(error, "NOT_FOUND")) return new Uint8Array(0);
    throw error;
  }
}
