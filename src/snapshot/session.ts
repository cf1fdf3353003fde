/** The process-wide session `oc`, shaped like the Python `import opencrate as oc`. */
import { io, type Io } from "../io/index.ts";
import { Snapshot } from "./snapshot.ts";

export interface Session {
  /** The process-wide snapshot; `await oc.snapshot.setup({ name })` starts a run. */
  readonly snapshot: Snapshot;
  readonly io: Io;
  debug(...parts: unknown[]): void;
  info(...parts: unknown[]): void;
  success(...parts: unknown[]): void;
  warning(...parts: unknown[]): void;
  error(...parts: unknown[]): void;
  critical(...parts: unknown[]): void;
  /** Logs at ERROR followed by the error's stack. */
  exception(message: string, error?: unknown): void;
  flush(): Promise<void>;
  /** Flushes and closes the run's logs (also done at normal exit and on SIGTERM/SIGINT). */
  close(): Promise<void>;
}

export function createSession(): Session {
  const snapshot = new Snapshot();
  return {
    snapshot,
    io,
    debug: (...parts) => snapshot.debug(...parts),
    info: (...parts) => snapshot.info(...parts),
    success: (...parts) => snapshot.success(...parts),
    warning: (...parts) => snapshot.warning(...parts),
    error: (...parts) => snapshot.error(...parts),
    critical: (...parts) => snapshot.critical(...parts),
    exception: (message, error) => snapshot.exception(message, error),
    flush: () => snapshot.flush(),
    close: () => snapshot.close(),
  };
}
