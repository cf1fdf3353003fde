/**
 * GetObject, and PutObject of a small body, without the SDK's per-request middleware stack, for the many small
 * reads of a pull, the ranges of a large download, and small writes (version claims, log flushes, run records). A
 * small request through the SDK spends most of its CPU on the stack (endpoint rules, serialization, retry
 * bookkeeping, response deserialization, flexible checksums) rather than on the request; here each request is:
 *
 * - addressed with the URL the SDK itself builds for this bucket (learned once, by running one GetObjectCommand
 *   through the client's own stack up to the point where it would be signed, so nothing is sent);
 * - signed with SigV4 (sigv4.ts) from the client's own credentials provider and region, at the backend's signing
 *   clock (signing-clock.ts), which also decides when a request refused for its time is signed again;
 * - sent through the client's own request handler (the same sockets, connection and idle time-outs, abort), or,
 *   for a small read over plain HTTP, on a kept-open socket of its own (kept-alive-get.ts);
 * - retried under the backend's retry policy, as the SDK's retries are (throttling always; a 5xx, reset or time-out
 *   while the call is idempotent);
 * - for a write, sent with its Content-MD5 and signed with its SHA-256, so the store refuses damaged bytes;
 * - failed with an error shaped as the SDK's (name = S3 error code, $metadata.httpStatusCode and attempts), so
 *   errors.ts maps it exactly as it maps the SDK's.
 *
 * Used only for clients the backend built itself (a caller's client may carry middleware of its own), and only
 * when the SDK addresses the bucket with plain SigV4 (not SigV4a, not S3 Express sessions).
 */
import { createHash } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import type { Readable } from "node:stream";
import type { BodySink } from "../backend.ts";
import { ERROR_BODY_MAX_BYTES, isSuccess } from "../http-answer-head.ts";
import { KeptAliveConnections } from "../kept-alive-get.ts";
import { plainGet } from "../plain-http-read.ts";
import type { FailureKind, RetryPolicy } from "../retry-policy.ts";
import type { S3Connection } from "./client.ts";
import { errorName, httpStatus, isAbort, isTransient } from "./errors.ts";
import { type CredentialSource, type SigningCredentials, SigV4Signer } from "./sigv4.ts";
import { isSignedAgain, type SigningClock, type SigningStamp } from "./signing-clock.ts";
import { type AnswerHeaders, ForeignAnswerError, foreignObjectError, isForeignObjectAnswer } from "../foreign-answer.ts";
import { type ListingPage, isListingDocument, parseListing } from "./list-answer.ts";
import { type PlainHandler, plainHandler, queryString } from "./plain-handler.ts";
import type { PlainRoute } from "./plain-route.ts";
import { xmlField } from "./xml-text.ts";

/** SHA-256 of an empty payload: a GET sends none, so the signer need not hash one. */
const EMPTY_PAYLOAD_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/** A key whose encoding shows how the SDK escapes a key into the path (spaces, reserved and non-ASCII). */
const PROBE_KEY = "opencrate-probe/a b!'()*~+=&é";
/** The SDK's names for an answer that says "slow down" (nothing was done, so it is always safe to send again). */
const THROTTLING = new Set([
  "Throttling",
  "ThrottlingException",
  "ThrottledException",
  "RequestThrottledException",
  "TooManyRequestsException",
  "ProvisionedThroughputExceededException",
  "TransactionInProgressException",
  "RequestLimitExceeded",
  "BandwidthLimitExceeded",
  "LimitExceededException",
  "RequestThrottled",
  "SlowDown",
  "PriorRequestNotComplete",
  "EC2ThrottledException",
]);
/** A listing page of 1,000 keys of 1,024 bytes, XML-escaped, fits; a longer answer goes through the SDK. */
const LISTING_MAX_BYTES = 16 * 1024 * 1024;

