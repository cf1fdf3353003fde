/**
 * The one place where @google-cloud/storage errors become opencrate errors. The SDK fails in several shapes:
 * ApiError (`code` = HTTP status) from the JSON API and multipart uploads, GaxiosError (`status`,
 * `response.status`) and plain objects (`code`) from resumable uploads, errors with string `code`s
 * (ECONNREFUSED, ETIMEDOUT, …) from the network, and RequestErrors for checksum mismatches.
 */
import {
  AlreadyExistsError,
  CorruptDataError,
  InvalidArgumentError,
  NotFoundError,
  NotSupportedError,
  OpenCrateError,
  PermissionDeniedError,
  PreconditionFailedError,
  TransientError,
} from "../../errors.ts";
import type { WriteMode } from "../backend.ts";
import { isForeignAnswer, notTheStore } from "../foreign-answer.ts";
import { isCredentialsFailure } from "../credentials-failure.ts";
import { failingHostOf, fileFailureOf, isNetworkErrorCode } from "../network-codes.ts";
import { type CredentialFile, unreadableFileMessage } from "./credentials.ts";

/** What the backend was doing, which decides the wording and what a 404 or 412 means. */
export type GcsAction = "read" | "write" | "delete" | "list" | "copy" | "probe";

export interface GcsErrorContext {
  readonly action: GcsAction;
  /** The gs:// URI the call was about. */
  readonly location: string;
  readonly bucket: string;
  /** The endpoint as configured (never carries credentials). */
  readonly endpoint: string;
  readonly requestTimeoutMs?: number;
  readonly connectTimeoutMs?: number;
  /** The write mode, for writes: decides between AlreadyExists and PreconditionFailed on a 412. */
  readonly mode?: WriteMode;
  /** True when a 404 has been traced to the bucket itself being absent. */
  readonly bucketMissing?: boolean;
  /** Files the credentials are read from while requests go (a workload identity token file), for messages. */
  readonly credentialFiles?: readonly CredentialFile[];
}

/** Worth another attempt: 408, 429, 5xx, a broken connection or a time-out (not a refused or unknown host, nor a
 * file that cannot be read). */
export function isRetryable(error: unknown): boolean {
  const status = httpStatusOf(error);
  if (status !== undefined) return status === 408 || status === 429 || status >= 500;
  const code = (error as { code?: unknown } | null)?.code;
  if (code === "RESPONSE_CUT") return true;
  if (fileFailureOf(error) !== undefined) return false;
  return typeof code === "string" && /^E[A-Z_]+$/.test(code) && code !== "ECONNREFUSED" && code !== "ENOTFOUND";
}

/** The HTTP status an SDK error carries, in whichever field this error shape uses. */
export function httpStatusOf(error: unknown): number | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const shape = error as {
    code?: unknown;
    status?: unknown;
    statusCode?: unknown;
    response?: { status?: unknown; statusCode?: unknown } | null;
  };
  for (const candidate of [shape.code, shape.status, shape.statusCode, shape.response?.status, shape.response?.statusCode]) {
    const status = typeof candidate === "string" && /^\d{3}$/.test(candidate) ? Number(candidate) : candidate;
    if (typeof status === "number" && Number.isInteger(status) && status >= 100 && status < 600) return status;
  }
  return undefined;
}

/** A failed ifGenerationMatch (HTTP 412). */
export function isPreconditionFailure(error: unknown): boolean {
  return httpStatusOf(error) === 412;
}

export function isNotFound(error: unknown): boolean {
  return httpStatusOf(error) === 404;
}

/** A ranged read starting at or past the end of the object (HTTP 416). */
export function isRangeNotSatisfiable(error: unknown): boolean {
  return httpStatusOf(error) === 416;
}

/**
 * True when the request may have reached the store and changed it although the call failed: time-outs, resets,
 * 5xx and 429 after retries, a success answer that broke off, and a resumable session the SDK could not resume.
 * A conditional write that failed this way is settled by reading the object back.
 */
export function isAmbiguousFailure(error: unknown): boolean {
  if (error instanceof OpenCrateError) return false;
  const status = httpStatusOf(error);
  if (status !== undefined) return status < 400 || status === 408 || status === 429 || status >= 500;
  return true;
}

/**
 * A conditional write that met 412 (or failed ambiguously) after the SDK may have retried it, whose read-back,
 * which would tell whether an earlier attempt landed, failed too: the outcome is unknown.
 */
export class UnsettledWriteError extends Error {
  /** What the write failed with. */
  readonly original: unknown;
  /** What reading the object back failed with. */
  readonly readBack: unknown;

  constructor(original: unknown, readBack: unknown) {
    super(`the write failed (${detailOf(original)}) and reading the object back failed too (${detailOf(readBack)})`);
    this.name = "UnsettledWriteError";
    this.original = original;
    this.readBack = readBack;
  }
}

