/**
 * The process's run logger: pino is the core (levels, filtering, serialisation); one pino destination turns each
 * record into a file-format line for the attached sink, and pino-pretty renders the console line (loaded with the
 * first console line: a run with the console off never loads it). pino itself loads with the first record that
 * passes the level filter, so a snapshot that is only read never loads it.
 */
import { createRequire } from "node:module";
import type { Logger } from "pino";
import type { prettyFactory } from "pino-pretty";
import type { ColorTarget } from "./format.ts";
import { formatConsoleLine, formatException, formatFileLine, formatMessage, shouldUseColor } from "./format.ts";
import { LevelMethods } from "./level-methods.ts";
import type { LogLevelName } from "./levels.ts";
import { isLevelEnabled, LOG_LEVEL_VALUES, levelNameOf, parseLogLevel } from "./levels.ts";
import type { LogSink } from "./sink.ts";

export type { LogSink } from "./sink.ts";

const requireHere = createRequire(import.meta.url);

/** Where console lines go: process.stdout unless a test or an embedding app says otherwise. */
export interface ConsoleOutput extends ColorTarget {
  write(text: string): unknown;
}

export interface RunLoggerOptions {
  /** Lowest level that is printed and stored. Default `info`. */
  readonly level?: LogLevelName;
  /** Echo lines to the console. Default `true`. */
  readonly console?: boolean;
  /** Console target. Default `process.stdout`. */
  readonly consoleOutput?: ConsoleOutput;
  /** Lines kept while no sink is attached; the oldest are dropped past this. Default 10 000. */
  readonly maxPendingLines?: number;
}

const DEFAULT_MAX_PENDING_LINES = 10_000;

/**
 * pino hands a destination flagged with this symbol the record's level, time and message (no JSON parsing). It is
 * pino's `symbols.needsMetadataGsym`, a registered symbol, so it is known before pino loads.
 */
const NEEDS_METADATA = Symbol.for("pino.metadata");

interface PendingLine {
  readonly time: Date;
  readonly line: string;
}

interface RecordDestination {
  [NEEDS_METADATA]: true;
  lastLevel: number;
  lastMsg: unknown;
  lastTime: string;
  write(json: string): void;
}

export class RunLogger extends LevelMethods {
  #pino: Logger<LogLevelName, true> | undefined;
  #level: LogLevelName;
  #prettify: ((record: object) => string) | undefined;
  readonly #maxPending: number;
  #consoleEnabled: boolean;
  readonly #consoleOutput: ConsoleOutput;
  readonly #color: boolean;
  #sink: LogSink | undefined;
  #pending: PendingLine[] = [];
  #droppedPending = 0;

  constructor(options: RunLoggerOptions = {}) {
    super();
    this.#maxPending = Math.max(0, options.maxPendingLines ?? DEFAULT_MAX_PENDING_LINES);
    this.#consoleEnabled = options.console ?? true;
    this.#consoleOutput = options.consoleOutput ?? process.stdout;
    this.#color = shouldUseColor(this.#consoleOutput);
    this.#level = parseLogLevel(options.level ?? "info");
  }

  get level(): LogLevelName {
    return this.#level;
  }

