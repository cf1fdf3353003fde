/** What `opencrate log` does: prints a version's log, optionally following it as the run writes more. */
import { setTimeout as sleep } from "node:timers/promises";
import type { StorageBackend } from "../../backends/backend.ts";
import { headIfPresent } from "../../backends/presence.ts";
import { isOpenCrateError, NotFoundError } from "../../errors.ts";
import { historyKey, logKey } from "../../snapshot/layout.ts";
import { inDefaultRoot } from "../default-root.ts";
import { EXIT_OK, writeError } from "../errors.ts";
import { writeData } from "../format.ts";
import { onInterrupt } from "../interrupt.ts";
import { openSnapshotTarget } from "../targets.ts";

export interface LogOptions {
  readonly history?: boolean;
  readonly rank?: number;
  readonly follow?: boolean;
  readonly interval: number;
}

export async function runLog(uri: string, options: LogOptions): Promise<void> {
  // Following ends with Ctrl-C (or SIGTERM), whatever it is waiting for: that is its normal end.
  if (options.follow === true) onInterrupt(() => process.exit(EXIT_OK));
  const snapshot = await openSnapshotTarget(await inDefaultRoot(uri));
  const key =
    options.history === true
      ? historyKey(snapshot.name, snapshot.folder, options.rank)
      : logKey(snapshot.name, snapshot.folder, options.rank);
  if (options.follow === true) return follow(snapshot.backend, key, options.interval);
  await printWhole(snapshot.backend, key, options.history === true);
}

async function printWhole(backend: StorageBackend, key: string, history: boolean): Promise<void> {
  let stream;
  try {
    stream = await backend.getStream(key);
  } catch (error) {
    if (!isOpenCrateError(error, "NOT_FOUND")) throw error;
    const why = history ? " (the history starts when a run resumes this version)" : "";
    throw new NotFoundError(`No log at ${backend.describe(key)}${why}.`, { path: backend.describe(key), cause: error });
  }
  for await (const chunk of stream) await writeData(chunk as Uint8Array);
}

/** Bytes re-read before each new part, to tell "the log grew" from "a new run replaced it". */
const OVERLAP_BYTES = 64;

/**
 * Prints what is there, then polls the object's size and revision. A log object is rewritten whole on each flush,
 * so while one run writes it, it only grows: the growth is read with one ranged get that starts a few bytes
 * before the last offset. When a new run replaces it, the object shrinks, or those re-read bytes no longer match
 * (also checked when the revision changes at the same size): then it is printed from the start. It never returns:
 * Ctrl-C or SIGTERM ends the process (runLog).
 */
async function follow(backend: StorageBackend, key: string, intervalMs: number): Promise<never> {
  const where = backend.describe(key);
  let offset = 0;
  let revision: string | undefined;
  let overlap = new Uint8Array(0);
  let waitingShown = false;
  for (; ; await sleep(intervalMs)) {
    const current = await headIfPresent(backend, key);
    if (current === undefined) {
      if (offset === 0 && !waitingShown) writeError(`waiting for ${where} to appear (Ctrl-C to stop).`);
      waitingShown = true;
      continue;
    }
    if (current.revision === revision) continue;
    revision = current.revision;
    let from = offset - overlap.byteLength;
    let bytes =
      current.size >= offset ? await backend.get(key, { range: { offset: from, length: current.size - from } }) : undefined;
    if (bytes === undefined || !startsWith(bytes, overlap)) {
      writeError(`${where} was replaced by a new run; printing it from the start.`);
      from = 0;
      overlap = new Uint8Array(0);
      bytes = await backend.get(key);
    }
    await writeData(bytes.subarray(overlap.byteLength));
    offset = from + bytes.byteLength;
    overlap = bytes.slice(Math.max(0, bytes.byteLength - OVERLAP_BYTES));
  }
}

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  return bytes.byteLength >= prefix.byteLength && Buffer.from(bytes.buffer, bytes.byteOffset, prefix.byteLength).equals(prefix);
}

