/**
 * The one place S3 SDK errors become opencrate errors.
 *
 * Traps:
 * - Check `error.name` before the HTTP status. The SDK turns a 200 response carrying an <Error> body (which
 *   CompleteMultipartUpload and CopyObject may send) into a 400 whose name is the real code, e.g.
 *   PreconditionFailed.
 * - If-Match on a missing key answers 404 NoSuchKey, not 412: in "replace" mode that is a lost precondition.
 * - HEAD responses have no body, so a missing key and a missing bucket both read as "NotFound" there.
 */
import { isCredentialsFailure } from "../credentials-failure.ts";
import { isNoHomeError, noHomeReason } from "../home.ts";
import { failingHostOf, fileFailureOf, isNetworkErrorCode } from "../network-codes.ts";
import {
  AlreadyExistsError,
  InvalidArgumentError,
  isOpenCrateError,
  NotFoundError,
  NotSupportedError,
  type OpenCrateError,
  PermissionDeniedError,
  PreconditionFailedError,
  TransientError,
} from "../../errors.ts";
import type { WriteMode } from "../backend.ts";
import { isForeignAnswer, notTheStore } from "../foreign-answer.ts";
import { clockSkewOf, describeClockDifference } from "./signing-clock.ts";

export interface S3ErrorContext {
  /** What was being done, as a verb phrase that reads before the URI: "read", "write", "list", "copy to". */
  readonly action: string;
  /** The s3:// URI of the object or prefix involved. */
  readonly uri: string;
  readonly bucket: string;
  /** Where requests go, for messages ("AWS S3", "http://127.0.0.1:9000"), never with credentials. */
  readonly endpoint: string;
  /** The write mode, for writes: decides what a failed precondition means. */
  readonly mode?: WriteMode["kind"];
}

const NOT_FOUND = new Set(["NoSuchKey", "NotFound", "NoSuchVersion"]);
const DENIED = new Set([
  "AccessDenied",
  "Forbidden",
  "InvalidAccessKeyId",
  "SignatureDoesNotMatch",
  "ExpiredToken",
  "InvalidToken",
  "TokenRefreshRequired",
  "AllAccessDisabled",
  "AccountProblem",
  "InvalidSecurity",
  "Unauthorized",
]);
const THROTTLED = new Set([
  "SlowDown",
  "Throttling",
  "ThrottlingException",
  "TooManyRequestsException",
  "RequestLimitExceeded",
  "ServiceUnavailable",
  "InternalError",
  "RequestTimeout",
  "RequestTimeoutException",
  "OperationAborted",
  "XMinioServerNotInitialized",
]);
const BAD_REQUEST = new Set([
  "InvalidArgument",
  "InvalidRequest",
  "InvalidRange",
  "KeyTooLongError",
  "EntityTooLarge",
  "EntityTooSmall",
  "InvalidPart",
  "InvalidPartOrder",
  "MetadataTooLarge",
  "InvalidBucketName",
  "InvalidObjectState",
  "MalformedXML",
  "InvalidStorageClass",
]);

/** The SDK's error code: the S3 error name ("NoSuchKey"), or the JavaScript error's name. */
export function errorName(error: unknown): string {
  if (typeof error !== "object" || error === null) return "";
  const candidate = error as { name?: unknown; Code?: unknown };
  if (typeof candidate.Code === "string" && candidate.Code !== "") return candidate.Code;
  return typeof candidate.name === "string" ? candidate.name : "";
}

export function httpStatus(error: unknown): number | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const candidate = error as { $metadata?: { httpStatusCode?: unknown }; $response?: { statusCode?: unknown } };
  const status = candidate.$metadata?.httpStatusCode ?? candidate.$response?.statusCode;
  return typeof status === "number" ? status : undefined;
}

/** How many attempts the SDK made for the request that failed (1 when unknown). */
export function attemptsOf(error: unknown): number {
  if (typeof error !== "object" || error === null) return 1;
  const attempts = (error as { $metadata?: { attempts?: unknown } }).$metadata?.attempts;
  return typeof attempts === "number" && attempts > 0 ? attempts : 1;
}

