/**
 * A recording HTTP proxy in front of an S3 server, for faults a real server will not produce on demand: a lost
 * response, a 409, a 200 carrying an error. Requests are forwarded unchanged (Host header included, so SigV4
 * signatures made for the proxy's address still verify at the server). Bodies are buffered: small tests only.
 *
 * Also a fake "S3" that accepts every write, as some S3-compatible stores do, ignoring precondition headers.
 */
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface ProxiedRequest {
  readonly method: string;
  /** Path and query, e.g. "/bucket/prefix/key?x-id=PutObject". */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

export interface ProxiedResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

/** Decides a request's response; `forward` sends it (or a replacement, e.g. with part of its body) to the real server. */
export type Interceptor = (
  request: ProxiedRequest,
  forward: (replacement?: ProxiedRequest) => Promise<ProxiedResponse>,
) => Promise<ProxiedResponse>;

export interface RunningServer {
  readonly endpoint: string;
  /** Every request received, in order. */
  readonly requests: ProxiedRequest[];
  close(): Promise<void>;
}

export async function startS3Proxy(target: string, intercept: Interceptor = (_request, forward) => forward()): Promise<RunningServer> {
  const targetUrl = new URL(target);
  return listen(async (request) => {
    const forward = (replacement?: ProxiedRequest) => forwardTo(targetUrl, replacement ?? request);
    return intercept(request, forward);
  });
}

/** A store that answers 200 to every PUT, whatever its If-None-Match / If-Match headers say. */
export async function startCarelessStore(): Promise<RunningServer> {
  let counter = 0;
  return listen(async (request) => {
    if (request.method === "PUT") {
      counter += 1;
      return { status: 200, headers: { etag: `"${String(counter).padStart(32, "0")}"` }, body: Buffer.alloc(0) };
    }
    if (request.method === "DELETE") return { status: 204, headers: {}, body: Buffer.alloc(0) };
    return { status: 404, headers: {}, body: Buffer.alloc(0) };
  });
}

/** A store that takes plain PUTs and DELETEs but answers `status` to a DELETE carrying If-Match (no conditional deletes). */
export async function startStoreRefusingConditionalDeletes(status: number, code: string): Promise<RunningServer> {
  return listen(async (request) => {
    if (request.method === "PUT") return { status: 200, headers: { etag: '"00000000000000000000000000000001"' }, body: Buffer.alloc(0) };
    if (request.method === "DELETE") {
      return request.headers["if-match"] === undefined ? { status: 204, headers: {}, body: Buffer.alloc(0) } : errorResponse(status, code, "If-Match is not taken here");
    }
    return { status: 404, headers: {}, body: Buffer.alloc(0) };
  });
}

/** The XML body S3 sends with an error. */
export function s3ErrorBody(code: string, message: string): Buffer {
  return Buffer.from(
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>proxy</RequestId></Error>`,
  );
}

export function errorResponse(status: number, code: string, message: string): ProxiedResponse {
  return { status, headers: { "content-type": "application/xml" }, body: s3ErrorBody(code, message) };
}

async function listen(handle: (request: ProxiedRequest) => Promise<ProxiedResponse>): Promise<RunningServer> {
  const requests: ProxiedRequest[] = [];
  const server: Server = createServer((incoming, outgoing) => {
    const chunks: Buffer[] = [];
    incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
    incoming.on("end", () => {
      const request: ProxiedRequest = {
        method: incoming.method ?? "GET",
        url: incoming.url ?? "/",
        headers: incoming.headers,
        body: Buffer.concat(chunks),
      };
      requests.push(request);
      handle(request).then(
        (response) => {
          const headers: Record<string, string | string[] | undefined> = {
            ...response.headers,
            // A HEAD answer has no body but the object's length, which callers read as its size.
            "content-length": request.method === "HEAD" ? (response.headers["content-length"] ?? "0") : String(response.body.byteLength),
          };
          delete headers["transfer-encoding"];
          outgoing.writeHead(response.status, headers);
          outgoing.end(response.body);
        },
        (error: unknown) => {
          outgoing.writeHead(500, { "content-type": "text/plain" });
          outgoing.end(String(error));
        },
      );
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

function forwardTo(target: URL, request: ProxiedRequest): Promise<ProxiedResponse> {
  return new Promise((resolve, reject) => {
    const headers: IncomingHttpHeaders = { ...request.headers, "content-length": String(request.body.byteLength) };
    delete headers["transfer-encoding"];
    const outgoing = httpRequest(
      { host: target.hostname, port: target.port, method: request.method, path: request.url, headers },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => resolve({ status: response.statusCode ?? 500, headers: response.headers, body: Buffer.concat(chunks) }));
        response.on("error", reject);
      },
    );
    outgoing.on("error", reject);
    outgoing.end(request.body);
  });
}
