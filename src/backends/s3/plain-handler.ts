/**
 * A request handler of the SDK's shape (`handle(request) → { response }`) built on node:http, for the direct path
 * when the SDK is not loaded (plain-route.ts): a GET whose body is streamed to the caller (getStream). It keeps
 * the backend's time-outs as the SDK's handler does: the connection must open within `connectMs`, and the socket
 * may stay silent for at most `idleMs` while the request waits or the body flows.
 */
import type { Agent, IncomingHttpHeaders } from "node:http";
import type { Readable } from "node:stream";
import { http } from "../../node-http.ts";

export interface HandledRequest {
  readonly method: string;
  readonly hostname: string;
  readonly port?: number | undefined;
  readonly path: string;
  readonly query: Readonly<Record<string, string | string[] | null>>;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Uint8Array | undefined;
}

export interface HandledResponse {
  readonly response: { readonly statusCode: number; readonly headers: IncomingHttpHeaders; readonly body: Readable };
}

export interface PlainHandler {
  handle(request: HandledRequest, options: { abortSignal?: AbortSignal }): Promise<HandledResponse>;
  /** Closes the kept-open sockets. */
  destroy(): void;
}

export function plainHandler(timeouts: { readonly connectMs: number; readonly idleMs: number }): PlainHandler {
  let agent: Agent | undefined;
  return {
    handle(request, { abortSignal }) {
      agent ??= new http.Agent({ keepAlive: true });
      return send(agent, request, timeouts, abortSignal);
    },
    destroy() {
      agent?.destroy();
    },
  };
}

function send(agent: Agent, request: HandledRequest, timeouts: { readonly connectMs: number; readonly idleMs: number }, signal: AbortSignal | undefined): Promise<HandledResponse> {
  return new Promise<HandledResponse>((resolve, reject) => {
    const outgoing = http.request({
      method: request.method,
      hostname: request.hostname,
      port: request.port,
      path: `${request.path}${queryString(request.query)}`,
      headers: request.headers,
      agent,
      ...(signal === undefined ? {} : { signal }),
    });
    outgoing.on("socket", (socket) => {
      if (!socket.connecting) return;
      const timer = setTimeout(() => outgoing.destroy(timedOut(`no connection within ${timeouts.connectMs} ms`)), timeouts.connectMs);
      socket.once("connect", () => clearTimeout(timer)).once("close", () => clearTimeout(timer));
    });
    outgoing.setTimeout(timeouts.idleMs, () => outgoing.destroy(timedOut(`no data for ${timeouts.idleMs} ms`)));
    outgoing.on("response", (incoming) => resolve({ response: { statusCode: incoming.statusCode ?? 0, headers: incoming.headers, body: incoming } }));
    outgoing.on("error", (error) => reject(signal?.aborted === true ? signal.reason : error));
    outgoing.end(request.body);
  });
}

function timedOut(message: string): Error {
  return Object.assign(new Error(`the store sent nothing for too long: ${message}`), { name: "TimeoutError" });
}

/** "?a=1&b" from a query record ("" when empty); any encoding the server decodes alike matches the signature. */
export function queryString(query: Readonly<Record<string, string | readonly string[] | null>>): string {
  const pairs: string[] = [];
  for (const [name, value] of Object.entries(query)) {
    const values = value === null ? [null] : typeof value === "string" ? [value] : value;
    for (const one of values) pairs.push(one === null ? encodeURIComponent(name) : `${encodeURIComponent(name)}=${encodeURIComponent(one)}`);
  }
  return pairs.length === 0 ? "" : `?${pairs.join("&")}`;
}
