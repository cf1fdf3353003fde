/**
 * GcsBackend options and how they combine with the environment, the Google Cloud way: an explicit option wins,
 * then the standard variables (STORAGE_EMULATOR_HOST, GOOGLE_CLOUD_PROJECT, GCLOUD_PROJECT), then the SDK's own
 * discovery (Application Default Credentials, the metadata server). Pure: nothing here loads the SDK or touches
 * the network.
 */
import type { Storage } from "@google-cloud/storage";
import { InvalidArgumentError } from "../../errors.ts";
import { checkBucketAndPrefix, nonEmpty } from "../bucket-options.ts";
import { RetryPolicy, type RetryOptions } from "../retry-policy.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

/** Google's own JSON and upload endpoint. */
export const GOOGLE_ENDPOINT = "https://storage.googleapis.com";
/** Resumable chunks must be a multiple of this (GCS protocol rule). */
export const CHUNK_GRANULARITY = 256 * KiB;

export interface GcsBackendOptions {
  readonly bucket: string;
  /** Object-name prefix inside the bucket ("a/b"); every key of this backend lives below it. */
  readonly prefix?: string;
  /**
   * Another endpoint, e.g. "http://127.0.0.1:4443" for fake-gcs-server. Default: STORAGE_EMULATOR_HOST when set
   * ("host:port" means http://host:port), else Google's endpoint.
   */
  readonly apiEndpoint?: string;
  /** Default: GOOGLE_CLOUD_PROJECT, then GCLOUD_PROJECT, then the SDK's discovery. Object calls need none. */
  readonly projectId?: string;
  /**
   * Send Application Default Credentials to a custom endpoint too. Default false: an emulator needs none, and
   * with a custom endpoint the backend sends no credentials at all.
   */
  readonly authenticate?: boolean;
  /** A ready client, used as it is (endpoint, credentials and retry settings included). */
  readonly storage?: Storage;
  /** Bodies from this size on use a resumable upload; smaller ones one multipart request. Default 8 MiB. */
  readonly resumableThreshold?: number;
  /** Resumable chunk size, a multiple of 256 KiB. Default 8 MiB; memory use per upload is about one chunk. */
  readonly chunkSize?: number;
  /** How long opening a connection may take before the attempt fails. Default 4 s. */
  readonly connectTimeoutMs?: number;
  /**
   * How long a request may go without sending or receiving a byte (waiting for the response included) before
   * the attempt fails. Default 4 s: with the default retries a store that stops answering fails a call TRANSIENT
   * within about 26 s, and a resumable save within about 15 s. Raise it for a store that can take longer than
   * that to start answering.
   */
  readonly requestTimeoutMs?: number;
  /** How requests are retried (see RetryOptions); the SDK's retries follow it. Default: 4 attempts. */
  readonly retry?: RetryOptions;
  /** Shorthand for `retry.attempts` − 1 (`retry.attempts` wins when both are given). */
  readonly maxRetries?: number;
}

/** Everything a GcsBackend needs, resolved and checked. */
export interface GcsSettings {
  readonly bucket: string;
  /** "" or "a/b" (no leading or trailing "/"). */
  readonly prefix: string;
  /** Without a trailing "/", e.g. "https://storage.googleapis.com" or "http://127.0.0.1:4443". */
  readonly endpoint: string;
  /** True for anything but Google's endpoint (an emulator, a proxy). */
  readonly customEndpoint: boolean;
  /** Where the endpoint came from, for messages. */
  readonly endpointSource: "option" | "STORAGE_EMULATOR_HOST" | "default";
  readonly projectId: string | undefined;
  /** Whether requests carry Application Default Credentials. */
  readonly authenticate: boolean;
  readonly resumableThreshold: number;
  readonly chunkSize: number;
  readonly connectTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly retry: RetryPolicy;
  /** Retries after the first attempt, for the SDK: `retry.attempts` − 1. */
  readonly maxRetries: number;
}

export const GCS_DEFAULTS = {
  resumableThreshold: 8 * MiB,
  chunkSize: 8 * MiB,
  connectTimeoutMs: 4_000,
  requestTimeoutMs: 4_000,
  maxRetries: 3,
} as const;

type Env = Readonly<Record<string, string | undefined>>;

