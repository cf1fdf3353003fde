import type { LogLevelName } from "./levels.ts";

/** The six level methods, written once for everything that logs (the run logger, and a snapshot in front of it). */
export abstract class LevelMethods {
  /** Logs `parts`, joined like console.log joins its arguments, at `level`. */
  protected abstract logAt(level: LogLevelName, parts: unknown[]): void;

  debug(...parts: unknown[]): void { this.logAt("debug", parts); }
  info(...parts: unknown[]): void { this.logAt("info", parts); }
  success(...parts: unknown[]): void { this.logAt("success", parts); }
  warning(...parts: unknown[]): void { this.logAt("warning", parts); }
  error(...parts: unknown[]): void { this.logAt("error", parts); }
  critical(...parts: unknown[]): void { this.logAt("critical", parts); }
}
