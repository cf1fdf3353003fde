/**
 * S3Backend options and how they combine with the environment, the AWS way: an explicit option wins, then the
 * standard variables (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, AWS_REGION, …), then the SDK's own chain (profiles,
 * instance metadata), then the defaults here. Pure: nothing in this file loads the SDK or touches the network.
 */
import type { S3Client, S3ClientConfig } from "@aws-sdk/client-s3";
import { InvalidArgumentError } from "../../errors.ts";
import { redact } from "../../uri.ts";
import { checkBucketAndPrefix, nonEmpty } from "../bucket-options.ts";
import { RetryPolicy, type RetryOptions } from "../retry-policy.ts";
import { isSignedAgain } from "./signing-clock.ts";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** S3's own limits for multipart uploads and copies. */
export const S3_MIN_PART_SIZE = 5 * MiB;
export const S3_MAX_PART_SIZE = 5 * GiB;
export const S3_MAX_PARTS = 10_000;
/** The largest object a single CopyObject may copy. */
export const S3_MAX_COPY_OBJECT_SIZE = 5 * GiB;
/** Default connect and idle time-outs (see S3BackendOptions.requestTimeoutMs). */
export const S3_DEFAULT_TIMEOUTS = { connectMs: 4_000, idleMs: 4_000 } as const;

export interface S3BackendOptions {
  readonly bucket: string;
  /** Key prefix inside the bucket ("a/b"); every key of this backend lives below it. */
  readonly prefix?: string;
  /** Default: the SDK's chain (AWS_REGION, the profile), then AWS_DEFAULT_REGION, then "us-east-1". */
  readonly region?: string;
  /** An S3-compatible endpoint (MinIO, …). Default: AWS_ENDPOINT_URL_S3, then AWS_ENDPOINT_URL, else AWS. */
  readonly endpoint?: string;
  /** Path-style URLs (http://host/bucket/key). Default: AWS_S3_FORCE_PATH_STYLE, else true with a custom endpoint. */
  readonly forcePathStyle?: boolean;
  /** Default: the SDK's credential chain (environment, profile, SSO, web identity, instance metadata). */
  readonly credentials?: S3ClientConfig["credentials"];
  /** A ready client to use instead of building one; the backend then leaves it open on `close`. */
  readonly client?: S3Client;
  /** Multipart part size for `putStream` / `putFile`, and the range size of parallel whole-object reads, bytes.
   * Default 8 MiB; at least 5 MiB. */
  readonly partSize?: number;
  /** Parts uploaded at once. Default 4. A streamed body holds about partSize × (queueSize + 1) in memory; a file (putFile) streams each part from the file instead. */
  readonly queueSize?: number;
  /**
   * Parallel ranged streams for reading a large object. Downloads to a file (artifact.downloadTo, `pull`) choose
   * by size and measured throughput when this is absent; set it to fix the count. `getStream` of a whole object
   * reads ranges of `partSize` this many at a time when it is above 1 (default: one GET), with memory about
   * partSize × (readConcurrency + 2).
   */
  readonly readConcurrency?: number;
  /** How requests are retried (see RetryOptions); the SDK's retries follow it. Default: 3 attempts. */
  readonly retry?: RetryOptions;
  /** Shorthand for `retry.attempts` (which wins when both are given). */
  readonly maxAttempts?: number;
  /** How long opening a connection may take before the attempt fails. Default 4 s. */
  readonly connectionTimeoutMs?: number;
  /**
   * How long a request may go without sending or receiving a byte (waiting for the answer included) before the
   * attempt fails. Default 4 s: with the default 3 attempts a store that stops answering fails a call TRANSIENT
   * within about 13 s, and a multipart save (its abort included) within about 26 s. Raise it for a store that
   * can take longer than that to start answering.
   */
  readonly requestTimeoutMs?: number;
  /** `copy` of objects above this size goes through UploadPartCopy. Default (and maximum) 5 GiB. */
  readonly multipartCopyThreshold?: number;
  /** Part size for multipart copies. Default 256 MiB (grown to stay within 10,000 parts). */
  readonly copyPartSize?: number;
}

