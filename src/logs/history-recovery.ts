/**
 * Before a resumed run replaces `<name>.log`, the history (`<name>.history.log`) must hold every line of it: the
 * previous run's lines are nowhere else once `.log` is replaced.
 *
 * Usually it does: the run that wrote `.log` appended each batch to the history first. It does not when a history
 * append of that run failed (the flush still writes `.log`, and the lines stay queued for the history) and the run
 * then ended before a later flush stored them (SIGKILL, an exit flush cut short, a store that stayed down), or when
 * another tool wrote or cut the history. So the resumer compares the history's end with `.log` and appends what
 * the history lacks.
 *
 * Each batch of the run that wrote `.log` is whole lines, appended to the history in one piece and in order, but
 * not always next to each other: when two runs resumed the version at once, the one that started second owns
 * `.log`, and the other one's batches land in the history between its batches. A batch boundary is only a "\n" in
 * the bytes (local disk keeps no metadata to name batches by). So `.log` is matched line by line against the
 * history's last bytes, in order, each line at the first place after the line before where it starts a line
 * (heldPrefix):
 * - every line found: nothing is missing. (They need not end the history: a run still writing appends to the
 *   history before `.log`, other runs append too, and a crash on local disk can leave part of a batch at the end of
 *   either object.)
 * - else the lines from the first one not found are missing (less the start of that line when the history ends
 *   with it, unfinished), and are appended, after a "\n" when the history's last line is unfinished and not that
 *   start.
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
 *
 * `.log` is held as a sequence of line-aligned pieces found in `tail` in order, each starting a line there: the
 * batches of the run that wrote `.log` need not be next to each other in the history, as another run of the
 * version appends its own batches between them. Each line of `.log` is taken at the first place after the one
 * before where it starts a line of `tail`; lines found one after another form one piece. The last piece may end
 * inside a line of `.log` when the history ends there (a crash on local disk can cut a batch short).
 */
export function heldPrefix(tail: Uint8Array, tailStartsLine: boolean, log: Uint8Array): number {
  if (log.byteLength === 0) return 0;
  const end = Buffer.from(tail.buffer, tail.byteOffset, tail.byteLength);
  const body = Buffer.from(log.buffer, log.byteOffset, log.byteLength);
  const startsLine = (at: number): boolean => (at === 0 ? tailStartsLine : end[at - 1] === NEWLINE);
  let held = 0;
  /** Where in `tail` the next line of `.log` may start. */
  let from = 0;
  while (held < body.byteLength) {
    const newline = body.indexOf(NEWLINE, held);
    const line = body.subarray(held, newline === -1 ? body.byteLength : newline + 1);
    const at = lineStartAt(end, line, from, startsLine);
    if (at === -1) return held + unfinishedStart(end, line, from, startsLine);
    held += line.byteLength;
    from = at + line.byteLength;
  }
  return held;
}

/** The first place at or after `from` where `line` is found starting a line of `tail`; -1 when none. */
function lineStartAt(tail: Buffer, line: Uint8Array, from: number, startsLine: (at: number) => boolean): number {
  for (let at = tail.indexOf(line, from); at !== -1; at = tail.indexOf(line, at + 1)) {
    if (startsLine(at)) return at;
  }
  return -1;
}

/**
 * The length of `tail`'s last line when it is unfinished, starts at or after `from` and is a start of `line`
 * (shorter than `line`: whole, it was looked for first); else 0.
 */
function unfinishedStart(tail: Buffer, line: Uint8Array, from: number, startsLine: (at: number) => boolean): number {
  if (tail.byteLength === 0 || tail[tail.byteLength - 1] === NEWLINE) return 0;
  const at = tail.lastIndexOf(NEWLINE) + 1;
  if (at < from || !startsLine(at) || tail.byteLength - at >= line.byteLength) return 0;
  return tail.subarray(at).equals(line.subarray(0, tail.byteLength - at)) ? tail.byteLength - at : 0;
}

