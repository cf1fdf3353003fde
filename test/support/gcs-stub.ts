/**
 * Tiny stand-ins for a GCS endpoint, for behaviour fake-gcs-server will not show on demand:
 * - a careless store that speaks enough of the JSON, upload and rewrite APIs for the SDK and accepts every
 *   write, ignoring ifGenerationMatch (as old emulators and some proxies do);
 * - a strict store, the same but enforcing ifGenerationMatch on uploads and rewrites with 412, and the CRC32C
 *   sent with a one-request upload with 400, as Google Cloud Storage does (fake-gcs-server 1.55.1 ignores
 *   ifGenerationMatch on rewrites);
 * - a store that refuses every request with one HTTP status and a GCS-shaped JSON error (401, 403, 503, …).
 * All record every request they receive.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { CRC32C } from "@google-cloud/storage";

export interface StubRequest {
  readonly method: string;
  /** Path and query, e.g. "/upload/storage/v1/b/bucket/o?uploadType=multipart&name=a". */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
}

export interface StubServer {
  readonly endpoint: string;
  readonly requests: StubRequest[];
  close(): Promise<void>;
}

export interface StoredObject {
  readonly data: Buffer;
  readonly generation: string;
  readonly contentType: string;
  readonly metadata: Readonly<Record<string, string>>;
  /** Base64, as GCS reports it; the SDK checks uploads against it. */
  readonly crc32c: string;
}

export interface StoreStub extends StubServer {
  /** The object stored under "bucket/name", if any. */
  stored(bucket: string, name: string): StoredObject | undefined;
}

export interface StoreStubOptions {
  /**
   * Called after a request was carried out; answering true replaces its response by a 503, as if the answer
   * was lost on the way back.
   */
  readonly loseAnswer?: (request: StubRequest) => boolean;
  /** Changes the bytes of a one-request upload before they are stored, as a store that checks no checksum would. */
  readonly damage?: (data: Buffer) => Buffer;
}

/** Accepts every upload and rewrite whatever its preconditions say; serves object metadata and deletes. */
export function startCarelessGcs(options: StoreStubOptions = {}): Promise<StoreStub> {
  return startStoreStub(false, options);
}

/** Like the careless store, but refuses with 412 an upload or rewrite whose ifGenerationMatch does not hold. */
export function startStrictGcs(options: StoreStubOptions = {}): Promise<StoreStub> {
  return startStoreStub(true, options);
}

/** Object descriptions the upload and rewrite requests carry. */
interface ObjectDescription {
  readonly name?: unknown;
  readonly contentType?: unknown;
  readonly metadata?: unknown;
  readonly crc32c?: unknown;
}

