/** Shared helpers for the log tests: capturing sinks and consoles, a fault-injecting backend wrapper. */
import type { AppendOptions, CopyOptions, ObjectInfo, StorageBackend, WriteMode, WriteOptions } from "../../src/backends/backend.ts";
import { TransientError } from "../../src/errors.ts";
import type { ConsoleOutput } from "../../src/logs/logger.ts";
import type { RunRecord } from "../../src/logs/run-record.ts";
import type { LogSink } from "../../src/logs/sink.ts";
import { processWarningsDuring } from "../support/warnings.ts";

export class MemorySink implements LogSink {
  readonly lines: string[] = [];
  flushes = 0;
  closed = false;
  write(line: string): void {
    this.lines.push(line);
  }
  async flush(): Promise<void> {
    this.flushes += 1;
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

export class CapturedConsole implements ConsoleOutput {
  readonly isTTY: boolean;
  text = "";
  constructor(isTTY = false) {
    this.isTTY = isTTY;
  }
  write(text: string): boolean {
    this.text += text;
    return true;
  }
  hasColors(): boolean {
    return true;
  }
}

/** Removes the `YYYY-MM-DD HH:mm:ss - ` prefix after checking its shape. */
export function withoutTime(line: string): string {
  const match = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d - /.exec(line);
  if (match === null) throw new Error(`not a file line: ${JSON.stringify(line)}`);
  return line.slice(match[0].length);
}

export function text(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("utf8");
}

export async function readText(backend: StorageBackend, key: string): Promise<string> {
  return text(await backend.get(key));
}

export type WriteHook = (
  key: string,
  mode: WriteMode | undefined,
  operation: "put" | "copy" | "append",
) => "fail-before" | "fail-after" | undefined;

/**
 * Delegates to `inner`, except that `put`, `copy` and `append` consult `hook`: "fail-before" throws TransientError
 * without writing; "fail-after" writes and then throws TransientError (an answer lost after the write landed). An
 * append's mode is `replace` when it names a revision.
 */
export function withFaultyPuts(inner: StorageBackend, hook: WriteHook): StorageBackend {
  async function faulty<T>(key: string, mode: WriteMode | undefined, operation: "put" | "copy" | "append", write: () => Promise<T>): Promise<T> {
    const fault = hook(key, mode, operation);
    if (fault === "fail-before") throw new TransientError(`injected failure before writing ${key}`, { path: key });
    const result = await write();
    if (fault === "fail-after") throw new TransientError(`injected lost answer after writing ${key}`, { path: key });
    return result;
  }
  return new Proxy(inner, {
    get(target, property) {
      if (property === "put") {
        return (key: string, body: Uint8Array | string, options?: WriteOptions): Promise<ObjectInfo> =>
          faulty(key, options?.mode, "put", () => target.put(key, body, options));
      }
      if (property === "copy") {
        return (from: string, to: string, options?: CopyOptions): Promise<ObjectInfo> =>
          faulty(to, options?.mode, "copy", () => target.copy(from, to, options));
      }
      if (property === "append" && target.append !== undefined) {
        const append = target.append.bind(target);
        return (key: string, bytes: Uint8Array, options?: AppendOptions): Promise<ObjectInfo> => {
          const mode: WriteMode | undefined = options?.ifRevision === undefined ? undefined : { kind: "replace", revision: options.ifRevision };
          return faulty(key, mode, "append", () => append(key, bytes, options));
        };
      }
      // The target as receiver: getters that read #private fields fail when `this` is the proxy.
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** A run record of v0, running since a fixed time, whose log is `log`. */
export function runningRecord(log: string): RunRecord {
  return {
    status: "running",
    exitCode: null,
    signal: null,
    startedAt: "2026-12-04T00:00:00.000Z",
    endedAt: null,
    lastSeen: "2026-12-04T00:00:00.000Z",
    host: "test",
    pid: 1,
    runId: null,
    rank: null,
    node: process.version,
    argv: [],
    git: null,
    version: 0,
    versionName: "v0",
    log,
  };
}

/** Runs `body` and returns the codes of the process warnings it caused. */
export async function warningsDuring(body: () => Promise<void>): Promise<string[]> {
  return (await processWarningsDuring(body)).map((warning) => warning.code ?? "");
}

/** Lines the outage run logs while its store is down (fixtures/outage-run.ts): about 1.5 MiB. */
export const OUTAGE_LINES = 15_000;
/** Lines the outage run logs in its "exit-few" mode: they all fit within its memory bound. */
export const FEW_OUTAGE_LINES = 100;

/** The message of the outage run's line `index`: about 100 bytes as a file line. */
export function outageMessage(index: number): string {
  return `line ${String(index).padStart(6, "0")} `.padEnd(70, "x");
}
