/**
 * Loads the AWS SDK on first use (importing opencrate must not load it) and builds the S3 client.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import { lazyOptionalPackage } from "../../optional-package.ts";
import { watchedCredentials } from "../credentials-failure.ts";
import { type S3BackendOptions, type S3Settings, clientConfig, fallbackRegion } from "./options.ts";

export type S3Sdk = typeof import("@aws-sdk/client-s3");

export const loadS3Sdk: (root: string) => Promise<S3Sdk> = lazyOptionalPackage("@aws-sdk/client-s3", "s3:// locations", () => import("@aws-sdk/client-s3"));

export interface S3Connection {
  readonly sdk: S3Sdk;
  readonly client: S3Client;
  /** Whether this backend built the client (and so destroys it on close). */
  readonly owned: boolean;
  /** The region requests are signed for. */
  readonly region: string;
}

/**
 * The client for these settings, or the caller's own. When neither the options nor the SDK's chain (AWS_REGION,
 * the shared config file) name a region, the SDK would fail every request with "Region is missing"; S3-compatible
 * stores do not care, so fall back to AWS_DEFAULT_REGION or us-east-1 instead. `root` (the backend's URI) is named
 * when the SDK is missing.
 */
export async function connect(settings: S3Settings, options: S3BackendOptions, root: string): Promise<S3Connection> {
  const loaded = await loadS3Sdk(root);
  if (options.client !== undefined) {
    return { sdk: loaded, client: options.client, owned: false, region: await regionOf(options.client) ?? "unknown" };
  }
  const client = watchCredentials(new loaded.S3Client(clientConfig(settings, options.credentials, settings.region)));
  if (settings.region !== undefined) return { sdk: loaded, client, owned: true, region: settings.region };
  const region = await regionOf(client);
  if (region !== undefined) return { sdk: loaded, client, owned: true, region };
  client.destroy();
  const fallback = fallbackRegion();
  return {
    sdk: loaded,
    client: watchCredentials(new loaded.S3Client(clientConfig(settings, options.credentials, fallback))),
    owned: true,
    region: fallback,
  };
}

/**
 * Marks what the client's credentials provider throws (a token file that cannot be read, STS out of reach), so
 * errors.ts tells it from the store's own failures: the SDK resolves credentials before each request and lets
 * such an error through as it is. The SDK reads `config.credentials` per request, so the provider is wrapped there.
 */
function watchCredentials(client: S3Client): S3Client {
  const config = client.config as { credentials?: unknown };
  const provider = config.credentials;
  if (typeof provider !== "function") return client;
  config.credentials = watchedCredentials(provider as (...args: unknown[]) => Promise<unknown>);
  return client;
}

async function regionOf(client: S3Client): Promise<string | undefined> {
  try {
    const region = await client.config.region();
    return region === "" ? undefined : region;
  } catch {
    return undefined;
  }
}
