/**
 * Tiny stand-ins for a GCS endpoint, for behaviour fake-gcs-server will not show on demand:
 * - a careless store that speaks enough of the JSON and upload APIs for the SDK and accepts every write,
 *   ignoring ifGenerationMatch (as old emulators and some proxies do);
 * - a store that refuses every request with one HTTP status and a GCS-shaped JSON error (401, 403, 503, …).
 * Both record every request they receive.
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

interface StoredObject {
  readonly generation: string;
  readonly size: number;
  /** Base64, as GCS reports it; the SDK checks uploads against it. */
  readonly crc32c: string;
}

/** Accepts every upload whatever its preconditions say; serves object metadata and deletes. */
export async function startCarelessGcs(): Promise<StubServer> {
  const objects = new Map<string, StoredObject>();
  let generation = Date.now() * 1000;
  let endpoint = "";
  const resource = (bucket: string, name: string, stored: StoredObject) => ({
    kind: "storage#object",
    bucket,
    name,
    generation: stored.generation,
    metageneration: "1",
    size: String(stored.size),
    crc32c: stored.crc32c,
    updated: new Date().toISOString(),
  });
  const store = (bucket: string, name: string, data: Buffer) => {
    const crc = new CRC32C();
    crc.update(data);
    const stored = { generation: String(++generation), size: data.byteLength, crc32c: crc.toString() };
    objects.set(`${bucket}/${name}`, stored);
    return resource(bucket, name, stored);
  };
  const server = await listen(async (request, body, respond) => {
    const url = new URL(request.url, "http://stub");
    const upload = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(url.pathname);
    const object = /^\/storage\/v1\/b\/([^/]+)\/o\/(.+)$/.exec(url.pathname);
    if (upload !== null && request.method === "POST") {
      const bucket = decodeURIComponent(upload[1] ?? "");
      const parts = multipartParts(request.headers["content-type"], body);
      const name = url.searchParams.get("name") ?? nameIn(parts[0]);
      if (url.searchParams.get("uploadType") === "resumable") {
        const session = `${endpoint}/upload/storage/v1/b/${bucket}/o?uploadType=resumable&upload_id=${encodeURIComponent(name)}`;
        return respond(200, {}, { location: session });
      }
      return respond(200, store(bucket, name, parts[1] ?? body));
    }
    if (upload !== null && request.method === "PUT") {
      const bucket = decodeURIComponent(upload[1] ?? "");
      return respond(200, store(bucket, url.searchParams.get("upload_id") ?? "", body));
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
  return server;
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

function nameIn(metadataPart: Buffer | undefined): string {
  if (metadataPart === undefined) return "";
  const name = (JSON.parse(metadataPart.toString("utf8")) as { name?: unknown }).name;
  return typeof name === "string" ? name : "";
}
