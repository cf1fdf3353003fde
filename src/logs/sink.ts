/** Where a logger's file-format lines go (a snapshot's log objects, or anything else that stores lines). */
export interface LogSink {
  /** One formatted file line without the trailing newline; a multi-line message is one "line" with newlines. */
  write(line: string): void;
  /** Stores everything written so far. */
  flush(): Promise<void>;
  /** Flushes, then stops: later writes are not stored. */
  close(): Promise<void>;
}
