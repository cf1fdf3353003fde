/**
 * A quick look for Application Default Credentials before the first request, so that a missing or broken key file,
 * or no credentials at all, is PermissionDeniedError naming the file or variable at once, instead of the auth
 * library's metadata-server probe failing as "endpoint unreachable" after several seconds.
 */
import { lookup } from "node:dns/promises";
import { readFile, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { PermissionDeniedError } from "../../errors.ts";

type Env = Readonly<Record<string, string | undefined>>;

/** How long the metadata server's name may take to resolve; on Google Cloud it is answered locally. */
const METADATA_LOOKUP_MS = 500;
const METADATA_HOST = "metadata.google.internal";

/** Resolves when credentials may be found; PermissionDeniedError when they certainly cannot. */
export async function checkCredentials(where: string, env: Env = process.env): Promise<void> {
  const keyFile = env.GOOGLE_APPLICATION_CREDENTIALS;
  if (keyFile !== undefined && keyFile !== "") return checkKeyFile(keyFile, where);
  const adcFile = defaultCredentialsFile(env);
  if (await isFile(adcFile)) return;
  if (nonEmpty(env.GCE_METADATA_HOST) || nonEmpty(env.GCE_METADATA_IP) || (await metadataServerResolves())) return;
  throw new PermissionDeniedError(
    `No Google Cloud credentials to reach ${where}: GOOGLE_APPLICATION_CREDENTIALS is not set, there is no ${adcFile}, ` +
      "and this is not Google Cloud (no metadata server). Run `gcloud auth application-default login`, or set " +
      "GOOGLE_APPLICATION_CREDENTIALS to a service-account key file.",
    { path: where },
  );
}

async function checkKeyFile(keyFile: string, where: string): Promise<void> {
  let text: string;
  try {
    text = await readFile(keyFile, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "unreadable";
    throw new PermissionDeniedError(
      `GOOGLE_APPLICATION_CREDENTIALS names ${keyFile}, which cannot be read (${code}), so ${where} cannot be reached.`,
      { path: keyFile, cause: error },
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    parsed = error;
  }
  if (typeof parsed !== "object" || parsed === null || typeof (parsed as { type?: unknown }).type !== "string") {
    throw new PermissionDeniedError(
      `GOOGLE_APPLICATION_CREDENTIALS names ${keyFile}, which is not a Google credentials JSON file (no "type" field), so ${where} cannot be reached.`,
      { path: keyFile },
    );
  }
}

/** Where `gcloud auth application-default login` writes its credentials. */
function defaultCredentialsFile(env: Env): string {
  const config = nonEmpty(env.CLOUDSDK_CONFIG) ??
    (process.platform === "win32" ? join(env.APPDATA ?? homedir(), "gcloud") : join(homedir(), ".config", "gcloud"));
  return join(config, "application_default_credentials.json");
}

async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isFile() === true;
}

/** True when the name resolves, or when the lookup is too slow to tell (then the auth library decides). */
async function metadataServerResolves(): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const slow = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), METADATA_LOOKUP_MS);
    timer.unref();
  });
  try {
    return await Promise.race([
      lookup(METADATA_HOST).then(
        () => true,
        () => false,
      ),
      slow,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}