export interface DirectRead {
  readonly objectKey: string;
  /** A Range header value ("bytes=0-99", "bytes=100-"). */
  readonly range?: string | undefined;
  readonly ifMatch?: string | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** A PutObject of a body held in memory. */
export interface DirectWrite {
  readonly objectKey: string;
  readonly body: Uint8Array;
  readonly contentType: string;
  /** User metadata, sent as x-amz-meta-* headers: printable ASCII only (see {@link isPlainMetadata}). */
  readonly metadata: Readonly<Record<string, string>>;
  readonly ifNoneMatch?: string | undefined;
  readonly ifMatch?: string | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** Metadata the direct PUT can send as it is (the SDK would have to encode anything else). */
export function isPlainMetadata(metadata: Readonly<Record<string, string>>): boolean {
  return Object.entries(metadata).every(([name, value]) => /^[A-Za-z0-9-]+$/.test(name) && /^[\x20-\x7e]*$/.test(value));
}

/** What a HEAD answer says about the object, named as in the SDK's HeadObject output. */
export interface HeadAnswer {
  readonly ContentLength: number | undefined;
  readonly LastModified: Date | undefined;
  readonly ETag: string | undefined;
  readonly ContentType: string | undefined;
  readonly ContentEncoding: string | undefined;
  readonly ContentDisposition: string | undefined;
  readonly ContentLanguage: string | undefined;
  readonly CacheControl: string | undefined;
  readonly ServerSideEncryption: string | undefined;
  readonly SSECustomerAlgorithm: string | undefined;
  /** x-amz-meta-* headers, names without the prefix. */
  readonly Metadata: Record<string, string>;
}

interface SmallRequest {
  readonly method: "GET" | "HEAD";
  readonly path: string;
  readonly query: Readonly<Record<string, string | string[] | null>>;
  readonly headers: Record<string, string>;
  readonly maxBytes: number;
  readonly timeouts: PlainTimeouts;
  readonly signal?: AbortSignal | undefined;
}

export interface PlainTimeouts {
  readonly connectMs: number;
  readonly idleMs: number;
}

export interface DirectAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Readable;
}

interface HttpRequestShape {
  readonly method: string;
  readonly protocol: string;
  readonly hostname: string;
  readonly port?: number | undefined;
  readonly path: string;
  readonly query: Record<string, string | string[] | null>;
  readonly headers: Record<string, string>;
  readonly body?: Uint8Array | undefined;
}

/** The parts of the client's resolved configuration used here (present on every S3Client the SDK builds). */
interface ClientParts {
  readonly credentials?: unknown;
  readonly requestHandler?: {
    handle(request: HttpRequestShape, options: { abortSignal?: AbortSignal }): Promise<{ response: { statusCode: number; headers: IncomingHttpHeaders; body: unknown } }>;
  };
}

interface Captured {
  readonly request: HttpRequestShape;
  readonly authScheme: { readonly name?: string; readonly signingRegion?: string; readonly signingName?: string } | undefined;
}

class CaptureDone extends Error {}

/** Where the requests go: the URL the SDK would use for the bucket, split up. */
interface Target {
  readonly protocol: string;
  readonly hostname: string;
  readonly port: number | undefined;
  readonly host: string;
  /** The bucket's path; an object's is this, "/" and its encoded key. */
  readonly basePath: string;
  /** Query parameters the SDK adds to a GetObject ("x-id"). */
  readonly query: Record<string, string | string[] | null>;
}

export class DirectGet {
  readonly #parts: ClientParts;
  readonly #signer: SigV4Signer;
  readonly #clock: SigningClock;
  readonly #target: Target;
  readonly #retry: RetryPolicy;
  /** Kept-open sockets for small reads (plain HTTP only). */
  readonly #connections: KeptAliveConnections | undefined;
  /** The handler built here when there is no SDK client (closed with this). */
  readonly #ownHandler: PlainHandler | undefined;

  private constructor(parts: ClientParts, signer: SigV4Signer, clock: SigningClock, target: Target, retry: RetryPolicy, ownHandler?: PlainHandler) {
    this.#parts = parts;
    this.#ownHandler = ownHandler;
    this.#signer = signer;
    this.#clock = clock;
    this.#target = target;
    this.#retry = retry;
    this.#connections = target.protocol === "http:" ? new KeptAliveConnections(target.hostname, target.port ?? 80) : undefined;
  }