/** Everything an S3Backend needs, resolved and checked. */
export interface S3Settings {
  readonly bucket: string;
  /** "" or "a/b" (no leading or trailing "/"). */
  readonly prefix: string;
  /** Undefined: let the SDK's chain decide (see {@link fallbackRegion}). */
  readonly region: string | undefined;
  readonly endpoint: string | undefined;
  readonly forcePathStyle: boolean;
  readonly partSize: number;
  readonly queueSize: number;
  /** Undefined: chosen per download. */
  readonly readConcurrency: number | undefined;
  readonly retry: RetryPolicy;
  readonly connectionTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly multipartCopyThreshold: number;
  readonly copyPartSize: number;
}

type Env = Readonly<Record<string, string | undefined>>;

export function resolveS3Settings(options: S3BackendOptions, env: Env = process.env): S3Settings {
  if (typeof options !== "object" || options === null) {
    throw new InvalidArgumentError("S3Backend needs options with at least a bucket, as in { bucket: \"my-bucket\" }.");
  }
  const { bucket, prefix } = checkBucketAndPrefix("s3", "S3Backend", options.bucket, options.prefix ?? "");
  const endpoint = checkEndpoint(options.endpoint === undefined ? configuredEndpoint(env) : { value: options.endpoint, source: undefined });
  const forcePathStyle = options.forcePathStyle ?? parseFlag(env.AWS_S3_FORCE_PATH_STYLE, "AWS_S3_FORCE_PATH_STYLE") ?? endpoint !== undefined;
  const region = nonEmpty(options.region);
  return {
    bucket,
    prefix,
    region,
    endpoint,
    forcePathStyle,
    partSize: checkInteger("partSize", options.partSize ?? 8 * MiB, S3_MIN_PART_SIZE, S3_MAX_PART_SIZE),
    queueSize: checkInteger("queueSize", options.queueSize ?? 4, 1, 64),
    readConcurrency: options.readConcurrency === undefined ? undefined : checkInteger("readConcurrency", options.readConcurrency, 1, 64),
    retry: new RetryPolicy(options.retry, { attempts: checkInteger("maxAttempts", options.maxAttempts ?? 3, 1, 20) }),
    connectionTimeoutMs: checkInteger("connectionTimeoutMs", options.connectionTimeoutMs ?? S3_DEFAULT_TIMEOUTS.connectMs, 1, 600_000),
    requestTimeoutMs: checkInteger("requestTimeoutMs", options.requestTimeoutMs ?? S3_DEFAULT_TIMEOUTS.idleMs, 1, 3_600_000),
    multipartCopyThreshold: checkInteger(
      "multipartCopyThreshold",
      options.multipartCopyThreshold ?? S3_MAX_COPY_OBJECT_SIZE,
      0,
      S3_MAX_COPY_OBJECT_SIZE,
    ),
    copyPartSize: checkInteger("copyPartSize", options.copyPartSize ?? 256 * MiB, S3_MIN_PART_SIZE, S3_MAX_PART_SIZE),
  };
}

/** The region used when neither the options nor the SDK's chain name one. */
export function fallbackRegion(env: Env = process.env): string {
  return nonEmpty(env.AWS_DEFAULT_REGION) ?? "us-east-1";
}

/** The SDK client configuration for these settings. */
export function clientConfig(
  settings: S3Settings,
  credentials: S3BackendOptions["credentials"],
  region: string | undefined,
): S3ClientConfig {
  return {
    ...(region === undefined ? {} : { region }),
    ...(settings.endpoint === undefined ? {} : { endpoint: settings.endpoint }),
    ...(credentials === undefined ? {} : { credentials }),
    forcePathStyle: settings.forcePathStyle,
    retryStrategy: sdkRetryStrategy(settings.retry),
    // S3-compatible stores and emulators reject or mangle the optional CRC checksums newer SDKs add by default.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    // Constructor options for the SDK's NodeHttpHandler. Without a connection timeout an unreachable endpoint
    // hangs for the OS's TCP timeout (minutes); socketTimeout bounds a stalled transfer, not a long one.
    requestHandler: {
      connectionTimeout: settings.connectionTimeoutMs,
      socketTimeout: settings.requestTimeoutMs,
    },
  };
}

