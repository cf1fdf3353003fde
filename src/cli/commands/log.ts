/** `opencrate log <snapshot-uri>`: prints a version's log, optionally following it as the run writes more. */
import { setTimeout as sleep } from "node:timers/promises";
import type { Command } from "commander";
import type { ObjectInfo, StorageBackend } from "../../backends/backend.ts";
import { headIfPresent } from "../../backends/presence.ts";
import { isOpenCrateError, NotFoundError } from "../../errors.ts";
import { historyKey, logKey } from "../../snapshot/layout.ts";
import { writeError } from "../errors.ts";
import { writeData } from "../format.ts";
import { nonNegativeInteger, positiveInteger } from "../options.ts";
import { openSnapshotTarget } from "../targets.ts";

interface LogOptions {
  readonly history?: boolean;
  readonly rank?: number;
  readonly follow?: boolean;
  readonly interval: number;
}

const DEFAULT_INTERVAL_MS = 1000;

export function registerLog(program: Command): void {
  program
    .command("log")
    .description("print a snapshot's log (<name>.log, or <name>.history.log with --history)")
    .argument("<snapshot-uri>", "<root>/<name>/v3[:tag], or <root>/<name>@latest|@<N>|@<tag>")
    .option("--history", "print the history of every run of this version instead of the last run's log")
    .option("--rank <n>", "the log of rank n of a distributed job (<name>.rank<n>.log; rank 0 is <name>.log)", nonNegativeInteger)
    .option("-f, --follow", "keep printing lines as they are written, until Ctrl-C")
    .option("--interval <ms>", "how often --follow checks for new lines", positiveInteger, DEFAULT_INTERVAL_MS)
    .addHelpText(
      "after",
      `
Examples:
  $ opencrate log snapshots/train@latest
  $ opencrate log s3://team/snapshots/train/v3:baseline --history
  $ opencrate log train@latest --rank 1               # in $OPENCRATE_ROOT, else ./snapshots
  $ opencrate log s3://team/snapshots/train@latest --follow --interval 500`,
    )
    .action(async (uri: string, options: LogOptions) => {
      const snapshot = await openSnapshotTarget(uri);
      const key =
        options.history === true
          ? historyKey(snapshot.name, snapshot.folder, options.rank)
          : logKey(snapshot.name, snapshot.folder, options.rank);
      if (options.follow === true) {
        await follow(snapshot.backend, key, options.interval);
        return;
      }
      await printWhole(snapshot.backend, key, options.history === true);
    });
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
 * (also checked when the revision changes at the same size): then it is printed from the start.
 */
async function follow(backend: StorageBackend, key: string, intervalMs: number): Promise<void> {
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const where = backend.describe(key);
  let offset = 0;
  let revision: string | undefined;
  let overlap = new Uint8Array(0);
  let waitingShown = false;
  try {
    for (; !stop.signal.aborted; await sleep(intervalMs, undefined, { signal: stop.signal }).catch(() => {})) {
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
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  return bytes.byteLength >= prefix.byteLength && Buffer.from(bytes.buffer, bytes.byteOffset, prefix.byteLength).equals(prefix);
}