  /**
   * The direct path for `bucket` on this connection, or undefined when the SDK's own call must be used. `clock` must
   * keep its offset in the client's configuration (SigningClock.share), so the SDK's requests and these move one.
   */
  static async open(connection: S3Connection, bucket: string, retry: RetryPolicy, clock: SigningClock): Promise<DirectGet | undefined> {
    if (!connection.owned) return undefined;
    const parts: ClientParts = connection.client.config;
    const credentials = credentialSource(parts.credentials);
    if (parts.requestHandler === undefined || credentials === undefined) return undefined;
    const captured = await captureRequest(connection, bucket).catch(() => undefined);
    if (captured === undefined) return undefined;
    const scheme = captured.authScheme;
    if (scheme !== undefined && scheme.name !== "sigv4") return undefined;
    const encodedProbe = `/${encodeKey(PROBE_KEY)}`;
    if (!captured.request.path.endsWith(encodedProbe)) return undefined;
    const { protocol, hostname, port, headers } = captured.request;
    const target = {
      protocol,
      hostname,
      port,
      host: headers.host ?? (port === undefined ? hostname : `${hostname}:${port}`),
      basePath: captured.request.path.slice(0, -encodedProbe.length),
      query: { ...captured.request.query },
    };
    const signer = new SigV4Signer({ credentials, region: scheme?.signingRegion ?? connection.region, service: scheme?.signingName ?? "s3" });
    return new DirectGet(parts, signer, clock, target, retry);
  }

  /**
   * Reads without the SDK (plain-route.ts): small GETs, HEADs and listings on kept-open sockets, ranges into
   * buffers, and streamed GETs through a node:http handler of its own (plain-handler.ts).
   */
  static plain(route: PlainRoute, retry: RetryPolicy, timeouts: PlainTimeouts, clock: SigningClock): DirectGet {
    const signer = new SigV4Signer({ credentials: route.credentials, region: route.region, service: "s3" });
    const target = { protocol: "http:", hostname: route.hostname, port: route.port, host: route.host, basePath: route.bucketPath, query: {} };
    const handler = plainHandler(timeouts);
    return new DirectGet({ requestHandler: handler }, signer, clock, target, retry, handler);
  }

  /**
   * A small GET on a kept-open socket (plain HTTP only), retried under the policy as get() is: resolves with the
   * body, rejects SDK-shaped as get() does, or resolves undefined when an answer was not one read there (other
   * framing, a body over `maxBytes`) or there is no plain-HTTP path: the caller then asks get().
   */
  async getSmall(read: DirectRead & { readonly maxBytes: number; readonly timeouts: PlainTimeouts }): Promise<Uint8Array | undefined> {
    const path = this.#objectPath(read.objectKey);
    const answer = await this.#small({ method: "GET", path, query: this.#target.query, headers: readHeaders(read), maxBytes: read.maxBytes, timeouts: read.timeouts, signal: read.signal });
    if (answer !== undefined) await refuseForeign(answer.status, answer.headers, answer.body);
    return answer?.body;
  }

  /** HeadObject on a kept-open socket: the object's headers as the SDK's HeadObject output has them (undefined as
   * for getSmall). */
  async headSmall(read: { readonly objectKey: string; readonly timeouts: PlainTimeouts; readonly signal?: AbortSignal | undefined }): Promise<HeadAnswer | undefined> {
    const answer = await this.#small({ method: "HEAD", path: this.#objectPath(read.objectKey), query: {}, headers: {}, maxBytes: 0, timeouts: read.timeouts, signal: read.signal });
    if (answer === undefined) return undefined;
    await refuseForeign(answer.status, answer.headers, undefined);
    return headAnswer(answer.headers);
  }