async function startStoreStub(enforcePreconditions: boolean, options: StoreStubOptions): Promise<StoreStub> {
  const objects = new Map<string, StoredObject>();
  /** Resumable sessions by id: what the initiating request said. */
  const sessions = new Map<string, { readonly name: string; readonly ifGenerationMatch: string | null; readonly description: ObjectDescription }>();
  let generation = Date.now() * 1000;
  let endpoint = "";
  const resource = (bucket: string, name: string, stored: StoredObject) => ({
    kind: "storage#object",
    bucket,
    name,
    generation: stored.generation,
    metageneration: "1",
    size: String(stored.data.byteLength),
    crc32c: stored.crc32c,
    contentType: stored.contentType,
    ...(Object.keys(stored.metadata).length === 0 ? {} : { metadata: stored.metadata }),
    updated: new Date().toISOString(),
  });
  /** 412 when preconditions are enforced and `ifGenerationMatch` (if given) is not the object's generation. */
  const refused = (bucket: string, name: string, ifGenerationMatch: string | null) =>
    enforcePreconditions && ifGenerationMatch !== null && ifGenerationMatch !== (objects.get(`${bucket}/${name}`)?.generation ?? "0");
  const store = (bucket: string, name: string, data: Buffer, description: ObjectDescription) => {
    const metadata = typeof description.metadata === "object" && description.metadata !== null ? description.metadata : {};
    const stored: StoredObject = {
      data,
      generation: String(++generation),
      contentType: typeof description.contentType === "string" ? description.contentType : "application/octet-stream",
      metadata: Object.fromEntries(Object.entries(metadata).map(([key, value]) => [key, String(value)])),
      crc32c: crc32cOf(data),
    };
    objects.set(`${bucket}/${name}`, stored);
    return resource(bucket, name, stored);
  };
  const preconditionFailed = () => gcsError(412, "At least one of the pre-conditions you specified did not hold.", "conditionNotMet");
  const server = await listen(async (request, body, reply) => {
    const respond: Respond = (status, answer, headers) =>
      status < 300 && options.loseAnswer?.(request) === true
        ? reply(503, gcsError(503, "Backend Error", "backendError"))
        : reply(status, answer, headers);
    const url = new URL(request.url, "http://stub");
    const upload = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(url.pathname);
    const rewrite = /^\/storage\/v1\/b\/([^/]+)\/o\/([^/]+)\/rewriteTo\/b\/([^/]+)\/o\/([^/]+)$/.exec(url.pathname);
    const object = /^\/storage\/v1\/b\/([^/]+)\/o\/([^/]+)$/.exec(url.pathname);
    const ifGenerationMatch = url.searchParams.get("ifGenerationMatch");
    if (upload !== null && request.method === "POST") {
      const bucket = decodeURIComponent(upload[1] ?? "");
      const parts = multipartParts(request.headers["content-type"], body);
      const description = descriptionIn(parts[0] ?? (body.byteLength > 0 ? body : undefined));
      const name = url.searchParams.get("name") ?? (typeof description.name === "string" ? description.name : "");
      if (url.searchParams.get("uploadType") === "resumable") {
        const id = `${name}#${sessions.size}`;
        sessions.set(id, { name, ifGenerationMatch, description });
        const session = `${endpoint}/upload/storage/v1/b/${bucket}/o?uploadType=resumable&upload_id=${encodeURIComponent(id)}`;
        return respond(200, {}, { location: session });
      }
      if (refused(bucket, name, ifGenerationMatch)) return respond(412, preconditionFailed());
      const data = options.damage?.(parts[1] ?? body) ?? parts[1] ?? body;
      if (enforcePreconditions && typeof description.crc32c === "string" && description.crc32c !== crc32cOf(data)) {
        // As Google Cloud Storage does with a checksum sent along with the bytes.
        const message = `Provided CRC32C "${description.crc32c}" doesn't match calculated CRC32C "${crc32cOf(data)}".`;
        return respond(400, gcsError(400, message, "invalid"));
      }
      return respond(200, store(bucket, name, data, description));
    }
    if (upload !== null && request.method === "PUT") {
      const bucket = decodeURIComponent(upload[1] ?? "");
      const session = sessions.get(url.searchParams.get("upload_id") ?? "");
      if (session === undefined) return respond(404, gcsError(404, "No such upload.", "notFound"));
      if (refused(bucket, session.name, session.ifGenerationMatch)) return respond(412, preconditionFailed());
      return respond(200, store(bucket, session.name, body, session.description));
    }
    if (rewrite !== null && request.method === "POST") {
      const [fromBucket, fromName, toBucket, toName] = rewrite.slice(1).map((part) => decodeURIComponent(part));
      const source = objects.get(`${fromBucket}/${fromName}`);
      const sourceGeneration = url.searchParams.get("sourceGeneration");
      if (source === undefined || (sourceGeneration !== null && sourceGeneration !== source.generation)) {
        return respond(404, gcsError(404, "No such object.", "notFound"));
      }
      if (refused(toBucket ?? "", toName ?? "", ifGenerationMatch)) return respond(412, preconditionFailed());
      // As on GCS: a destination resource in the body replaces the source's metadata; without one it is kept.
      const given = descriptionIn(body.byteLength > 0 ? body : undefined);
      const description = given.contentType === undefined && given.metadata === undefined ? source : given;
      const size = String(source.data.byteLength);
      const written = store(toBucket ?? "", toName ?? "", source.data, description);
      return respond(200, { kind: "storage#rewriteResponse", totalBytesRewritten: size, objectSize: size, done: true, resource: written });
    }
    if (object !== null) {
      const key = `${decodeURIComponent(object[1] ?? "")}/${decodeURIComponent(object[2] ?? "")}`;
      const stored = objects.get(key);
      if (request.method === "DELETE") {
        objects.delete(key);
        return respond(stored === undefined ? 404 : 204, stored === undefined ? gcsError(404, "No such object.", "notFound") : "");
      }
      if (request.method === "GET" && stored !== undefined) {
        return respond(200, resource(decodeURIComponent(object[1] ?? ""), decodeURIComponent(object[2] ?? ""), stored));
      }
    }
    if (/^\/storage\/v1\/b\/[^/]+$/.test(url.pathname)) return respond(200, { kind: "storage#bucket", name: "bucket" });
    return respond(404, gcsError(404, "Not Found", "notFound"));
  });
  endpoint = server.endpoint;
  return { ...server, stored: (bucket, name) => objects.get(`${bucket}/${name}`) };
}

