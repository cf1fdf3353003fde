/**
 * A quick look for Application Default Credentials before the first request, so that a missing or broken key file,
 * a workload identity configuration whose token file cannot be read, or no credentials at all, is
 * PermissionDeniedError naming the file or variable at once, instead of the auth library's metadata-server probe
 * failing as "endpoint unreachable" after several seconds.
 */
import { lookup } from "node:dns/promises";
import { access, constants, readFile, realpath, stat } from "node:fs/promises";
import { join } from "node:path";
import { PermissionDeniedError } from "../../errors.ts";
import { homeFolder, noHomeReason } from "../home.ts";

type Env = Readonly<Record<string, string | undefined>>;

/** How long the metadata server's name may take to resolve; on Google Cloud it is answered locally. */
const METADATA_LOOKUP_MS = 500;
const METADATA_HOST = "metadata.google.internal";

/** A file the credentials are read from while requests are sent, and what names it, for messages. */
export interface CredentialFile {
  readonly path: string;
  /** "credential_source.file in /etc/gcp/wif.json (GOOGLE_APPLICATION_CREDENTIALS)". */
  readonly namedBy: string;
}

/**
 * Resolves when credentials may be found, with the files read for them on every token refresh (a workload
 * identity token file); PermissionDeniedError when they certainly cannot be found or read.
 */
export async function checkCredentials(where: string, env: Env = process.env): Promise<CredentialFile[]> {
  const keyFile = env.GOOGLE_APPLICATION_CREDENTIALS;
  if (keyFile !== undefined && keyFile !== "") {
    return tokenFiles(await readKeyFile(keyFile, where), `${keyFile} (GOOGLE_APPLICATION_CREDENTIALS)`, where);
  }
  const adcFile = defaultCredentialsFile(env);
  if (adcFile !== undefined && (await isFile(adcFile))) {
    // A file the auth library cannot parse is its to report, as before.
    const parsed = await readFile(adcFile, "utf8").then(parseJson, () => undefined);
    return tokenFiles(parsed, adcFile, where);
  }
  if (nonEmpty(env.GCE_METADATA_HOST) || nonEmpty(env.GCE_METADATA_IP) || (await metadataServerResolves())) return [];
  const noFile = adcFile === undefined ? `there is no gcloud credentials file (${noHomeReason()})` : `there is no ${adcFile}`;
  throw new PermissionDeniedError(
    `No Google Cloud credentials to reach ${where}: GOOGLE_APPLICATION_CREDENTIALS is not set, ${noFile}, ` +
      "and this is not Google Cloud (no metadata server). Run `gcloud auth application-default login`, or set " +
      "GOOGLE_APPLICATION_CREDENTIALS to a service-account key file.",
    { path: where },
  );
}

/** Why a file the credentials need cannot be read, naming what names it when it is one of `known`. */
export function unreadableFileMessage(doing: string, path: string, code: string, known: readonly CredentialFile[] = []): string {
  const file = known.find((candidate) => candidate.path === path);
  if (file === undefined) return `Cannot ${doing}: the local file ${path} cannot be read (${code}).`;
  return `Cannot ${doing}: the credentials file ${path} cannot be read (${code}); it is named by ${file.namedBy}.`;
}

async function readKeyFile(keyFile: string, where: string): Promise<unknown> {
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
  const parsed = parseJson(text);
  if (typeof parsed !== "object" || parsed === null || typeof (parsed as { type?: unknown }).type !== "string") {
    throw new PermissionDeniedError(
      `GOOGLE_APPLICATION_CREDENTIALS names ${keyFile}, which is not a Google credentials JSON file (no "type" field), so ${where} cannot be reached.`,
      { path: keyFile },
    );
  }
  return parsed;
}

/**
 * The token file of a workload identity configuration (`"type": "external_account"` with a
 * `credential_source.file`), checked as the auth library reads it on each token refresh: a file it can open. The
 * path is listed as written and as resolved (a Kubernetes projected token is a link), since either may fail later.
 */
async function tokenFiles(credentials: unknown, describedFile: string, where: string): Promise<CredentialFile[]> {
  const shape = credentials as { type?: unknown; credential_source?: { file?: unknown } } | undefined;
  const tokenFile = shape?.type === "external_account" ? shape.credential_source?.file : undefined;
  if (typeof tokenFile !== "string" || tokenFile === "") return [];
  const namedBy = `credential_source.file in ${describedFile}`;
  let resolved: string;
  try {
    resolved = await realpath(tokenFile);
    if (!(await stat(resolved)).isFile()) throw Object.assign(new Error(`${resolved} is not a file`), { code: "not a file" });
    await access(resolved, constants.R_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "unreadable";
    throw new PermissionDeniedError(
      `The workload identity token file ${tokenFile} cannot be read (${code}), so ${where} cannot be reached; it is named by ${namedBy}.`,
      { path: tokenFile, cause: error },
    );
  }
  return resolved === tokenFile ? [{ path: tokenFile, namedBy }] : [{ path: tokenFile, namedBy }, { path: resolved, namedBy }];
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    return error;
  }
}

/** Where `gcloud auth application-default login` writes its credentials; undefined under no home (none there). */
function defaultCredentialsFile(env: Env): string | undefined {
  const config = nonEmpty(env.CLOUDSDK_CONFIG) ?? gcloudFolder(env);
  return config === undefined ? undefined : join(config, "application_default_credentials.json");
}

function gcloudFolder(env: Env): string | undefined {
  const base = process.platform === "win32" ? (env.APPDATA ?? homeFolder()) : homeFolder();
  if (base === undefined) return undefined;
  return process.platform === "win32" ? join(base, "gcloud") : join(base, ".config", "gcloud");
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