/**
 * Turns an SDK error into an OpenCrateError naming `context.location`. OpenCrateErrors pass through. The cause
 * is a copy of the SDK error without the request it carries: those objects hold the request headers, bearer
 * token included, and `console.error(error)` prints causes in full.
 */
export function toGcsError(error: unknown, context: GcsErrorContext): OpenCrateError {
  if (error instanceof OpenCrateError) return error;
  const doing = `${verbOf(context.action)} ${context.location}`;
  if (isForeignAnswer(error)) return notTheStore(error, { kind: "a GCS", endpoint: endpointLabel(context.endpoint), doing, path: context.location });
  if (error instanceof UnsettledWriteError) {
    return new TransientError(
      `Cannot tell whether the write to ${context.location} landed: ${error.message}. It may have: read ` +
        `${context.location} before relying on either outcome (a create-only write repeated may meet its own first attempt).`,
      { path: context.location, cause: redacted(error.original) },
    );
  }
  const options = { path: context.location, cause: redacted(error) };
  const detail = detailOf(error);
  const status = httpStatusOf(error);

  if (status === undefined) {
    const file = fileFailureOf(error);
    if (file !== undefined) return new PermissionDeniedError(unreadableFileMessage(doing, file.path, file.code, context.credentialFiles), options);
    const code = networkCodeOf(error);
    if (code !== undefined && isCredentialsFailure(error)) {
      const host = failingHostOf(error);
      return new TransientError(
        `Cannot ${doing}: Google's token service${host === undefined ? "" : ` at ${host}`} is unreachable (${code}), so no credentials could be had; ` +
          `the GCS endpoint ${endpointLabel(context.endpoint)} was not reached.`,
        options,
      );
    }
    if (code !== undefined) {
      const timedOut = code === "ETIMEDOUT" || code === "TimeoutError" || code === "ESOCKETTIMEDOUT";
      const within = (ms: number | undefined, what: string) => (ms === undefined ? `the ${what} time-out` : `${ms} ms`);
      const why =
        code === "ECONNTIMEOUT"
          ? `is unreachable (no connection within ${within(context.connectTimeoutMs, "connect")})`
          : timedOut
            ? `did not answer within ${within(context.requestTimeoutMs, "request")} (${code})`
            : `is unreachable (${code})`;
      return new TransientError(`Cannot ${doing}: the GCS endpoint ${endpointLabel(context.endpoint)} ${why}.`, options);
    }
    if (/could not load the default credentials/i.test(detail)) {
      return new PermissionDeniedError(
        `Cannot ${doing}: no Google Cloud credentials were found. Set up Application Default Credentials ` +
          "(`gcloud auth application-default login`, or GOOGLE_APPLICATION_CREDENTIALS naming a key file), " +
          "or point STORAGE_EMULATOR_HOST at an emulator.",
        options,
      );
    }
    const sdkCode = (error as { code?: unknown } | null)?.code;
    if (sdkCode === "CONTENT_DOWNLOAD_MISMATCH" || sdkCode === "FILE_NO_UPLOAD" || sdkCode === "FILE_NO_UPLOAD_DELETE") {
      return new CorruptDataError(`Checksum mismatch while trying to ${doing}: ${detail}`, options);
    }
    if (sdkCode === "RANGE_IGNORED") {
      return new NotSupportedError(
        `Cannot read a byte range of ${context.location}: ${detail} GCS does so for objects stored gzip-compressed ` +
          "(Content-Encoding: gzip); read the whole object instead.",
        options,
      );
    }
    return new TransientError(`Cannot ${doing}: ${detail}`, options);
  }

  switch (status) {
    case 400:
      if (/invalid_grant|invalid_client|unauthorized_client/i.test(detail)) {
        return new PermissionDeniedError(`Cannot ${doing}: Google refused the credentials (${detail}).`, options);
      }
      if (/(crc32c|md5).*(doesn't|does not|didn't|did not) match/i.test(detail)) {
        // The store computed another checksum than the one sent with the bytes: they were damaged on the way.
        return new CorruptDataError(`Checksum mismatch while trying to ${doing}: ${detail}`, options);
      }
      return new InvalidArgumentError(`Google Cloud Storage refused to ${doing} (HTTP 400): ${detail}`, options);
    case 401:
      return new PermissionDeniedError(
        `Cannot ${doing}: the credentials were rejected (HTTP 401: ${detail}). Check Application Default ` +
          "Credentials (`gcloud auth application-default login`, or GOOGLE_APPLICATION_CREDENTIALS).",
        options,
      );
    case 403:
      return new PermissionDeniedError(`Permission denied to ${doing} (HTTP 403): ${detail}`, options);
    case 404:
      if (context.bucketMissing === true) {
        return new NotFoundError(
          `The bucket gs://${context.bucket} does not exist at ${endpointLabel(context.endpoint)}, so cannot ${doing}.`,
          { path: `gs://${context.bucket}`, cause: options.cause },
        );
      }
      if (context.action === "read" || context.action === "copy") return new NotFoundError(`No object at ${context.location}.`, options);
      return new NotFoundError(`Cannot ${doing}: not found (HTTP 404: ${detail}).`, options);
    case 412:
      if (context.mode?.kind === "create") return new AlreadyExistsError(`${context.location} already exists.`, options);
      if (context.mode?.kind === "replace") {
        return new PreconditionFailedError(
          `${context.location} is no longer at revision ${context.mode.revision} (it changed or was deleted); nothing was written.`,
          options,
        );
      }
      return new PreconditionFailedError(`A precondition failed while trying to ${doing}: ${detail}`, options);
    case 416:
      return new InvalidArgumentError(`The byte range is outside ${context.location} (HTTP 416).`, options);
    default:
      if (status < 400) {
        // A success status on a failure: the answer broke off (or could not be parsed) after its headers.
        return new TransientError(`Cannot ${doing}: the answer (HTTP ${status}) broke off: ${detail}`, options);
      }
      if (status === 408 || status === 409 || status === 429 || status >= 500) {
        return new TransientError(`Google Cloud Storage could not ${doing} (HTTP ${status}, after retries): ${detail}`, options);
      }
      return new InvalidArgumentError(`Google Cloud Storage refused to ${doing} (HTTP ${status}): ${detail}`, options);
  }
}

