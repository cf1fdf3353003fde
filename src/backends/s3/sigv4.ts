/**
 * AWS Signature Version 4 for the requests direct-get.ts builds itself (plain SigV4 over headers, never presigned
 * URLs, never SigV4a). It signs the same canonical request the SDK's own signer would for such a request (a test
 * compares the two header by header), at a small part of the CPU: the day's signing key is derived once and kept
 * as a KeyObject (an HMAC keyed by a raw buffer re-imports the key on every call, which costs several times the
 * HMAC itself).
 */
import { createHmac, createSecretKey, hash, type KeyObject } from "node:crypto";

export interface SigningCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string | undefined;
}

/** The client's credentials: fixed, or the SDK's provider (which caches and refreshes them itself). */
export type CredentialSource = SigningCredentials | (() => Promise<SigningCredentials>);

export interface RequestToSign {
  readonly method: string;
  /** The path as sent on the request line (already URI-encoded once; S3 signs it as it is). */
  readonly path: string;
  readonly query: Readonly<Record<string, string | readonly string[] | null>>;
  /** Every header sent, names in lower case, `host` among them. */
  readonly headers: Readonly<Record<string, string>>;
  /** The hex SHA-256 of the body, or "UNSIGNED-PAYLOAD"; also sent as x-amz-content-sha256. */
  readonly payloadHash: string;
}

/** Headers a proxy or the HTTP stack may change on the way: never signed (the SDK's list). */
const UNSIGNED_HEADERS = new Set([
  "authorization",
  "cache-control",
  "connection",
  "expect",
  "from",
  "keep-alive",
  "max-forwards",
  "pragma",
  "referer",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "user-agent",
  "x-amzn-trace-id",
]);

interface DayKey {
  readonly secret: string;
  readonly day: string;
  readonly key: KeyObject;
}

export class SigV4Signer {
  readonly #credentials: CredentialSource;
  readonly #region: string;
  readonly #service: string;
  #dayKey: DayKey | undefined;

  constructor(options: { readonly credentials: CredentialSource; readonly region: string; readonly service: string }) {
    this.#credentials = options.credentials;
    this.#region = options.region;
    this.#service = options.service;
  }

  /** The headers to send: the request's own plus x-amz-date, x-amz-content-sha256, the session token and authorization. */
  async sign(request: RequestToSign, at: Date): Promise<Record<string, string>> {
    const credentials = typeof this.#credentials === "function" ? await this.#credentials() : this.#credentials;
    const amzDate = at.toISOString().replace(/[-:]|\.\d{3}/g, "");
    const day = amzDate.slice(0, 8);
    const headers: Record<string, string> = { ...request.headers, "x-amz-date": amzDate, "x-amz-content-sha256": request.payloadHash };
    if (credentials.sessionToken !== undefined && credentials.sessionToken !== "") headers["x-amz-security-token"] = credentials.sessionToken;
    const names = Object.keys(headers)
      .filter((name) => !UNSIGNED_HEADERS.has(name))
      .sort();
    const signedHeaders = names.join(";");
    let canonicalHeaders = "";
    for (const name of names) canonicalHeaders += `${name}:${(headers[name] ?? "").trim().replace(/\s+/g, " ")}\n`;
    const canonicalRequest = [request.method, request.path, canonicalQuery(request.query), canonicalHeaders, signedHeaders, request.payloadHash].join("\n");
    const scope = `${day}/${this.#region}/${this.#service}/aws4_request`;
    const stringToSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${hash("sha256", canonicalRequest, "hex")}`;
    const signature = createHmac("sha256", this.#keyFor(credentials.secretAccessKey, day)).update(stringToSign).digest("hex");
    headers.authorization = `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
    return headers;
  }

  #keyFor(secret: string, day: string): KeyObject {
    const kept = this.#dayKey;
    if (kept !== undefined && kept.secret === secret && kept.day === day) return kept.key;
    let key: Buffer = createHmac("sha256", `AWS4${secret}`).update(day).digest();
    for (const part of [this.#region, this.#service, "aws4_request"]) key = createHmac("sha256", key).update(part).digest();
    const dayKey = { secret, day, key: createSecretKey(key) };
    this.#dayKey = dayKey;
    return dayKey.key;
  }
}

/** Parameters sorted by encoded name, names and values RFC 3986-encoded; a parameter without a value signs as "name=". */
function canonicalQuery(query: RequestToSign["query"]): string {
  const pairs: string[] = [];
  for (const [name, value] of Object.entries(query)) {
    const encodedName = escape(name);
    const values = value === null ? [""] : typeof value === "string" ? [value] : [...value];
    for (const one of values.map(escape).sort()) pairs.push(`${encodedName}=${one}`);
  }
  return pairs.sort(byName).join("&");
}

function byName(a: string, b: string): number {
  const nameA = a.slice(0, a.indexOf("="));
  const nameB = b.slice(0, b.indexOf("="));
  return nameA < nameB ? -1 : nameA > nameB ? 1 : a < b ? -1 : a > b ? 1 : 0;
}

function escape(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