/** A failed If-None-Match / If-Match (412, or the same code inside a 200 body). */
export function isPreconditionFailed(error: unknown): boolean {
  const name = errorName(error);
  return isNamedS3Error(name) ? name === "PreconditionFailed" : httpStatus(error) === 412;
}

/** S3's 409 ConditionalRequestConflict: a concurrent operation interfered; the same request may be repeated. */
export function isConditionalConflict(error: unknown): boolean {
  const name = errorName(error);
  return name === "ConditionalRequestConflict" || (!isNamedS3Error(name) && httpStatus(error) === 409);
}

/** The key (not the bucket) is absent. */
export function isNoSuchKey(error: unknown): boolean {
  const name = errorName(error);
  if (name === "NoSuchBucket" || name === "NoSuchUpload") return false;
  return NOT_FOUND.has(name) || (!isNamedS3Error(name) && httpStatus(error) === 404);
}

export function isNoSuchUpload(error: unknown): boolean {
  return errorName(error) === "NoSuchUpload";
}

/** A ranged GET that starts at or past the end of the object (416). */
export function isInvalidRange(error: unknown): boolean {
  return errorName(error) === "InvalidRange" || httpStatus(error) === 416;
}

/** The caller's own cancellation, which passes through unchanged. */
export function isAbort(error: unknown): boolean {
  return errorName(error) === "AbortError";
}

/** Failures after which the request may or may not have taken effect on the server: the network failed, or the
 * store was busy or failing (after the SDK's own retries). A 409 is not one: it means nothing was written. */
export function isTransient(error: unknown): boolean {
  if (isAbort(error) || isOpenCrateError(error)) return false;
  const name = errorName(error);
  const status = httpStatus(error);
  if (networkCode(error) !== undefined || THROTTLED.has(name) || status === 429) return true;
  return status !== undefined && status >= 500 && status !== 501;
}

/** Marks a 412 answered to CopySourceIfMatch: the copy's source, not its target, changed. */
export function sourceChangedDuringCopy(cause: unknown): Error {
  return Object.assign(new Error("the copy source changed while it was being copied", { cause }), {
    name: SOURCE_CHANGED,
  });
}

/** A copy failed because its source was replaced after the copy read its ETag (see sourceChangedDuringCopy). */
export function isSourceChanged(error: unknown): boolean {
  return errorName(error) === SOURCE_CHANGED;
}

/** Marks a 412 (or 404) answered to a ranged GET pinned with If-Match to the ETag of the read's first answer: the
 * object was replaced (or deleted) while it was being read in parts, so the parts would not belong together. */
export function objectChangedDuringRead(cause: unknown): Error {
  return Object.assign(new Error("the object changed while it was being read", { cause }), { name: CHANGED_DURING_READ });
}

/** Marks a conditional write whose answer (412, NoSuchUpload) came after a retry, so may hide our own success,
 * and whose read-back failed: mapped to TransientError. Both failures are kept (`errors`; `cause` is the write's). */
export function outcomeUnknownError(writeError: unknown, readBackError: unknown): Error {
  const detail = `the store answered ${describeFailure(writeError)} after a retry, and reading the object back failed ${describeFailure(readBackError)}`;
  return Object.assign(new AggregateError([writeError, readBackError], detail, { cause: writeError }), { name: OUTCOME_UNKNOWN });
}