/** Answers every request with `status` and a JSON error body like the real API's. */
export async function startRefusingGcs(status: number, message: string, reason: string): Promise<StubServer> {
  return listen(async (_request, _body, respond) => respond(status, gcsError(status, message, reason)));
}

/** The JSON error body GCS sends. */
export function gcsError(code: number, message: string, reason: string): object {
  return { error: { code, message, errors: [{ message, domain: "global", reason }] } };
}

type Respond = (status: number, body: object | string, headers?: Record<string, string>) => void;

async function listen(handle: (request: StubRequest, body: Buffer, respond: Respond) => Promise<void>): Promise<StubServer> {
  const requests: StubRequest[] = [];
  const server: Server = createServer((incoming: IncomingMessage, outgoing: ServerResponse) => {
    const chunks: Buffer[] = [];
    incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
    incoming.on("end", () => {
      const request: StubRequest = { method: incoming.method ?? "GET", url: incoming.url ?? "/", headers: incoming.headers };
      requests.push(request);
      const respond: Respond = (status, body, headers = {}) => {
        const text = typeof body === "string" ? body : JSON.stringify(body);
        outgoing.writeHead(status, {
          ...(text === "" ? {} : { "content-type": "application/json; charset=UTF-8" }),
          "content-length": String(Buffer.byteLength(text)),
          ...headers,
        });
        outgoing.end(text);
      };
      handle(request, Buffer.concat(chunks), respond).catch((error: unknown) => respond(500, String(error)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function crc32cOf(data: Buffer): string {
  const crc = new CRC32C();
  crc.update(data);
  return crc.toString();
}

/** The parts of a multipart/related body (metadata JSON, then the data), or [] for other bodies. */
function multipartParts(contentType: string | undefined, body: Buffer): Buffer[] {
  const boundary = /boundary="?([^";]+)"?/.exec(contentType ?? "")?.[1];
  if (boundary === undefined) return [];
  const parts: Buffer[] = [];
  const delimiter = Buffer.from(`--${boundary}`);
  let at = body.indexOf(delimiter);
  while (at !== -1) {
    const next = body.indexOf(delimiter, at + delimiter.length);
    if (next === -1) break;
    const part = body.subarray(at + delimiter.length, next);
    const start = part.indexOf("\r\n\r\n");
    // Between the part's headers and the CRLF that precedes the next delimiter.
    if (start !== -1) parts.push(part.subarray(start + 4, part.byteLength - 2));
    at = next;
  }
  return parts;
}

/** The object description in a JSON request body or multipart metadata part; {} when there is none. */
function descriptionIn(json: Buffer | undefined): ObjectDescription {
  if (json === undefined) return {};
  const parsed: unknown = JSON.parse(json.toString("utf8"));
  return typeof parsed === "object" && parsed !== null ? (parsed as ObjectDescription) : {};
}
