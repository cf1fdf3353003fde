/**
 * The argument rules every backend call obeys, in one place (keys are in keys.ts, ranges in byte-range.ts). The
 * checked layer (layers/checked.ts) applies them before a call reaches a backend, so backends hold none of them.
 */
import { InvalidArgumentError, NotSupportedError } from "../errors.ts";
import type { BackendCapabilities, WriteMode } from "./backend.ts";

/** The mode to use; INVALID_ARGUMENT for an unknown kind or a `replace` without a revision, NOT_SUPPORTED for one
 * the store cannot enforce. */
export function checkMode(
  mode: WriteMode | undefined,
  capabilities: BackendCapabilities,
  location: string,
  allowed: readonly WriteMode["kind"][] = ["overwrite", "create", "replace"],
): WriteMode {
  if (mode === undefined) return { kind: "overwrite" };
  const kind = typeof mode === "object" && mode !== null ? (mode as { kind?: unknown }).kind : undefined;
  const valid =
    (kind === "overwrite" || kind === "create" || kind === "replace") &&
    allowed.includes(kind) &&
    (kind !== "replace" || isRevision((mode as { revision?: unknown }).revision));
  if (!valid) {
    const expected = allowed.map((name) => (name === "replace" ? '"replace" with a revision' : `"${name}"`)).join(", ");
    throw new InvalidArgumentError(`Invalid write mode ${describeValue(mode)} for ${location}: expected ${expected}.`, {
      path: location,
    });
  }
  if (mode.kind === "create" && !capabilities.createOnly) throw unsupported("create-only writes", location);
  if (mode.kind === "replace" && !capabilities.compareAndSwap) throw unsupported("compare-and-swap writes", location);
  return mode;
}

/** An `ifRevision` option: absent, or a non-empty string the store can compare (NOT_SUPPORTED otherwise). */
export function checkIfRevision(revision: unknown, capabilities: BackendCapabilities, location: string): void {
  if (revision === undefined) return;
  checkRevisionText(revision, location);
  if (!capabilities.compareAndSwap) throw unsupported("compare-and-swap writes", location);
}

/** The `ifRevision` of a delete: a non-empty string, on a backend that takes it. */
export function checkDeleteRevision(revision: unknown, capabilities: BackendCapabilities, location: string): void {
  if (revision === undefined) return;
  checkRevisionText(revision, location);
  if (capabilities.conditionalDelete !== true) throw unsupported("conditional deletes", location);
}

function checkRevisionText(revision: unknown, location: string): void {
  if (!isRevision(revision)) {
    throw new InvalidArgumentError(`Invalid ifRevision ${describeValue(revision)} for ${location}: expected a non-empty string.`, {
      path: location,
    });
  }
}

/** Lower-case header-token keys and printable ASCII values: what every store keeps unchanged (S3 sends them as
 * HTTP headers, which rules out the rest). */
const METADATA_KEY = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;
const METADATA_VALUE = /^[\x20-\x7e]*$/;

export function checkMetadata(metadata: unknown, location: string): void {
  if (metadata === undefined) return;
  if (typeof metadata !== "object" || metadata === null || Array.isArray(metadata)) {
    throw new InvalidArgumentError(`Invalid metadata ${describeValue(metadata)} for ${location}: expected an object of strings.`, {
      path: location,
    });
  }
  for (const [name, value] of Object.entries(metadata)) {
    if (!METADATA_KEY.test(name) || typeof value !== "string" || !METADATA_VALUE.test(value)) {
      throw new InvalidArgumentError(
        `Invalid metadata ${JSON.stringify(name)}: ${describeValue(value)} for ${location}: keys must be lower-case ASCII header names (letters, digits, "-", "_", "."…) and values printable ASCII strings.`,
        { path: location },
      );
    }
  }
}

/** A count option (pageSize, partSize, concurrency): absent or a positive integer. */
export function checkCount(name: string, value: unknown, location: string): void {
  if (value === undefined) return;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) {
    throw new InvalidArgumentError(`${name} for ${location} must be a positive integer, got ${describeValue(value)}.`, { path: location });
  }
}

/** A body size: absent or a non-negative integer. */
export function checkSize(value: unknown, location: string): void {
  if (value === undefined) return;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidArgumentError(`size for ${location} must be a non-negative integer, got ${describeValue(value)}.`, { path: location });
  }
}

/** An option that must be a string when given (page tokens, startAfter, content types). */
export function checkString(name: string, value: unknown, location: string): void {
  if (value !== undefined && typeof value !== "string") {
    throw new InvalidArgumentError(`${name} for ${location} must be a string, got ${describeValue(value)}.`, { path: location });
  }
}

/** A listing's `notUtf8` option: absent, "fail" or "skip". */
export function checkNotUtf8(value: unknown, location: string): void {
  if (value !== undefined && value !== "fail" && value !== "skip") {
    throw new InvalidArgumentError(`notUtf8 for ${location} must be "fail" or "skip", got ${describeValue(value)}.`, { path: location });
  }
}

/** An `onProgress` option: absent or a function. */
export function checkCallback(name: string, value: unknown, location: string): void {
  if (value !== undefined && typeof value !== "function") {
    throw new InvalidArgumentError(`${name} for ${location} must be a function, got ${describeValue(value)}.`, { path: location });
  }
}

/** A `signal` option: absent or an AbortSignal. */
export function checkSignal(signal: unknown, location: string): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  if (!(signal instanceof AbortSignal)) {
    throw new InvalidArgumentError(`signal for ${location} must be an AbortSignal, got ${describeValue(signal)}.`, { path: location });
  }
  return signal;
}

export function checkBytes(body: unknown, location: string, allowString: boolean): void {
  if (body instanceof Uint8Array || (allowString && typeof body === "string")) return;
  throw new InvalidArgumentError(
    `The body for ${location} must be ${allowString ? "a string or " : ""}a Uint8Array, got ${describeValue(body)}.`,
    { path: location },
  );
}

/** A stream body: a Readable, an async iterable, or a plain iterable of chunks (not a string). */
export function checkStreamBody(body: unknown, location: string): void {
  const candidate = body as { [Symbol.asyncIterator]?: unknown; [Symbol.iterator]?: unknown } | null;
  const iterable =
    typeof body === "object" && candidate !== null && (typeof candidate[Symbol.asyncIterator] === "function" || typeof candidate[Symbol.iterator] === "function");
  if (!iterable) {
    throw new InvalidArgumentError(`The body for ${location} must be a readable stream or an async iterable of bytes, got ${describeValue(body)}.`, {
      path: location,
    });
  }
}

export function checkLocalPath(localPath: unknown, location: string): void {
  if (typeof localPath !== "string" || localPath === "" || localPath.includes("\0")) {
    throw new InvalidArgumentError(`The local file to upload to ${location} must be a non-empty path, got ${describeValue(localPath)}.`, {
      path: location,
    });
  }
}

export function unsupported(what: string, location: string): NotSupportedError {
  return new NotSupportedError(`The store at ${location} does not support ${what}.`, { path: location });
}

function isRevision(value: unknown): value is string {
  return typeof value === "string" && value !== "";
}

function describeValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
  if (typeof value === "function") return "a function";
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