export function resolveGcsSettings(options: GcsBackendOptions, env: Env = process.env): GcsSettings {
  if (typeof options !== "object" || options === null) {
    throw new InvalidArgumentError('GcsBackend needs options with at least a bucket, as in { bucket: "my-bucket" }.');
  }
  const { bucket, prefix } = checkBucketAndPrefix("gs", "GcsBackend", options.bucket, options.prefix ?? "");
  const { endpoint, source } = chooseEndpoint(options, env);
  const customEndpoint = endpoint !== GOOGLE_ENDPOINT;
  const retry = new RetryPolicy(options.retry, {
    attempts: checkCount(options.maxRetries, "maxRetries", GCS_DEFAULTS.maxRetries, 0) + 1,
  });
  return {
    bucket,
    prefix,
    endpoint,
    customEndpoint,
    endpointSource: source,
    projectId: nonEmpty(options.projectId) ?? nonEmpty(env.GOOGLE_CLOUD_PROJECT) ?? nonEmpty(env.GCLOUD_PROJECT),
    authenticate: !customEndpoint || options.authenticate === true,
    resumableThreshold: checkCount(options.resumableThreshold, "resumableThreshold", GCS_DEFAULTS.resumableThreshold, 0),
    chunkSize: checkChunkSize(options.chunkSize ?? GCS_DEFAULTS.chunkSize),
    connectTimeoutMs: checkCount(options.connectTimeoutMs, "connectTimeoutMs", GCS_DEFAULTS.connectTimeoutMs, 1),
    requestTimeoutMs: checkCount(options.requestTimeoutMs, "requestTimeoutMs", GCS_DEFAULTS.requestTimeoutMs, 1),
    retry,
    maxRetries: retry.attempts - 1,
  };
}

/** A per-call chunk size (StreamWriteOptions.partSize) rounded up to the 256 KiB the protocol requires. */
export function roundChunkSize(size: number): number {
  if (!Number.isSafeInteger(size) || size <= 0) {
    throw new InvalidArgumentError(`partSize must be a positive integer number of bytes, got ${String(size)}.`);
  }
  return Math.ceil(size / CHUNK_GRANULARITY) * CHUNK_GRANULARITY;
}

/**
 * STORAGE_EMULATOR_HOST is "host:port" (the Go and gcloud convention, plain HTTP) or a URL; some setups append
 * "/storage/v1". The result is a bare origin usable for both the JSON API and uploads.
 */
export function emulatorEndpoint(value: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`;
  return checkEndpoint(withScheme.replace(/\/+$/, "").replace(/\/storage\/v1$/, ""), "STORAGE_EMULATOR_HOST");
}

function chooseEndpoint(options: GcsBackendOptions, env: Env): { endpoint: string; source: GcsSettings["endpointSource"] } {
  const explicit = nonEmpty(options.apiEndpoint);
  if (explicit !== undefined) {
    const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(explicit) ? explicit : `https://${explicit}`;
    return { endpoint: checkEndpoint(withScheme.replace(/\/+$/, ""), "apiEndpoint"), source: "option" };
  }
  const emulator = nonEmpty(env.STORAGE_EMULATOR_HOST);
  if (emulator !== undefined) return { endpoint: emulatorEndpoint(emulator), source: "STORAGE_EMULATOR_HOST" };
  return { endpoint: GOOGLE_ENDPOINT, source: "default" };
}

function checkEndpoint(value: string, origin: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch (error) {
    throw new InvalidArgumentError(`${origin} ${JSON.stringify(value)} is not a URL (expected e.g. http://127.0.0.1:4443).`, {
      path: origin,
      cause: error,
    });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new InvalidArgumentError(`${origin} must be an http:// or https:// URL, got ${url.protocol}//.`, { path: origin });
  }
  if (url.username !== "" || url.password !== "") {
    throw new InvalidArgumentError(`${origin} must not carry credentials; use Application Default Credentials.`, { path: origin });
  }
  if (url.search !== "" || url.hash !== "") {
    throw new InvalidArgumentError(`${origin} must not have a query string or fragment.`, { path: origin });
  }
  return value;
}

function checkCount(value: number | undefined, name: string, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min) {
    throw new InvalidArgumentError(`GcsBackend option ${name} must be an integer ≥ ${min}, got ${String(value)}.`);
  }
  return value;
}

function checkChunkSize(size: number): number {
  if (!Number.isSafeInteger(size) || size <= 0 || size % CHUNK_GRANULARITY !== 0) {
    throw new InvalidArgumentError(
      `GcsBackend option chunkSize must be a positive multiple of 256 KiB (${CHUNK_GRANULARITY} bytes), got ${String(size)}.`,
    );
  }
  return size;
}