/** The opencrate error for an SDK failure. OpenCrate errors and aborts pass through unchanged. */
export function mapS3Error(error: unknown, context: S3ErrorContext): Error {
  if (isOpenCrateError(error)) return error;
  if (isAbort(error)) return error as Error;
  if (isNoHomeError(error)) {
    return new PermissionDeniedError(
      `Cannot ${context.action} ${context.uri}: the AWS SDK looks for its config and credentials files in the home folder, but ${noHomeReason()}. Set HOME (any folder will do).`,
      { path: context.uri, cause: error },
    );
  }
  if (isCredentialsFailure(error) && errorName(error) !== "CredentialsProviderError") {
    return credentialsError(error, context);
  }
  if (isForeignAnswer(error)) return notTheStore(error, { kind: "an S3", endpoint: context.endpoint, doing: `${context.action} ${context.uri}`, path: context.uri });
  const name = errorName(error);
  const status = httpStatus(error);
  const why = reason(error, name, status);
  const path = context.uri;
  const options = { path, cause: error };

  if (name === SOURCE_CHANGED) {
    return new TransientError(`The source changed while trying to ${context.action} ${context.uri}; try again.`, options);
  }
  if (name === CHANGED_DURING_READ) {
    return new TransientError(
      `${context.uri} was replaced while it was being read in parts ${reason(cause(error), errorName(cause(error)), httpStatus(cause(error)))}; read it again.`,
      options,
    );
  }
  if (name === OUTCOME_UNKNOWN) {
    return new TransientError(
      `Could not tell whether the attempt to ${context.action} ${context.uri} took effect: ${(error as Error).message}; try again.`,
      options,
    );
  }
  if (isPreconditionFailed(error)) return preconditionError(context, why, error);
  if (name === "NoSuchBucket") {
    return new NotFoundError(
      `Bucket "${context.bucket}" does not exist at ${context.endpoint} (trying to ${context.action} ${context.uri}); create it first.`,
      options,
    );
  }
  if (name === "NoSuchUpload") {
    if (attemptsOf(error) > 1) {
      // The completion was sent again after a lost answer: the first may have completed the upload. The writer
      // settles that by reading its token back, so this is reached only when the object does not hold its body.
      return new TransientError(
        `The multipart upload to ${context.uri} was no longer open when its completion was sent again ${why}, and ${context.uri} does not hold its body: it did not complete, or was replaced since; repeat the whole upload.`,
        options,
      );
    }
    return new TransientError(
      `The multipart upload to ${context.uri} was cancelled by the store before it completed ${why}; repeat the whole upload.`,
      options,
    );
  }
  if (isNoSuchKey(error)) {
    if (context.mode === "replace") {
      return new PreconditionFailedError(`${context.uri} no longer exists, so it cannot match the expected revision ${why}.`, options);
    }
    return new NotFoundError(`No object at ${context.uri}.`, options);
  }
  if (isConditionalConflict(error)) {
    return new TransientError(
      `A concurrent operation on ${context.uri} kept conflicting with this conditional write ${why}; try again.`,
      options,
    );
  }
  if (name === "CredentialsProviderError") {
    return new PermissionDeniedError(noCredentials(context), options);
  }
  const skew = clockSkewOf(error);
  if (skew !== undefined) {
    return new PermissionDeniedError(
      `The S3 store at ${context.endpoint} refused to ${context.action} ${context.uri} for the time the request was signed with ${why}: ${clockText(skew.storeAheadMs)}. ` +
        "Set this machine's clock right (NTP); the credentials are not the cause.",
      options,
    );
  }
  if (DENIED.has(name) || status === 401 || status === 403) {
    return new PermissionDeniedError(
      `Access denied to ${context.action} ${context.uri} at ${context.endpoint} ${why}: check the credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or AWS_PROFILE) and the bucket policy.`,
      options,
    );
  }
  const network = networkCode(error);
  if (network !== undefined) {
    return new TransientError(
      `The S3 endpoint ${context.endpoint} is unreachable (${network}) trying to ${context.action} ${context.uri}.`,
      options,
    );
  }
  if (isTransient(error)) {
    return new TransientError(`S3 failed to ${context.action} ${context.uri} ${why}; the store is busy or failing, try again.`, options);
  }
  if (name === "NotImplemented" || status === 501 || status === 405) {
    return new NotSupportedError(`The store at ${context.endpoint} cannot ${context.action} ${context.uri} ${why}.`, options);
  }
  if (BAD_REQUEST.has(name) || status === 400 || status === 411 || status === 413 || status === 416) {
    return new InvalidArgumentError(`S3 rejected the request to ${context.action} ${context.uri} ${why}.`, options);
  }
  return new TransientError(`Failed to ${context.action} ${context.uri} at ${context.endpoint} ${why}.`, options);
}

