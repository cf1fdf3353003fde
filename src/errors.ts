/**
 * Every error opencrate throws is an {@link OpenCrateError}: a stable string `code`, a message that names the
 * path or URI involved, and the underlying error as `cause`. Match on `code` (see {@link isOpenCrateError}),
 * which survives two loaded copies of the package; `instanceof` does not.
 */

const ERROR_CODES = [
  "INVALID_ARGUMENT",
  "NOT_SET_UP",
  "VERSION_NOT_FOUND",
  "CONFIRMATION_REQUIRED",
  "READ_ONLY",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PRECONDITION_FAILED",
  "PERMISSION_DENIED",
  "NOT_SUPPORTED",
  "CORRUPT_DATA",
  "TRANSIENT",
  "ABORTED",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ErrorOptions {
  /** The path, key or URI the error is about. */
  readonly path?: string;
  readonly cause?: unknown;
}

export abstract class OpenCrateError extends Error {
  abstract readonly code: ErrorCode;
  /** The path, key or URI the error is about, when there is one. */
  readonly path: string | undefined;
  /** Whether repeating the same call may succeed (only TRANSIENT errors). */
  get retryable(): boolean {
    return false;
  }

  constructor(message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.path = options.path;
    this.name = new.target.name;
  }
}

export class InvalidArgumentError extends OpenCrateError {
  readonly code = "INVALID_ARGUMENT" as const;
}

export class NotSetUpError extends OpenCrateError {
  readonly code = "NOT_SET_UP" as const;
}

export class VersionNotFoundError extends OpenCrateError {
  readonly code = "VERSION_NOT_FOUND" as const;
  /** The versions that do exist, ascending. */
  readonly available: readonly number[];

  constructor(message: string, available: readonly number[], options: ErrorOptions = {}) {
    super(message, options);
    this.available = available;
  }
}

export class ConfirmationRequiredError extends OpenCrateError {
  readonly code = "CONFIRMATION_REQUIRED" as const;
}

export class ReadOnlyError extends OpenCrateError {
  readonly code = "READ_ONLY" as const;
}

export class NotFoundError extends OpenCrateError {
  readonly code = "NOT_FOUND" as const;
}

/** A create-only write (or copy) found the key already taken. */
export class AlreadyExistsError extends OpenCrateError {
  readonly code = "ALREADY_EXISTS" as const;
}

/** A compare-and-swap write found a different revision than the one it was given. */
export class PreconditionFailedError extends OpenCrateError {
  readonly code = "PRECONDITION_FAILED" as const;
}

export class PermissionDeniedError extends OpenCrateError {
  readonly code = "PERMISSION_DENIED" as const;
}

export class NotSupportedError extends OpenCrateError {
  readonly code = "NOT_SUPPORTED" as const;
}

export class CorruptDataError extends OpenCrateError {
  readonly code = "CORRUPT_DATA" as const;
}

/** Throttling, 5xx, resets and time-outs that survived the retries. Repeating the call may succeed. */
export class TransientError extends OpenCrateError {
  readonly code = "TRANSIENT" as const;
  override get retryable(): boolean {
    return true;
  }
}

/** The caller's AbortSignal fired (before the call or while it ran). `cause` is the signal's reason. What a write
 * aborted midway leaves follows the backend's atomicity rule: the old object or the new one, never a part. */
export class AbortedError extends OpenCrateError {
  readonly code = "ABORTED" as const;
}

/** True when `error` is an opencrate error (of the given code, when one is given). */
export function isOpenCrateError(error: unknown, code?: ErrorCode): error is OpenCrateError {
  if (typeof error !== "object" || error === null) return false;
  const candidate = error as { code?: unknown; path?: unknown };
  if (typeof candidate.code !== "string" || !(error instanceof Error)) return false;
  if (!KNOWN_CODES.has(candidate.code)) return false;
  return code === undefined || candidate.code === code;
}

const KNOWN_CODES: ReadonlySet<string> = new Set<string>(ERROR_CODES);
