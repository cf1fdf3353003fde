/** `setup()` options: their shape, and their checking before anything is read or written. */
import type { StorageBackend } from "../backends/backend.ts";
import { InvalidArgumentError } from "../errors.ts";
import { parseLogLevel, type LogLevelName, type LogLevelOption } from "../logs/levels.ts";
import { nearest } from "../nearest.ts";
import { defaultRoot } from "./default-root.ts";
import { parseStart, showValue, validateSetupName, validateTag, type StartInput, type StartOption } from "./names.ts";
import { resolveRank, resolveRunId } from "./run-env.ts";

export interface SetupOptions {
  /**
   * A new name: `[A-Za-z0-9._-]{1,128}`, not starting with ".". An existing snapshot (Python OpenCrate takes any
   * name) is set up by its name when that is one path segment of at most 128 UTF-8 bytes without control characters.
   */
  readonly name: string;
  /** "new" (default), "last", "dev" (the scratch folder `dev[:tag]`), a non-negative integer or a string of digits. */
  readonly start?: StartInput;
  /** Empty the resolved version folder before use; the version must exist ("dev" excepted). Default false. */
  readonly replace?: boolean;
  /** `[A-Za-z0-9._-]{1,64}`, for a new folder not all digits nor `latest`; "" means none. */
  readonly tag?: string;
  /** debug, info, success, warning, error, critical (any case). Default: env OPENCRATE_LOG_LEVEL, else info. */
  readonly logLevel?: LogLevelOption;
  /** A local path or URI. Default: env OPENCRATE_ROOT, else "snapshots". */
  readonly root?: string;
  /** Overrides the backend `root` implies. */
  readonly backend?: StorageBackend;
  /** Ranks of one job that share it share one version. Default: env OPENCRATE_RUN_ID, then TORCHELASTIC_RUN_ID. */
  readonly runId?: string;
  /** Echo log lines to stdout. Default true. */
  readonly console?: boolean;
  /** How often buffered log lines are written (ms). Default 1000. */
  readonly logFlushIntervalMs?: number;
  /**
   * Most bytes of log lines waiting to be stored that are kept in memory (a store that is down keeps them waiting);
   * past it they wait in a spool folder on local disk. Default 64 MiB.
   */
  readonly logMaxBufferedBytes?: number;
}

const KNOWN_KEYS: readonly (keyof SetupOptions)[] = [
  "name",
  "start",
  "replace",
  "tag",
  "logLevel",
  "root",
  "backend",
  "runId",
  "console",
  "logFlushIntervalMs",
  "logMaxBufferedBytes",
];

export interface ParsedSetup {
  readonly name: string;
  readonly start: StartOption;
  readonly replace: boolean;
  readonly tag: string | undefined;
  readonly level: LogLevelName;
  /** The root as given, else OPENCRATE_ROOT, else "snapshots" (the backend may still come from `backend`). */
  readonly root: string;
  readonly runId: string | undefined;
  readonly rank: number | undefined;
  readonly console: boolean;
  readonly logFlushIntervalMs: number | undefined;
  readonly logMaxBufferedBytes: number | undefined;
}

/** The least `logMaxBufferedBytes`: below it nearly every line would go through the disk. */
const MIN_BUFFERED_BYTES = 64 * 1024;

/** The longest delay Node's setTimeout keeps (2^31-1 ms, about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Checks every option (unknown keys included) and applies the defaults; throws InvalidArgumentError. */
export function parseSetupOptions(options: unknown): ParsedSetup {
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new InvalidArgumentError(`setup() takes an options object, as in setup({ name: "train" }); got ${showValue(options)}.`);
  }
  for (const key of Object.keys(options)) {
    if (!(KNOWN_KEYS as readonly string[]).includes(key)) {
      throw new InvalidArgumentError(
        `Unknown setup option '${key}' (did you mean '${nearest(key, KNOWN_KEYS)}'?). Valid options: ${KNOWN_KEYS.join(", ")}.`,
      );
    }
  }
  const given = options as SetupOptions;
  const start = parseStart(given.start);
  if (given.replace !== undefined && typeof given.replace !== "boolean") {
    throw new InvalidArgumentError(`replace must be true or false, got ${showValue(given.replace)}.`);
  }
  if (given.replace === true && start === "new") {
    throw new InvalidArgumentError(
      'replace: true empties an existing version, and start "new" makes an empty one: use start "last", a number or "dev".',
    );
  }
  if (given.console !== undefined && typeof given.console !== "boolean") {
    throw new InvalidArgumentError(`console must be true or false, got ${showValue(given.console)}.`);
  }
  if (given.backend !== undefined) checkBackendOption(given.backend);
  const interval = given.logFlushIntervalMs;
  // Above 2^31-1 ms (or Infinity) Node's setTimeout fires after 1 ms instead.
  if (interval !== undefined && !(typeof interval === "number" && interval > 0 && interval <= MAX_TIMER_MS)) {
    throw new InvalidArgumentError(
      `logFlushIntervalMs must be a positive number of milliseconds up to ${MAX_TIMER_MS}, got ${showValue(interval)}.`,
    );
  }
  const maxBuffered = given.logMaxBufferedBytes;
  if (maxBuffered !== undefined && !(Number.isSafeInteger(maxBuffered) && maxBuffered >= MIN_BUFFERED_BYTES)) {
    throw new InvalidArgumentError(
      `logMaxBufferedBytes must be a whole number of bytes, at least ${MIN_BUFFERED_BYTES}, got ${showValue(maxBuffered)}.`,
    );
  }
  return {
    // A new name outside opencrate's own rule, and a new folder's tag that @ would read as a selector, are refused
    // once the version is resolved (resolve-version.ts): existing ones are resumed.
    name: validateSetupName(given.name),
    start,
    replace: given.replace === true,
    tag: validateTag(given.tag),
    level:
      given.logLevel === undefined
        ? parseLogLevel(process.env.OPENCRATE_LOG_LEVEL || "info", "OPENCRATE_LOG_LEVEL")
        : parseLogLevel(given.logLevel, "logLevel"),
    root: given.root ?? defaultRoot(),
    runId: resolveRunId(given.runId),
    rank: resolveRank(),
    console: given.console ?? true,
    logFlushIntervalMs: interval,
    logMaxBufferedBytes: maxBuffered,
  };
}

/** The methods every StorageBackend has (the optional ones are checked where they are used). */
const BACKEND_METHODS = [
  "describe",
  "head",
  "get",
  "getStream",
  "put",
  "putStream",
  "list",
  "listPage",
  "delete",
  "deleteMany",
  "copy",
  "close",
] as const;

/** `backend` must be a StorageBackend object: a URI string, null or `{}` would fail later with a TypeError. */
function checkBackendOption(backend: unknown): void {
  if (typeof backend !== "object" || backend === null || Array.isArray(backend)) {
    const hint = typeof backend === "string" ? " (give a URI as root, or build one with backendFromUri)" : "";
    throw new InvalidArgumentError(`backend must be a StorageBackend object${hint}, got ${showValue(backend)}.`);
  }
  const record = backend as Record<string, unknown>;
  const missing: string[] = BACKEND_METHODS.filter((method) => typeof record[method] !== "function");
  if (typeof record.capabilities !== "object" || record.capabilities === null) missing.unshift("capabilities");
  if (missing.length > 0) {
    throw new InvalidArgumentError(`backend must be a StorageBackend object; it lacks ${missing.join(", ")}.`);
  }
}