/** The error for per-key failures in a DeleteObjects response; the first one decides the class. */
export function deleteObjectsError(
  failures: readonly { readonly Key?: string; readonly Code?: string; readonly Message?: string }[],
  context: S3ErrorContext,
  uriOf: (fullKey: string) => string,
): Error {
  const first = failures[0];
  const others = failures.length > 1 ? `; ${failures.length - 1} more keys of the batch failed too` : "";
  const pseudo = Object.assign(new Error(`${first?.Message ?? "unknown error"}${others}`), { name: first?.Code ?? "Unknown" });
  const uri = first?.Key === undefined ? context.uri : uriOf(first.Key);
  return mapS3Error(pseudo, { ...context, uri });
}

function preconditionError(context: S3ErrorContext, why: string, error: unknown): OpenCrateError {
  const options = { path: context.uri, cause: error };
  if (context.mode === "create") return new AlreadyExistsError(`${context.uri} already exists.`, options);
  return new PreconditionFailedError(`${context.uri} changed: its revision no longer matches the expected one ${why}.`, options);
}

function networkCode(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const candidate = error as { code?: unknown; name?: unknown; errors?: unknown; cause?: unknown };
  if (isNetworkErrorCode(candidate.code)) return candidate.code;
  if (candidate.name === "TimeoutError") return "timed out";
  if (Array.isArray(candidate.errors)) {
    for (const inner of candidate.errors) {
      const code = networkCode(inner);
      if (code !== undefined) return code;
    }
  }
  return candidate.cause === undefined || candidate.cause === error ? undefined : networkCode(candidate.cause);
}

/** " (NoSuchKey, HTTP 404: The specified key does not exist.)" — names what the store said, for messages. */
function reason(error: unknown, name: string, status: number | undefined): string {
  const parts: string[] = [];
  if (name !== "" && name !== "Error" && name !== "Unknown" && name !== "UnknownError") parts.push(name);
  if (status !== undefined) parts.push(`HTTP ${status}`);
  const message = error instanceof Error ? error.message.trim() : String(error);
  const detail = message === "" || message === name || message === "UnknownError" ? "" : message.slice(0, 300);
  if (parts.length === 0) return detail === "" ? "" : `(${detail})`;
  return `(${parts.join(", ")}${detail === "" ? "" : `: ${detail}`})`;
}

/** What was measured of this machine's clock against the store's, for messages. */
function clockText(storeAheadMs: number | undefined): string {
  if (storeAheadMs === undefined) return "this machine's clock is too far from the store's";
  const side = storeAheadMs > 0 ? "behind" : "ahead of";
  return `this machine's clock is ${describeClockDifference(storeAheadMs)} ${side} the store's`;
}

function describeFailure(error: unknown): string {
  const name = errorName(error);
  return reason(error, name, httpStatus(error)) || "(no details)";
}

function isNamedS3Error(name: string): boolean {
  return name !== "" && name !== "Error" && name !== "Unknown" && name !== "UnknownError";
}

/** Variables that name a file the AWS SDK reads credentials from, in the order they are looked for in messages. */
const CREDENTIAL_FILE_VARIABLES = ["AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE"] as const;

/**
 * A failure of the credentials provider: a file it reads that cannot be read (named with the variable that names
 * it), the service it asks for credentials out of reach (AWS STS for a web identity, named with its host), or that
 * service refusing.
 */
