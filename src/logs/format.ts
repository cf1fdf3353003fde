/**
 * How a log line looks: the file line, the console line (coloured on a TTY), message parts joined Python-style,
 * and an exception's stack under its message. Pure functions; the logger and the log objects only call them.
 */
import { fileURLToPath } from "node:url";
import { inspect, types } from "node:util";
import type { LogLevelName } from "./levels.ts";

/** ANSI SGR codes per level, as the Python library colours them. */
const LEVEL_COLORS: Readonly<Record<LogLevelName, string>> = {
  debug: "34;1",
  info: "1",
  success: "32;1",
  warning: "33;1",
  error: "31;1",
  critical: "41;1",
};

const LABEL_WIDTH = 8;
const INSPECT_DEPTH = 4;
const MAX_CAUSE_DEPTH = 8;

function label(level: LogLevelName): string {
  return level.toUpperCase().padEnd(LABEL_WIDTH);
}

const pad2 = (value: number): string => (value < 10 ? `0${value}` : String(value));

let cachedSecond = Number.NaN;
let cachedStamp = "";

/** `YYYY-MM-DD HH:mm:ss` in local time. Cached per second: the logger calls this for every line. */
export function formatLocalTimestamp(time: Date): string {
  const second = Math.floor(time.getTime() / 1000);
  if (second === cachedSecond) return cachedStamp;
  const stamp =
    `${String(time.getFullYear()).padStart(4, "0")}-${pad2(time.getMonth() + 1)}-${pad2(time.getDate())} ` +
    `${pad2(time.getHours())}:${pad2(time.getMinutes())}:${pad2(time.getSeconds())}`;
  cachedSecond = second;
  cachedStamp = stamp;
  return stamp;
}

/**
 * One `.log` line, without the trailing newline: `YYYY-MM-DD HH:mm:ss - LEVEL    message` (local time, the level
 * upper-case padded to 8, one space, the message as given; a multi-line message stays multi-line).
 */
export function formatFileLine(time: Date, level: LogLevelName, message: string): string {
  return `${formatLocalTimestamp(time)} - ${label(level)} ${message}`;
}

/**
 * One console line, without the trailing newline: the level padded to 8, two spaces, the message. In colour the
 * padded level and the first space are wrapped in the level's SGR code (as loguru printed them).
 */
export function formatConsoleLine(level: LogLevelName, message: string, color: boolean): string {
  if (!color) return `${label(level)}  ${message}`;
  return `\x1b[${LEVEL_COLORS[level]}m${label(level)} \x1b[0m ${message}`;
}

/** What colour decisions look at: the output stream and the environment. */
export interface ColorTarget {
  readonly isTTY?: boolean;
  hasColors?(): boolean;
}

/**
 * Colour on when FORCE_COLOR is set to anything but "0"/"false"; otherwise off when NO_COLOR is set and not empty
 * (no-color.org); otherwise on only for a TTY that supports colours (Node's `hasColors` also honours TERM=dumb).
 * FORCE_COLOR wins over NO_COLOR, as in Node itself.
 */
export function shouldUseColor(stream: ColorTarget, env: NodeJS.ProcessEnv = process.env): boolean {
  const force = env["FORCE_COLOR"];
  if (force !== undefined) return force !== "0" && force.toLowerCase() !== "false";
  const noColor = env["NO_COLOR"];
  if (noColor !== undefined && noColor !== "") return false;
  if (stream.isTTY !== true) return false;
  return typeof stream.hasColors === "function" ? stream.hasColors() : true;
}

function isError(value: unknown): value is Error {
  return value instanceof Error || types.isNativeError(value);
}

/**
 * One log argument as text, in the spirit of Python's `str()`: strings as they are, other primitives by
 * `String()`, errors as `Name: message`, dates as ISO 8601, objects with a `toString` of their own (URL, a user
 * class) by that, and plain objects, arrays, maps, sets, typed arrays and functions by `util.inspect` (depth 4).
 */
export function formatPart(value: unknown): string {
  if (typeof value === "string") return value;
  if (typeof value !== "object" && typeof value !== "function") return String(value);
  if (value === null) return "null";
  if (isError(value)) return String(value);
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? "Invalid Date" : value.toISOString();
  if (typeof value === "object" && hasOwnToString(value)) {
    try {
      return String(value);
    } catch {
      // A throwing toString falls back to inspection.
    }
  }
  return inspect(value, { depth: INSPECT_DEPTH, colors: false });
}

function hasOwnToString(value: object): boolean {
  if (Array.isArray(value) || ArrayBuffer.isView(value)) return false;
  const toString = (value as { toString?: unknown }).toString;
  return typeof toString === "function" && toString !== Object.prototype.toString;
}

/** The parts of one log call, each by {@link formatPart}, joined by one space. */
export function formatMessage(parts: readonly unknown[]): string {
  if (parts.length === 1) return formatPart(parts[0]);
  return parts.map(formatPart).join(" ");
}

/**
 * `message` followed, on the next lines, by the error's stack and then each `cause` as `Caused by: <stack>`.
 * A thrown non-Error value is shown by {@link formatPart}. Without an error (`undefined`) JavaScript has no
 * "current exception" to fall back on, so the stack of the call site is shown instead (see {@link callSiteStack}).
 */
export function formatException(message: string, error?: unknown): string {
  if (error === undefined) return `${message}\n${callSiteStack()}`;
  return `${message}\n${describeError(error, 0)}`;
}

/** opencrate's own source folder (src/ or dist/), as a path and as a URL: its frames are left out of call stacks. */
const OWN_SOURCE_URL = new URL("..", import.meta.url).href;
const OWN_SOURCE_PATH = fileURLToPath(OWN_SOURCE_URL);
const CALL_STACK_FRAMES = 30;

/** The stack of the code that called into opencrate, innermost first, under a heading that says what it is. */
export function callSiteStack(): string {
  const holder: { stack?: string } = {};
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = CALL_STACK_FRAMES;
  try {
    Error.captureStackTrace(holder);
  } finally {
    Error.stackTraceLimit = limit;
  }
  const frames = (holder.stack ?? "")
    .split("\n")
    .slice(1)
    .filter((frame) => !frame.includes(OWN_SOURCE_URL) && !frame.includes(OWN_SOURCE_PATH));
  return `Call stack (no error was given):\n${frames.join("\n")}`;
}

function describeError(error: unknown, depth: number): string {
  if (!isError(error)) return formatPart(error);
  const head = typeof error.stack === "string" && error.stack !== "" ? error.stack : String(error);
  const cause = (error as { cause?: unknown }).cause;
  if (cause === undefined || depth >= MAX_CAUSE_DEPTH) return head;
  return `${head}\nCaused by: ${describeError(cause, depth + 1)}`;
}
