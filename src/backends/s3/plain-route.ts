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
 * - a region given in the options or AWS_REGION, or none anywhere: no shared config or credentials file, and
 *   instance metadata turned off (AWS_EC2_METADATA_DISABLED), since the SDK would otherwise ask it for the region
 *   of the machine it runs on. That is when the backend falls back to its default region too;
 * - nothing in the environment that makes the SDK change the URL (FIPS or dual-stack endpoints). A shared config
 *   file that asks for them is not read: the SDK refuses them with a custom endpoint anyway, so writes fail there.
 * Anything else gives no route, and reads go through the SDK as before.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { nonEmpty } from "../bucket-options.ts";
import { homeFolder } from "../home.ts";
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
  // Any value at all, "false" included, turns the SDK's instance-metadata lookup off.
  const regionUnknownToSdk = !sharedFilesExist(env) && holdsAnything(env.AWS_EC2_METADATA_DISABLED);
  const region = settings.region ?? nonEmpty(env.AWS_REGION) ?? (regionUnknownToSdk ? fallbackRegion(env) : undefined);
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
  // The SDK skips the key variables whenever AWS_PROFILE holds anything at all, blanks included.
  if (holdsAnything(env.AWS_PROFILE) || holdsAnything(env.AWS_CREDENTIAL_EXPIRATION)) return undefined;
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (accessKeyId === undefined || accessKeyId === "" || secretAccessKey === undefined || secretAccessKey === "") return undefined;
  const sessionToken = env.AWS_SESSION_TOKEN === "" ? undefined : env.AWS_SESSION_TOKEN;
  return { accessKeyId, secretAccessKey, sessionToken };
}

/** Whether a shared config or credentials file exists, either of which may name a region for the SDK. */
function sharedFilesExist(env: Env): boolean {
  const config = nonEmpty(env.AWS_CONFIG_FILE) ?? join("~", ".aws", "config");
  const credentials = nonEmpty(env.AWS_SHARED_CREDENTIALS_FILE) ?? join("~", ".aws", "credentials");
  return [config, credentials].some((path) => {
    const full = withHome(path);
    return full !== undefined && existsSync(full);
  });
}

/** A path with a leading "~/" expanded, as the SDK reads these variables; undefined under no home (no file there). */
function withHome(path: string): string | undefined {
  if (!path.startsWith("~/")) return path;
  const home = homeFolder();
  return home === undefined ? undefined : join(home, path.slice(2));
}

function holdsAnything(value: string | undefined): boolean {
  return value !== undefined && value !== "";
}

function isSet(value: string | undefined): boolean {
  return value !== undefined && value !== "" && value.toLowerCase() !== "false";
}