function credentialsError(error: unknown, context: S3ErrorContext, env: NodeJS.ProcessEnv = process.env): Error {
  const doing = `Cannot get AWS credentials to ${context.action} ${context.uri}`;
  const options = { path: context.uri, cause: error };
  const file = fileFailureOf(error);
  if (file !== undefined) {
    const variable = CREDENTIAL_FILE_VARIABLES.find((name) => env[name] === file.path);
    const named = variable === undefined ? file.path : `${variable} names ${file.path}, which`;
    return new PermissionDeniedError(`${doing}: ${named} cannot be read (${file.code}).`, { path: file.path, cause: error });
  }
  const webIdentity = nonEmptyValue(env.AWS_WEB_IDENTITY_TOKEN_FILE) !== undefined && nonEmptyValue(env.AWS_ROLE_ARN) !== undefined;
  const network = networkCode(error);
  if (network !== undefined) {
    const host = failingHostOf(error);
    const where = host === undefined ? "" : ` at ${host}`;
    const service = webIdentity || host?.startsWith("sts") === true ? `AWS STS${where}` : `the AWS credentials source${where}`;
    const so = webIdentity ? ", so the web identity token (AWS_WEB_IDENTITY_TOKEN_FILE) cannot be exchanged for the credentials of AWS_ROLE_ARN" : "";
    return new TransientError(`${doing}: ${service} is unreachable (${network})${so}; the S3 endpoint was not reached.`, options);
  }
  const why = reason(error, errorName(error), httpStatus(error));
  if (isTransient(error)) return new TransientError(`${doing}: the credentials service failed ${why}; try again.`, options);
  return new PermissionDeniedError(`${doing}: the credentials were refused ${why}${webIdentity ? " (check AWS_ROLE_ARN, the token in AWS_WEB_IDENTITY_TOKEN_FILE, and the role's trust policy)" : ""}.`, options);
}

function nonEmptyValue(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}

const SOURCE_CHANGED = "SourceChangedDuringCopy";
const CHANGED_DURING_READ = "ObjectChangedDuringRead";
const OUTCOME_UNKNOWN = "ConditionalWriteOutcomeUnknown";

function cause(error: unknown): unknown {
  return error instanceof Error ? error.cause : undefined;
}

/**
 * Why no credentials were found. A named profile wins over the key variables in the SDK, so a profile that does not
 * exist (or holds no keys) fails even with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY set: say so.
 */
function noCredentials(context: { readonly action: string; readonly uri: string }, env: NodeJS.ProcessEnv = process.env): string {
  const files = [
    env.AWS_SHARED_CREDENTIALS_FILE ? `AWS_SHARED_CREDENTIALS_FILE=${env.AWS_SHARED_CREDENTIALS_FILE}` : undefined,
    env.AWS_CONFIG_FILE ? `AWS_CONFIG_FILE=${env.AWS_CONFIG_FILE}` : undefined,
  ].filter((part) => part !== undefined);
  const where = files.length === 0 ? "the AWS config and credentials files" : files.join(", ");
  if (env.AWS_PROFILE) {
    return (
      `No AWS credentials to ${context.action} ${context.uri} from the profile AWS_PROFILE=${env.AWS_PROFILE}: it is not in ${where}, ` +
      "or gives no keys. While AWS_PROFILE is set, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not used; fix the profile or unset AWS_PROFILE."
    );
  }
  if (env.AWS_WEB_IDENTITY_TOKEN_FILE && !env.AWS_ROLE_ARN) {
    return (
      `No AWS credentials found to ${context.action} ${context.uri}: AWS_WEB_IDENTITY_TOKEN_FILE is set ` +
      `(${env.AWS_WEB_IDENTITY_TOKEN_FILE}) but AWS_ROLE_ARN is not, and the web identity token is used only with the role to assume: set AWS_ROLE_ARN.`
    );
  }
  const looked = files.length === 0 ? "" : ` (with ${files.join(", ")})`;
  return `No AWS credentials found to ${context.action} ${context.uri}${looked}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run where an IAM role is available.`;
}