  setLevel(level: LogLevelName): void {
    this.#level = parseLogLevel(level);
    if (this.#pino !== undefined) this.#pino.level = this.#level;
  }

  setConsole(enabled: boolean): void {
    this.#consoleEnabled = enabled;
  }

  /** Whether a call at `level` would print or store anything. */
  isLevelEnabled(level: LogLevelName): boolean {
    return isLevelEnabled(level, this.#level);
  }

  /**
   * An ERROR line: `message`, then the error's stack (and its causes) on the following lines; without an error,
   * the stack of the call site.
   */
  exception(message: string, error?: unknown): void {
    if (!this.isLevelEnabled("error")) return;
    this.#core().error(formatException(formatMessage([message]), error));
  }

  /** A CRITICAL line for an error that is about to end the process: what happened, then the stack. */
  crash(error: unknown, origin: NodeJS.UncaughtExceptionOrigin): void {
    const what = origin === "unhandledRejection" ? "Unhandled promise rejection" : "Uncaught exception";
    // Straight to the sink, not through pino: the crash may be the run's first line, and loading pino now could
    // fail for the very reason the process is going down (no file descriptors left), losing the line.
    this.#deliver("critical", formatException(what, error ?? String(error)), new Date());
  }

  /**
   * From now on every file-format line goes to `sink`. Lines logged while no sink was attached are handed to it
   * first (after a WARNING line counting any that the bounded buffer dropped).
   */
  attach(sink: LogSink): void {
    this.#sink = sink;
    const pending = this.#pending.slice(-this.#maxPending);
    this.#pending = [];
    if (this.#droppedPending > 0) {
      const count = this.#droppedPending;
      sink.write(
        formatFileLine(
          pending[0]?.time ?? new Date(),
          "warning",
          `${count} earlier log line${count === 1 ? " was" : "s were"} dropped before this log was attached ` +
            `(at most ${this.#maxPending} are kept).`,
        ),
      );
    }
    this.#droppedPending = 0;
    for (const { line } of pending) sink.write(line);
  }

  /** Stops sending lines to the current sink (returned, not closed); later lines wait for the next `attach`. */
  detach(): LogSink | undefined {
    const sink = this.#sink;
    this.#sink = undefined;
    return sink;
  }

  /** Flushes the attached sink (nothing to do without one). */
  async flush(): Promise<void> {
    await this.#sink?.flush();
  }

  protected logAt(level: LogLevelName, parts: unknown[]): void {
    if (!this.isLevelEnabled(level)) return;
    this.#core()[level](formatMessage(parts));
  }

  #core(): Logger<LogLevelName, true> {
    if (this.#pino !== undefined) return this.#pino;
    const { pino } = requireHere("pino") as typeof import("pino");
    const destination: RecordDestination = {
      [NEEDS_METADATA]: true,
      lastLevel: 0,
      lastMsg: undefined,
      lastTime: "",
      write: () => this.#receive(destination),
    };
    this.#pino = pino<LogLevelName, true>(
      {
        customLevels: LOG_LEVEL_VALUES,
        useOnlyCustomLevels: true,
        level: this.#level,
        base: null,
        timestamp: pino.stdTimeFunctions.epochTime,
      },
      destination,
    );
    return this.#pino;
  }

  #consoleRenderer(): (record: object) => string {
    const pretty = (requireHere("pino-pretty") as { prettyFactory: typeof prettyFactory }).prettyFactory;
    // pino-pretty's own line is `[time] LEVEL (meta): msg`; with level and time ignored and no metadata, its line is
    // exactly what messageFormat returns (it adds no ":" to an empty prefix), so messageFormat renders the whole
    // console line with the Python library's exact colours (pino-pretty's colorette palette differs).
    return pretty({
      colorize: false,
      hideObject: true,
      ignore: "level,time,pid,hostname",
      messageFormat: (record, messageKey) => {
        const level = levelNameOf(Number(record["level"])) ?? "info";
        return formatConsoleLine(level, String(record[messageKey] ?? ""), this.#color);
      },
    });
  }

  /** pino's destination: one record that passed the level filter. */
  #receive(record: RecordDestination): void {
    const level = levelNameOf(record.lastLevel) ?? "info";
    const message = typeof record.lastMsg === "string" ? record.lastMsg : String(record.lastMsg ?? "");
    this.#deliver(level, message, new Date(Number(record.lastTime)));
  }

  /** A line that passed the level filter: to the console (when on), and to the sink or the pending lines. */
  #deliver(level: LogLevelName, message: string, time: Date): void {
    // The stored line first: the console renderer loads pino-pretty with the first console line.
    const line = formatFileLine(time, level, message);
    if (this.#sink !== undefined) this.#sink.write(line);
    else this.#keepPending(line, time);
    if (this.#consoleEnabled) {
      this.#prettify ??= this.#consoleRenderer();
      this.#consoleOutput.write(this.#prettify({ level: LOG_LEVEL_VALUES[level], msg: message }));
    }
  }

  /** Keeps the newest `maxPending` lines; trims in bulk at twice that so each call stays O(1) amortised. */
  #keepPending(line: string, time: Date): void {
    if (this.#pending.length >= this.#maxPending) this.#droppedPending += 1;
    this.#pending.push({ time, line });
    if (this.#pending.length >= 2 * this.#maxPending) this.#pending.splice(0, this.#pending.length - this.#maxPending);
  }
}