  /** One ListObjectsV2 page on a kept-open socket (undefined as for getSmall, or when the answer is not a listing
   * read whole; ForeignAnswerError when it is no ListBucketResult at all). Sent to the bucket's path with a trailing "/", as the SDK sends it. */
  async listSmall(query: Readonly<Record<string, string>>, read: { readonly timeouts: PlainTimeouts; readonly signal?: AbortSignal | undefined }): Promise<ListingPage | undefined> {
    const answer = await this.#small({
      method: "GET",
      path: `${this.#target.basePath}/`,
      query: { "list-type": "2", ...query },
      headers: {},
      maxBytes: LISTING_MAX_BYTES,
      timeouts: read.timeouts,
      signal: read.signal,
    });
    if (answer === undefined) return undefined;
    const text = answer.body.toString("utf8");
    if (!isListingDocument(text)) throw new ForeignAnswerError({ status: answer.status, contentType: answer.headers.get("content-type"), body: text });
    return parseListing(text);
  }

  /** One request on a kept-open socket, retried under the policy (every one sent here is a read). */
  async #small(request: SmallRequest): Promise<{ readonly status: number; readonly headers: ReadonlyMap<string, string>; readonly body: Buffer } | undefined> {
    const connections = this.#connections;
    if (connections === undefined) return undefined;
    let tries = 0;
    let signedAgain = false;
    const once = async () => {
      tries += 1;
      const stamp = this.#clock.stamp();
      try {
        const signed = await this.#signedAt(request.method, request.path, request.query, request.headers, EMPTY_PAYLOAD_SHA256, stamp);
        const result = await connections.get({
          method: request.method,
          target: `${request.path}${queryString(request.query)}`,
          headers: signed,
          maxBytes: request.maxBytes,
          connectTimeoutMs: request.timeouts.connectMs,
          idleTimeoutMs: request.timeouts.idleMs,
          signal: request.signal,
        });
        if (result.kind === "declined") return undefined;
        if (isSuccess(result.status)) {
          this.#clock.sample(result.headers.get("date"), result.headers.get("age"));
          return result;
        }
        const error = errorOf(result.status, result.body.toString("utf8"), result.headers.get("x-amz-request-id"));
        throw this.#clock.judge(error, { status: result.status, date: result.headers.get("date") }, stamp, signedAgain);
      } catch (error) {
        withAttempts(error, tries);
        signedAgain ||= isSignedAgain(error);
        throw error;
      }
    };
    return this.#retry.run("read", once, failureKind, request.signal);
  }

  /** Closes the kept-open sockets. */
  close(): void {
    this.#connections?.close();
    this.#ownHandler?.destroy();
  }

  /**
   * One GET, retried under the policy. Resolves with a 2xx answer whose body is still to be read; a web page in the
   * store's place rejects with ForeignAnswerError; any other answer, or a failure to get one, rejects with an
   * SDK-shaped error.
   */
  async get(read: DirectRead): Promise<DirectAnswer> {
    let tries = 0;
    let signedAgain = false;
    const once = async (): Promise<DirectAnswer> => {
      tries += 1;
      const stamp = this.#clock.stamp();
      try {
        const answer = await this.#sendSigned(await this.#signedRead(read, stamp), read.signal);
        if (answer.status >= 200 && answer.status < 300) {
          this.#clock.sample(headerValue(answer.headers.date), headerValue(answer.headers.age));
          await refuseForeign(answer.status, answer.headers, answer.body);
          return answer;
        }
        throw this.#clock.judge(await answerError(answer), { status: answer.status, date: headerValue(answer.headers.date) }, stamp, signedAgain);
      } catch (error) {
        withAttempts(error, tries);
        signedAgain ||= isSignedAgain(error);
        throw error;
      }
    };
    return this.#retry.run("read", once, failureKind, read.signal);
  }

  /**
   * A ranged GET whose body goes to `sink` from reused buffers (plain-http-read.ts), on a plain-HTTP endpoint.
   * Resolves with the bytes handed, or undefined when the answer was not one taken there (an error answer, a web
   * page, other framing, no answer at all) and nothing was handed: the caller asks again with get(). Sent once, not
   * retried.
   */
  async readInto(read: DirectRead & { readonly length: number; readonly timeouts: PlainTimeouts }, sink: BodySink): Promise<number | undefined> {
    const { protocol, hostname, port } = this.#target;
    if (protocol !== "http:") return undefined;
    const signed = await this.#signedRead(read, this.#clock.stamp());
    const result = await plainGet(
      {
        hostname,
        port: port ?? 80,
        target: `${signed.path}${queryString(signed.query)}`,
        headers: signed.headers,
        maxBytes: read.length,
        connectTimeoutMs: read.timeouts.connectMs,
        idleTimeoutMs: read.timeouts.idleMs,
        signal: read.signal,
        accept: (head) => !isForeignObjectAnswer("s3", head.headers),
      },
      sink,
    );
    return result.kind === "done" ? result.bytes : undefined;
  }

  /**
   * One PutObject, retried under the policy as the SDK retries one (as an overwrite: a conditional write sent again
   * carries its writer token, and its caller settles a 412 met after a retry). Resolves with the answer's headers;
   * any other answer rejects SDK-shaped.
   */
  async put(write: DirectWrite): Promise<IncomingHttpHeaders> {
    const headers: Record<string, string> = {
      "content-type": write.contentType,
      "content-length": String(write.body.byteLength),
      "content-md5": createHash("md5").update(write.body).digest("base64"),
    };
    const payloadHash = createHash("sha256").update(write.body).digest("hex");
    for (const [name, value] of Object.entries(write.metadata)) headers[`x-amz-meta-${name.toLowerCase()}`] = value;
    if (write.ifNoneMatch !== undefined) headers["if-none-match"] = write.ifNoneMatch;
    if (write.ifMatch !== undefined) headers["if-match"] = write.ifMatch;
    let tries = 0;
    let signedAgain = false;
    const once = async (): Promise<IncomingHttpHeaders> => {
      tries += 1;
      const stamp = this.#clock.stamp();
      try {
        const signed = await this.#signed("PUT", write.objectKey, headers, payloadHash, write.body, stamp);
        const answer = await this.#sendSigned(signed, write.signal);
        if (answer.status >= 200 && answer.status < 300) {
          this.#clock.sample(headerValue(answer.headers.date), headerValue(answer.headers.age));
          answer.body.resume();
          return answer.headers;
        }
        throw this.#clock.judge(await answerError(answer), { status: answer.status, date: headerValue(answer.headers.date) }, stamp, signedAgain);
      } catch (error) {
        withAttempts(error, tries);
        signedAgain ||= isSignedAgain(error);
        throw error;
      }
    };
    return this.#retry.run("overwrite", once, failureKind, write.signal);
  }

  async #sendSigned(signed: HttpRequestShape, signal: AbortSignal | undefined): Promise<DirectAnswer> {
    const handler = this.#parts.requestHandler;
    if (handler === undefined) throw new Error("the S3 client has no request handler");
    const { response } = await handler.handle(signed, signal === undefined ? {} : { abortSignal: signal });
    return { status: response.statusCode, headers: response.headers, body: response.body as Readable };
  }

  #signedAt(method: string, path: string, query: Readonly<Record<string, string | string[] | null>>, headers: Record<string, string>, payloadHash: string, stamp: SigningStamp): Promise<Record<string, string>> {
    return this.#signer.sign({ method, path, query, headers: { host: this.#target.host, ...headers }, payloadHash }, stamp.at);
  }

  #signedRead(read: DirectRead, stamp: SigningStamp): Promise<HttpRequestShape> {
    return this.#signed("GET", read.objectKey, readHeaders(read), EMPTY_PAYLOAD_SHA256, undefined, stamp);
  }

  /** An object's path as the SDK sends it: the bucket's path, "/", the key with each segment encoded. */
  #objectPath(objectKey: string): string {
    return `${this.#target.basePath}/${encodeKey(objectKey)}`;
  }

  async #signed(method: string, objectKey: string, headers: Record<string, string>, payloadHash: string, body: Uint8Array | undefined, stamp: SigningStamp): Promise<HttpRequestShape> {
    const { protocol, hostname, port, query } = this.#target;
    const path = this.#objectPath(objectKey);
    const signedHeaders = await this.#signedAt(method, path, query, headers, payloadHash, stamp);
    return {
      method,
      protocol,
      hostname,
      ...(port === undefined ? {} : { port }),
      path,
      query: { ...query },
      headers: signedHeaders,
      ...(body === undefined ? {} : { body }),
    };
  }
}

