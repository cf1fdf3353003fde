import type { RunEnding } from "./run-record.ts";
import type { CloseOptions } from "./run-writer.ts";

/** Where a logger's file-format lines go (a snapshot's log objects, or anything else that stores lines). */
export interface LogSink {
  /** One formatted file line without the trailing newline; a multi-line message is one "line" with newlines. */
  write(line: string): void;
  /** Stores everything written so far. */
  flush(): Promise<void>;
  /** Flushes, then stops: later writes are not stored. */
  close(): Promise<void>;
}

/** A run's sink: its log objects and its run record, ended with how the run ended. */
export interface RunSink extends LogSink {
  /** Where `.log` lives, for messages. */
  readonly path: string;
  /**
   * Leave this sink to `exit`: its `closeSync` blocks until the lines are stored (the log-writer thread). False: it
   * is flushed before `exit` (as the event loop runs dry), where its `closeSync` may only start the writes.
   */
  readonly storesAtExit: boolean;
  /** Lines written so far (also those dropped after the close). */
  readonly linesWritten: number;
  /**
   * Stores the last lines and the final record. A failed close keeps the lines and leaves the run open: calling
   * close() (or flush()) again tries again; `final` (the process is ending) ends the record whatever happens.
   */
  close(ending?: RunEnding, options?: CloseOptions): Promise<void>;
  /**
   * The event loop ran dry (`beforeExit`) with the run still open: a flush, and for a run written from the main
   * thread, whose writes at `exit` can only be started, its record with `ending` as it stands (rewritten as running
   * if the run goes on).
   */
  flushForExit(ending: RunEnding): Promise<void>;
  /**
   * For `exit` listeners, where nothing asynchronous can run any more: stores what is left before returning, when
   * the sink can (within `timeoutMs`). Returns false when it could not.
   */
  closeSync(ending: RunEnding, timeoutMs: number): boolean;
  /** Begins what `closeSync` then waits for (so the runs of the process store at once), where the sink can. */
  beginCloseSync?(ending: RunEnding, timeoutMs: number): void;
  /**
   * The run wrote into its version (a save): its record is refreshed in the background unless it was written a few
   * seconds ago, so a run that saves without logging also learns soon that its version was deleted. Never fails.
   */
  touch(): void;
}