/**
 * Appends to `historyKey` the lines of `logKey` it lacks (see the file comment), and ends its last line when a crash
 * mid-append (local disk) or another writer left it unfinished, so the next line appended starts a line. Without
 * `logKey` (a history just seeded from `.log`) it only ends the last line. Retries lost races and transient
 * failures as `policy` allows conflicts and transients.
 */
export async function completeHistory(
  backend: StorageBackend,
  historyKey: string,
  logKey: string | undefined,
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
            `Gave up making sure ${backend.describe(historyKey)} holds ${logKey === undefined ? "whole lines" : backend.describe(logKey)} after ${conflicts} ` +
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

/**
 * One look and, when lines are missing or the history's last line is unfinished, one conditional write. Returns
 * the recovered bytes of `.log`. Throws a lost condition when either object changed.
 */
async function completeOnce(backend: StorageBackend, historyKey: string, logKey: string | undefined): Promise<Uint8Array> {
  // The history is looked at before `.log` is read: a run still writing appends to the history first, so what the
  // `.log` read shows beyond this history revision is either recovered (when the write under that revision lands)
  // or makes the write fail.
  const history = await headIfPresent(backend, historyKey);
  const log = logKey === undefined ? new Uint8Array(0) : await readLog(backend, logKey);
  if (history === undefined) {
    if (log.byteLength === 0) return log;
    await backend.put(historyKey, endLine(log), { mode: CREATE_ONLY, contentType: TEXT_CONTENT_TYPE });
    return log;
  }
  // With `.log` empty, only the last byte matters (whether the last line is finished).
  const window = Math.min(history.size, log.byteLength === 0 ? 1 : 2 * log.byteLength + TAIL_SLACK_BYTES);
  // Without `append` the write rewrites the whole history: read it whole when lines are likely to be written.
  const whole = backend.append === undefined && log.byteLength > 0;
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
  const unfinished = history.size > 0 && read[read.byteLength - 1] !== NEWLINE;
  const recovered = log.subarray(held);
  if (recovered.byteLength === 0) {
    // A crash mid-append (local disk) or another writer left the last line cut: end it, keeping its bytes, so the
    // next appended line starts a line of its own.
    if (unfinished) await writeMissing(backend, historyKey, history, whole ? read : undefined, NEWLINE_BYTES, recovered);
    return recovered;
  }
  // A "\n" first when the history's last line is unfinished, unless it is the start of a line of `.log` that the
  // missing bytes finish; a "\n" last when `.log` itself ends inside a line.
  const separate = unfinished && (held === 0 || log[held - 1] === NEWLINE);
  const missing = concatBytes([...(separate ? [NEWLINE_BYTES] : []), endLine(recovered)]);
  await writeMissing(backend, historyKey, history, whole ? read : undefined, missing, recovered);
  return recovered;
}

const NEWLINE_BYTES = Uint8Array.of(NEWLINE);

/** `bytes` ending with a "\n" (one added when they end inside a line). */
function endLine(bytes: Uint8Array): Uint8Array {
  return bytes.byteLength === 0 || bytes[bytes.byteLength - 1] === NEWLINE ? bytes : concatBytes([bytes, NEWLINE_BYTES]);
}

async function writeMissing(
  backend: StorageBackend,
  key: string,
  history: ObjectInfo,
  body: Uint8Array | undefined,
  missing: Uint8Array,
  recovered: Uint8Array,
): Promise<void> {
  try {
    if (backend.append !== undefined) {
      await backend.append(key, missing, { ifRevision: history.revision });
    } else {
      await backend.put(key, concatBytes([body ?? (await backend.get(key, { ifRevision: history.revision })), missing]), {
        mode: ifRevision(history.revision),
        contentType: TEXT_CONTENT_TYPE,
        ...(history.metadata === undefined ? {} : { metadata: history.metadata }),
      });
    }
  } catch (error) {
    if (isOpenCrateError(error, "TRANSIENT")) throw new AppendUnanswered(recovered, error);
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