function headAnswer(headers: ReadonlyMap<string, string>): HeadAnswer {
  const length = headers.get("content-length");
  const modified = headers.get("last-modified");
  const metadata: Record<string, string> = {};
  for (const [name, value] of headers) if (name.startsWith("x-amz-meta-")) metadata[name.slice("x-amz-meta-".length)] = value;
  return {
    ContentLength: length === undefined ? undefined : Number(length),
    LastModified: modified === undefined ? undefined : new Date(modified),
    ETag: headers.get("etag"),
    ContentType: headers.get("content-type"),
    ContentEncoding: headers.get("content-encoding"),
    ContentDisposition: headers.get("content-disposition"),
    ContentLanguage: headers.get("content-language"),
    CacheControl: headers.get("cache-control"),
    ServerSideEncryption: headers.get("x-amz-server-side-encryption"),
    SSECustomerAlgorithm: headers.get("x-amz-server-side-encryption-customer-algorithm"),
    Metadata: metadata,
  };
}

/** The Range and If-Match headers of a read. */
function readHeaders(read: DirectRead): Record<string, string> {
  const headers: Record<string, string> = {};
  if (read.range !== undefined) headers.range = read.range;
  if (read.ifMatch !== undefined) headers["if-match"] = read.ifMatch;
  return headers;
}