/** The error's name, message, stack and status fields, without request, response body or configuration. */
export function redacted(error: unknown, depth = 0): unknown {
  if (typeof error !== "object" || error === null || depth > 4) return error;
  const shape = error as {
    name?: unknown;
    message?: unknown;
    stack?: unknown;
    code?: unknown;
    status?: unknown;
    type?: unknown;
    errors?: unknown;
    response?: { status?: unknown; statusCode?: unknown } | null;
    cause?: unknown;
  };
  const copy = new Error(typeof shape.message === "string" ? shape.message : "(no message)") as Error & Record<string, unknown>;
  if (typeof shape.name === "string") copy.name = shape.name;
  if (typeof shape.stack === "string") copy.stack = shape.stack;
  for (const field of ["code", "status", "type"] as const) {
    const value = shape[field];
    if (typeof value === "string" || typeof value === "number") copy[field] = value;
  }
  const responseStatus = shape.response?.status ?? shape.response?.statusCode;
  if (typeof responseStatus === "number") copy.response = { status: responseStatus };
  if (Array.isArray(shape.errors)) {
    copy.errors = shape.errors.map((entry: unknown) => {
      const { reason, message, domain } = (entry ?? {}) as { reason?: unknown; message?: unknown; domain?: unknown };
      return { reason, message, domain };
    });
  }
  if (shape.cause !== undefined) copy.cause = redacted(shape.cause, depth + 1);
  return copy;
}

function verbOf(action: GcsAction): string {
  switch (action) {
    case "read":
      return "read";
    case "write":
      return "write";
    case "delete":
      return "delete";
    case "list":
      return "list";
    case "copy":
      return "copy to";
    case "probe":
      return "check that the store enforces conditional writes, before writing";
  }
}

function endpointLabel(endpoint: string): string {
  return endpoint.replace(/^https:\/\//, "");
}

/** A network failure's code (ECONNREFUSED, ENOTFOUND, ETIMEDOUT, …) from the error or its causes. */
function networkCodeOf(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    const shape = current as { code?: unknown; name?: unknown; type?: unknown; cause?: unknown; errors?: unknown };
    if (isNetworkErrorCode(shape.code)) return shape.code;
    if (shape.type === "request-timeout" || shape.name === "TimeoutError") return "TimeoutError";
    const reason = Array.isArray(shape.errors) ? (shape.errors[0] as { reason?: unknown } | undefined)?.reason : undefined;
    if (isNetworkErrorCode(reason)) return reason;
    current = shape.cause;
  }
  return undefined;
}

/** The server's or library's short explanation, without request details (which may hold credentials). */
function detailOf(error: unknown): string {
  if (typeof error !== "object" || error === null) return String(error);
  const shape = error as { message?: unknown; errors?: unknown; response?: { data?: unknown } | null };
  const nested = Array.isArray(shape.errors) ? (shape.errors[0] as { message?: unknown } | undefined)?.message : undefined;
  const data = shape.response?.data as { error?: { message?: unknown } | string; error_description?: unknown } | undefined;
  const candidates = [
    typeof data?.error === "object" ? data.error.message : undefined,
    data?.error_description,
    typeof data?.error === "string" ? data.error : undefined,
    shape.message,
    nested,
  ];
  const text = candidates.find((value): value is string => typeof value === "string" && value.trim() !== "") ?? "no details";
  const oneLine = text.replace(/<[^>]+>/g, " ").replace(/\s+/g, " ").trim();
  return oneLine.length > 300 ? `${oneLine.slice(0, 297)}...` : oneLine;
}
