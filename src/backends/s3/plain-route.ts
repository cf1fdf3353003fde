/**
 * Whether this backend's reads can be addressed and signed without loading the AWS SDK, and how. Loading the SDK
 * and running its first command costs a process 60-80 ms of CPU, more than a small read of a snapshot costs
 * otherwise; a read-only process (a load, a pull) on an S3-compatible store then never loads it.
 *
 * Only settings whose every fact is known here qualify, so a request goes exactly where the SDK would send it,
 * signed as the SDK would sign it:
 * - a custom endpoint over plain HTTP (reads over TLS go through the SDK's handler anyway), without a base path,
 *   with path-style addressing: the URL is then endpoint/bucket/key;
 * - fixed credentials: given in the options, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY with no AWS_PROFILE
 *   (with a profile the SDK ignores those variables) and no expiry;
 * - a region given in the options or AWS_REGION, or none anywhere (no shared config or credentials file), which
 *   is when the backend falls back to its default region too;
 * - nothing that makes the SDK change the URL (FIPS or dual-stack endpoints).
 * Anything else gives no route, and reads go through the SDK as before.
 */
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { nonEmpty } from "../bucket-options.ts";
import { type S3BackendOptions, type S3Settings, fallbackRegion } from "./options.ts";
import type { SigningCredentials } from "./sigv4.ts";

type Env = Readonly<Record<string, string | undefined>>;

export interface PlainRoute {
  readonly hostname: string;
  readonly port: number;
  /** The Host header: host and port as the endpoint names them. */
  readonly host: string;
  /** The bucket's path ("/bucket"); an object's is this, "/" and its encoded key. */
  readonly bucketPath: string;
  readonly region: string;
  readonly credentials: SigningCredentials;
}

/** The route for these settings, or undefined when only the SDK knows where or how to send a request. */
export function plainRoute(settings: S3Settings, options: S3BackendOptions, env: Env = process.env): PlainRoute | undefined {
  if (options.client !== undefined || settings.endpoint === undefined || !settings.forcePathStyle) return undefined;
  if (isSet(env.AWS_USE_FIPS_ENDPOINT) || isSet(env.AWS_USE_DUALSTACK_ENDPOINT)) return undefined;
  const url = new URL(settings.endpoint);
  if (url.protocol !== "http:" || (url.pathname !== "" && url.pathname !== "/") || url.search !== "" || url.username !== "") return undefined;
  const credentials = fixedCredentials(options.credentials, env);
  if (credentials === undefined) return undefined;
  const region = settings.region ?? nonEmpty(env.AWS_REGION) ?? (sharedFilesExist(env) ? undefined : fallbackRegion(env));
  if (region === undefined) return undefined;
  const hostname = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  return { hostname, port: url.port === "" ? 80 : Number(url.port), host: url.host, bucketPath: `/${settings.bucket}`, region, credentials };
}

function fixedCredentials(given: S3BackendOptions["credentials"], env: Env): SigningCredentials | undefined {
  if (given !== undefined) {
    if (typeof given !== "object" || given === null) return undefined;
    const fields = given as { accessKeyId?: unknown; secretAccessKey?: unknown; sessionToken?: unknown; expiration?: unknown };
    if (typeof fields.accessKeyId !== "string" || typeof fields.secretAccessKey !== "string" || fields.expiration !== undefined) return undefined;
    const sessionToken = typeof fields.sessionToken === "string" ? fields.sessionToken : undefined;
    return { accessKeyId: fields.accessKeyId, secretAccessKey: fields.secretAccessKey, sessionToken };
  }
  if (isSet(env.AWS_PROFILE) || isSet(env.AWS_CREDENTIAL_EXPIRATION)) return undefined;
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (accessKeyId === undefined || accessKeyId === "" || secretAccessKey === undefined || secretAccessKey === "") return undefined;
  const sessionToken = env.AWS_SESSION_TOKEN === "" ? undefined : env.AWS_SESSION_TOKEN;
  return { accessKeyId, secretAccessKey, sessionToken };
}

/** Whether a shared config or credentials file exists, either of which may name a region for the SDK. */
function sharedFilesExist(env: Env): boolean {
  const config = nonEmpty(env.AWS_CONFIG_FILE) ?? join(homedir(), ".aws", "config");
  const credentials = nonEmpty(env.AWS_SHARED_CREDENTIALS_FILE) ?? join(homedir(), ".aws", "credentials");
  return existsSync(config) || existsSync(credentials);
}

function isSet(value: string | undefined): boolean {
  return value !== undefined && value !== "" && value.toLowerCase() !== "false";
}