/** The client's credentials as the signer takes them: its provider (called per request; it caches), or fixed ones. */
function credentialSource(credentials: unknown): CredentialSource | undefined {
  if (typeof credentials === "function") return () => (credentials as () => Promise<SigningCredentials>)();
  if (isCredentials(credentials)) return credentials;
  return undefined;
}

function isCredentials(value: unknown): value is SigningCredentials {
  if (typeof value !== "object" || value === null) return false;
  const fields = value as Record<string, unknown>;
  return typeof fields.accessKeyId === "string" && typeof fields.secretAccessKey === "string";
}

/** The SDK's path encoding of a key: each segment URI-encoded, with !'()* escaped too, "/" kept. */
function encodeKey(key: string): string {
  return key
    .split("/")
    .map((segment) => encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`))
    .join("/");
}

/**
 * Runs one GetObjectCommand through the client's stack and stops it once the request is built (after endpoint
 * resolution, serialization and the host header; before signing, retries and sending): the URL and signing scheme
 * the SDK would use for this bucket.
 */
async function captureRequest(connection: S3Connection, bucket: string): Promise<Captured | undefined> {
  const { client, sdk } = connection;
  const command = new sdk.GetObjectCommand({ Bucket: bucket, Key: PROBE_KEY });
  let captured: Captured | undefined;
  const done = new CaptureDone("request captured");
  command.middlewareStack.add(
    (_next, context) => async (args) => {
      const endpoint = (context as { endpointV2?: { properties?: { authSchemes?: Captured["authScheme"][] } } }).endpointV2;
      captured = { request: (args as { request: HttpRequestShape }).request, authScheme: endpoint?.properties?.authSchemes?.[0] };
      throw done;
    },
    { step: "build", priority: "low", name: "opencrateCaptureRequest" },
  );
  try {
    await client.send(command);
  } catch (error) {
    if (error !== done) return undefined;
  }
  return captured;
}

/** Rejects a success answer to an object read that is a web page in the store's place (its body then let go). */
async function refuseForeign(status: number, headers: AnswerHeaders, body: Readable | Uint8Array | undefined): Promise<void> {
  if (isForeignObjectAnswer("s3", headers)) throw await foreignObjectError(status, headers, body);
}

/** An SDK-shaped error for a non-2xx answer: the S3 error code from its XML body as the name. */
async function answerError(answer: DirectAnswer): Promise<Error> {
  let text = "";
  try {
    for await (const chunk of answer.body) {
      text += Buffer.from(chunk as Uint8Array).toString("utf8");
      if (text.length > ERROR_BODY_MAX_BYTES) break;
    }
  } catch {
    // The status alone still says what happened.
  } finally {
    answer.body.destroy();
  }
  return errorOf(answer.status, text, headerValue(answer.headers["x-amz-request-id"]));
}

/** An error shaped as the SDK's from an error answer's status, body and request id header. */
function errorOf(status: number, body: string, requestIdHeader: string | undefined): Error {
  const code = xmlField(body, "Code");
  const message = xmlField(body, "Message");
  const requestId = xmlField(body, "RequestId") ?? requestIdHeader;
  const name = code ?? fallbackName(status);
  return Object.assign(new Error(message ?? name), {
    name,
    $fault: status >= 500 ? "server" : "client",
    $metadata: { httpStatusCode: status, requestId, attempts: 1 },
  });
}

function fallbackName(status: number): string {
  if (status === 404) return "NotFound";
  if (status === 412) return "PreconditionFailed";
  if (status === 304) return "NotModified";
  return "Unknown";
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** Records the attempts made on an error (as the SDK does in $metadata.attempts). */
function withAttempts(error: unknown, attempts: number): void {
  if (typeof error !== "object" || error === null) return;
  const holder = error as { $metadata?: { attempts?: number } };
  if (holder.$metadata !== undefined) holder.$metadata.attempts = attempts;
  else if (Object.isExtensible(error)) Object.assign(error, { $metadata: { attempts } });
}

/** How a failed GET ended, by the SDK's own rule: throttling applied nothing; a 5xx, reset or time-out may have. */
function failureKind(error: unknown): FailureKind {
  if (isAbort(error)) return "final";
  if (THROTTLING.has(errorName(error)) || httpStatus(error) === 429) return "transient";
  // Refused for its signing time, so nothing was done: sent again, signed at the corrected time.
  if (isSignedAgain(error)) return "transient";
  return isTransient(error) ? "unknown" : "final";
}
