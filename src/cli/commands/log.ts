/** `opencrate log <snapshot-uri>`: prints a version's log, optionally following it as the run writes more. */
import { setTimeout as sleep } from "node:timers/promises";
import type { Command } from "commander";
import type { StorageBackend } from "../../backends/backend.ts";
import { isOpenCrateError, NotFoundError } from "../../errors.ts";
import { historyKey, logKey } from "../../snapshot/layout.ts";
import { writeError } from "../errors.ts";
import { writeData } from "../format.ts";
import { positiveInteger } from "../options.ts";
import { openSnapshotTarget } from "../targets.ts";

interface LogOptions {
  readonly history?: boolean;
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
    .option("-f, --follow", "keep printing lines as they are written, until Ctrl-C")
    .option("--interval <ms>", "how often --follow checks for new lines", positiveInteger, DEFAULT_INTERVAL_MS)
    .addHelpText(
      "after",
      `
Examples:
  $ opencrate log snapshots/train@latest
  $ opencrate log s3://team/snapshots/train/v3:baseline --history
  $ opencrate log s3://team/snapshots/train@latest --follow --interval 500`,
    )
    .action(async (uri: string, options: LogOptions) => {
      const snapshot = await openSnapshotTarget(uri);
      const key =
        options.history === true ? historyKey(snapshot.name, snapshot.folder) : logKey(snapshot.name, snapshot.folder);
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

/**
 * Prints what is there, then polls the size: growth is read with a ranged get from the last offset. A log object
 * is rewritten whole on each flush, so a shorter object means a new run replaced it: print it from the start.
 */
async function follow(backend: StorageBackend, key: string, intervalMs: number): Promise<void> {
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  let offset = 0;
  try {
    while (!stop.signal.aborted) {
      const size = await sizeOf(backend, key);
      if (size !== undefined && size < offset) {
        writeError(`${backend.describe(key)} was replaced by a new run; printing it from the start.`);
        offset = 0;
      }
      if (size !== undefined && size > offset) {
        const bytes = await backend.get(key, { range: { offset, length: size - offset } });
        await writeData(bytes);
        offset += bytes.byteLength;
      }
      await sleep(intervalMs, undefined, { signal: stop.signal }).catch(() => {});
    }
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

async function sizeOf(backend: StorageBackend, key: string): Promise<number | undefined> {
  try {
    return (await backend.head(key)).size;
  } catch (error) {
    if (isOpenCrateError(error, "NOT_FOUND")) return undefined;
    throw error;
  }
}
