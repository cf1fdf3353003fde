/** The six log levels, their order and their pino numbers. The one place that knows level names. */
import { InvalidArgumentError } from "../errors.ts";

export type LogLevelName = "debug" | "info" | "success" | "warning" | "error" | "critical";
/** What `logLevel` accepts: a level name in lower case, upper case or capitalised ("info", "INFO", "Info"). */
export type LogLevelOption = LogLevelName | Uppercase<LogLevelName> | Capitalize<LogLevelName>;

/** Every level, lowest first. */
export const LOG_LEVEL_NAMES: readonly LogLevelName[] = ["debug", "info", "success", "warning", "error", "critical"];

/** pino level numbers (pino's own spacing, with success between info and warning). */
export const LOG_LEVEL_VALUES: Readonly<Record<LogLevelName, number>> = {
  debug: 20,
  info: 30,
  success: 35,
  warning: 40,
  error: 50,
  critical: 60,
};

const NAME_BY_VALUE: ReadonlyMap<number, LogLevelName> = new Map(
  LOG_LEVEL_NAMES.map((name) => [LOG_LEVEL_VALUES[name], name] as const),
);

/** The level whose pino number is `value`, if any. */
export function levelNameOf(value: number): LogLevelName | undefined {
  return NAME_BY_VALUE.get(value);
}

/**
 * `debug`, `INFO`, `Warning` … → the level name; anything else → InvalidArgumentError naming the valid ones and
 * `source`, where the value came from (the `logLevel` option, the OPENCRATE_LOG_LEVEL variable).
 */
export function parseLogLevel(input: unknown, source = "log level"): LogLevelName {
  const candidate = typeof input === "string" ? input.trim().toLowerCase() : "";
  if ((LOG_LEVEL_NAMES as readonly string[]).includes(candidate)) return candidate as LogLevelName;
  throw new InvalidArgumentError(
    `Invalid ${source} ${JSON.stringify(input) ?? String(input)}: expected one of ${LOG_LEVEL_NAMES.join(", ")} (any case).`,
  );
}

/** Whether a line at `level` passes a logger set to `threshold`. */
export function isLevelEnabled(level: LogLevelName, threshold: LogLevelName): boolean {
  return LOG_LEVEL_VALUES[level] >= LOG_LEVEL_VALUES[threshold];
}