type SdkRetryStrategy = Extract<NonNullable<S3ClientConfig["retryStrategy"]>, { acquireInitialRetryToken: unknown }>;

/**
 * The SDK's retries under the policy: the SDK's own rule for what is retryable, the policy's count and waits.
 * Throttling applied nothing, nor did a request refused for its signing time once the clock was corrected; a 5xx,
 * reset or time-out may have, so it goes again only while "overwrite" is idempotent (the SDK sends every request
 * kind; conditional writes are then settled by their writer token).
 */
function sdkRetryStrategy(policy: RetryPolicy): SdkRetryStrategy {
  const token = (count: number, delay: number) => ({ getRetryCount: () => count, getRetryDelay: () => delay });
  return {
    acquireInitialRetryToken: async () => token(0, 0),
    refreshRetryTokenForRetry: async (previous, info) => {
      const tries = previous.getRetryCount() + 1;
      const failure = info.errorType === "THROTTLING" || isSignedAgain(info.error) ? "transient" : info.errorType === "TRANSIENT" ? "unknown" : "final";
      if (!policy.mayRetry("overwrite", failure, tries)) throw info.error ?? new Error("no retry");
      return token(tries, policy.delayMs(tries));
    },
    recordSuccess: () => undefined,
  };
}

/** Where requests go, for messages: the custom endpoint (without credentials) or "AWS S3". */
export function endpointLabel(settings: Pick<S3Settings, "endpoint">, region?: string): string {
  if (settings.endpoint !== undefined) return redact(settings.endpoint);
  return region === undefined ? "AWS S3" : `AWS S3 (${region})`;
}

/** An endpoint and the environment variable it came from (undefined: the `endpoint` option). */
interface EndpointSetting {
  readonly value: string;
  readonly source: "AWS_ENDPOINT_URL_S3" | "AWS_ENDPOINT_URL" | undefined;
}

function configuredEndpoint(env: Env): EndpointSetting | undefined {
  if (parseFlag(env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS") === true) return undefined;
  const forS3 = nonEmpty(env.AWS_ENDPOINT_URL_S3);
  if (forS3 !== undefined) return { value: forS3, source: "AWS_ENDPOINT_URL_S3" };
  const shared = nonEmpty(env.AWS_ENDPOINT_URL);
  return shared === undefined ? undefined : { value: shared, source: "AWS_ENDPOINT_URL" };
}

/** The endpoint checked. An error names the variable it came from (also as its `path`), else the endpoint. */
function checkEndpoint(setting: EndpointSetting | undefined): string | undefined {
  if (setting === undefined) return undefined;
  const endpoint = setting.value;
  const named = setting.source === undefined ? `The S3 endpoint ${redact(endpoint)}` : `${setting.source} (the S3 endpoint ${redact(endpoint)})`;
  const path = setting.source ?? redact(endpoint);
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch (error) {
    throw new InvalidArgumentError(`${named} is not a URL (expected e.g. http://127.0.0.1:9000).`, { path, cause: error });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new InvalidArgumentError(`${named} must be an http:// or https:// URL.`, { path });
  }
  return endpoint.replace(/\/+$/, "");
}

function checkInteger(name: string, value: number, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(`S3Backend option ${name} must be an integer from ${min} to ${max}, got ${String(value)}.`);
  }
  return value;
}

function parseFlag(value: string | undefined, name: string): boolean | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  const normalized = value.trim().toLowerCase();
  if (normalized === "true" || normalized === "1") return true;
  if (normalized === "false" || normalized === "0") return false;
  throw new InvalidArgumentError(`${name} must be "true" or "false", got ${JSON.stringify(value)}.`, { path: name });
}
