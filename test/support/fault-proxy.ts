/**
 * A fault-injecting HTTP reverse proxy for the fault tests: listens on 127.0.0.1, forwards to a loopback server
 * (MinIO, fake-gcs-server) and, per request, may instead:
 * - `reset-before`  reset the client's connection before anything reaches the server;
 * - `reset-after`   forward the whole request, read the server's whole answer, then reset the client's connection:
 *                   the server applied the request but the client never hears (the ambiguous case);
 * - `cut-response`  forward, send the answer's headers and the first half of its body, then reset;
 * - `stall`         wait `stallMs` before forwarding;
 * - `stall-body`    forward, send the answer's headers and the first half of its body, then nothing more while the
 *                   client stays connected (a store gone silent mid-transfer; the client's time-out or abort ends it);
 * - `status-500`, `status-503`  answer that status with a short text body, without forwarding;
 * - `s3-slow-down`  answer 503 with S3's `SlowDown` XML error;
 * - `gcs-503`       answer 503 with the GCS JSON API error body;
 * - `html-page`     answer 200 with an HTML page and none of the store's headers, as a captive portal or a proxy's
 *                   login page does.
 *
 * Which fault (if any) a request gets is decided either by `decide` (scripted, for targeted tests) or by a
 * seeded pseudo-random draw per request (`probabilities`). The sequence of draws is deterministic for a seed;
 * which request gets which draw follows arrival order, which concurrency can reorder.
 *
 * Bodies stream through (nothing is buffered but the first 64 KiB of answers the client never receives, kept in
 * `swallowed` so tests can tell, e.g., which multipart upload ids a client never learned). Bounded: loopback
 * targets only, a connection limit, an upstream time-out, a cap on the swallowed records.
 *
 * Absolute `Location` headers naming the target are rewritten to the proxy, so a GCS resumable session (whose URL
 * the server hands out) keeps going through the proxy.
 *
 * Faults of the connection as a whole (latency on every byte, bandwidth caps, tiny segments, silent or cut
 * connections) go through toxiproxy instead (toxiproxy.ts, test/faults/network.test.ts). Everything here is aimed
 * at single HTTP requests, which toxiproxy cannot see: its toxics act per TCP connection, and one keep-alive
 * connection carries many requests. That includes `stall`, a delay drawn per request by the seeded plan.
 */
import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export type FaultKind =
  | "reset-before"
  | "reset-after"
  | "cut-response"
  | "stall"
  | "stall-body"
  | "status-500"
  | "status-503"
  | "s3-slow-down"
  | "gcs-503"
  | "html-page";

export const FAULT_KINDS: readonly FaultKind[] = [
  "reset-before",
  "reset-after",
  "cut-response",
  "stall",
  "status-500",
  "status-503",
  "s3-slow-down",
  "gcs-503",
  "html-page",
  "stall-body",
];

/** What the proxy knows about a request when it decides. */
export interface RequestLine {
  readonly method: string;
  /** Path and query, e.g. "/bucket/t-1/a.txt?uploads". */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  /** 0-based arrival index. */
  readonly index: number;
}

export interface FaultPlan {
  /** Chance of each fault per request (the rest pass untouched); the sum must be ≤ 1. */
  readonly probabilities?: Partial<Readonly<Record<FaultKind, number>>>;
  /** Whether a randomly drawn fault may hit this request (default: every fault, every request); if not, it passes. */
  readonly allows?: (request: RequestLine, kind: FaultKind) => boolean;
  /** Scripted faults: a kind, or undefined to fall back to the random draw. Runs before it. */
  readonly decide?: (request: RequestLine) => FaultKind | "pass" | undefined;
  /** How long `stall` waits. Default 300 ms. */
  readonly stallMs?: number;
}

export interface FaultCounters {
  /** Requests received. */
  requests: number;
  /** Requests that reached the server (reset-after, cut-response and stall included). */
  forwarded: number;
  readonly injected: Record<FaultKind, number>;
  /** Requests received, by method. */
  readonly byMethod: Record<string, number>;
  /** Answers `stall-body` sent half of and now holds. */
  held: number;
}

/** An answer the client never (fully) received. */
export interface SwallowedAnswer {
  readonly method: string;
  readonly url: string;
  readonly status: number;
  /** The first 64 KiB of the answer's body. */
  readonly body: string;
}

export interface FaultProxyOptions {
  /** The server to forward to: a loopback http:// URL. */
  readonly target: string;
  readonly seed: number;
  readonly plan?: FaultPlan;
  /** Most simultaneous client connections. Default 256. */
  readonly maxConnections?: number;
  /** An upstream request without progress for this long fails (the client's connection is reset). Default 60 s. */
  readonly upstreamTimeoutMs?: number;
}

export interface FaultProxy {
  readonly endpoint: string;
  readonly counters: FaultCounters;
  /** Answers the client never heard (reset-after, cut-response), oldest first, at most 10,000. */
  readonly swallowed: readonly SwallowedAnswer[];
  /** Replaces the plan; the seeded sequence goes on. `setPlan({})` forwards everything untouched. */
  setPlan(plan: FaultPlan): void;
  /** The counters as one line, for test diagnostics. */
  describe(): string;
  close(): Promise<void>;
}

const SWALLOWED_BODY_BYTES = 64 * 1024;
const SWALLOWED_RECORDS = 10_000;
const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]", "::1"]);

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(options.target);
  if (target.protocol !== "http:" || !LOOPBACK.has(target.hostname)) {
    throw new Error(`fault proxy: the target must be a loopback http:// URL, got ${options.target}`);
  }
  const random = seededRandom(options.seed);
  const upstreamTimeoutMs = options.upstreamTimeoutMs ?? 60_000;
  let plan: FaultPlan = options.plan ?? {};
  let arrivals = 0;
  const counters: FaultCounters = {
    requests: 0,
    forwarded: 0,
    injected: Object.fromEntries(FAULT_KINDS.map((kind) => [kind, 0])) as Record<FaultKind, number>,
    byMethod: {},
    held: 0,
  };
  const swallowed: SwallowedAnswer[] = [];
  const sockets = new Set<Socket>();
  /** The server's answers `stall-body` holds. */
  const held = new Set<IncomingMessage>();
  let endpoint = "";

  const choose = (line: RequestLine): FaultKind | undefined => {
    const scripted = plan.decide?.(line);
    if (scripted === "pass") return undefined;
    if (scripted !== undefined) return scripted;
    const draw = random();
    let threshold = 0;
    for (const kind of FAULT_KINDS) {
      threshold += plan.probabilities?.[kind] ?? 0;
      if (draw < threshold) return plan.allows === undefined || plan.allows(line, kind) ? kind : undefined;
    }
    return undefined;
  };

  const forward = (
    incoming: IncomingMessage,
    onResponse: (response: IncomingMessage) => void,
    onFailure: () => void,
  ): void => {
    counters.forwarded += 1;
    const upstream = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method: incoming.method,
        path: incoming.url,
        // Unchanged, Host included: SigV4 signatures made for the proxy's address verify at the server.
        headers: incoming.headers,
      },
      onResponse,
    );
    upstream.setTimeout(upstreamTimeoutMs, () => upstream.destroy(new Error("upstream time-out")));
    upstream.on("error", onFailure);
    incoming.pipe(upstream);
  };

  const handle = (incoming: IncomingMessage, outgoing: ServerResponse): void => {
    const line: RequestLine = {
      method: incoming.method ?? "GET",
      url: incoming.url ?? "/",
      headers: incoming.headers,
      index: arrivals++,
    };
    counters.requests += 1;
    counters.byMethod[line.method] = (counters.byMethod[line.method] ?? 0) + 1;
    const fault = choose(line);
    if (fault !== undefined) counters.injected[fault] += 1;
    const reset = (): void => {
      incoming.socket.resetAndDestroy();
    };
    const relay = (response: IncomingMessage): void => {
      outgoing.writeHead(response.statusCode ?? 502, relayedHeaders(response.headers, target, endpoint));
      response.pipe(outgoing);
      response.on("error", reset);
    };

    switch (fault) {
      case "reset-before":
        reset();
        return;
      case "status-500":
      case "status-503":
      case "s3-slow-down":
      case "gcs-503":
      case "html-page": {
        const answer = cannedAnswer(fault);
        // Read the request to its end first, so the client is not cut off mid-body (that is `reset-before`).
        incoming.resume();
        incoming.once("end", () => {
          outgoing.writeHead(answer.status, { "content-type": answer.contentType, "content-length": String(answer.body.byteLength) });
          outgoing.end(answer.body);
        });
        return;
      }
      case "reset-after":
      case "cut-response":
        forward(
          incoming,
          (response) => {
            const kept: Buffer[] = [];
            let keptBytes = 0;
            const length = Number(response.headers["content-length"] ?? Number.NaN);
            const cutAt = fault === "cut-response" && Number.isFinite(length) ? Math.floor(length / 2) : 0;
            if (fault === "cut-response") {
              outgoing.writeHead(response.statusCode ?? 502, relayedHeaders(response.headers, target, endpoint));
              outgoing.flushHeaders();
            }
            let relayed = 0;
            response.on("data", (chunk: Buffer) => {
              if (keptBytes < SWALLOWED_BODY_BYTES) {
                kept.push(chunk);
                keptBytes += chunk.byteLength;
              }
              if (fault === "cut-response" && relayed < cutAt) {
                const part = chunk.subarray(0, cutAt - relayed);
                relayed += part.byteLength;
                outgoing.write(part);
              }
            });
            response.once("end", () => {
              if (swallowed.length < SWALLOWED_RECORDS) {
                swallowed.push({
                  method: line.method,
                  url: line.url,
                  status: response.statusCode ?? 0,
                  body: Buffer.concat(kept).subarray(0, SWALLOWED_BODY_BYTES).toString("utf8"),
                });
              }
              reset();
            });
            response.once("error", reset);
          },
          reset,
        );
        return;
      case "stall-body":
        forward(
          incoming,
          (response) => {
            outgoing.writeHead(response.statusCode ?? 502, relayedHeaders(response.headers, target, endpoint));
            outgoing.flushHeaders();
            const length = Number(response.headers["content-length"] ?? Number.NaN);
            const holdAt = Number.isFinite(length) ? Math.floor(length / 2) : 0;
            let relayed = 0;
            const hold = (): void => {
              counters.held += 1;
              response.pause();
              // The server's side goes once the client gave up (its abort or time-out closes the connection), or
              // with the proxy: a server may hold a lock on the object while its answer is unread.
              held.add(response);
              const release = (): void => {
                held.delete(response);
                response.destroy();
              };
              if (incoming.socket.destroyed) release();
              else incoming.socket.once("close", release);
            };
            if (holdAt === 0) {
              hold();
              return;
            }
            response.on("data", (chunk: Buffer) => {
              const part = chunk.subarray(0, holdAt - relayed);
              relayed += part.byteLength;
              outgoing.write(part);
              if (relayed >= holdAt) {
                response.removeAllListeners("data");
                hold();
              }
            });
            response.once("error", reset);
          },
          reset,
        );
        return;
      case "stall": {
        incoming.pause();
        // The listener goes once the wait is over: a kept-alive connection carries many stalled requests.
        const { socket } = incoming;
        const cancel = (): void => clearTimeout(timer);
        const timer = setTimeout(() => {
          socket.off("close", cancel);
          forward(incoming, relay, reset);
        }, plan.stallMs ?? 300);
        socket.once("close", cancel);
        return;
      }
      case undefined:
        forward(incoming, relay, reset);
        return;
    }
  };

  const server = createServer({ keepAlive: true }, handle);
  server.maxConnections = options.maxConnections ?? 256;
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.on("error", () => {});
  });
  server.on("clientError", (_error, socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    endpoint,
    counters,
    swallowed,
    setPlan: (next) => {
      plan = next;
    },
    describe: () => {
      const faults = Object.entries(counters.injected)
        .filter(([, count]) => count > 0)
        .map(([kind, count]) => `${kind} ${count}`);
      return `${counters.requests} requests, ${counters.forwarded} forwarded; injected: ${faults.join(", ") || "none"}`;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        for (const response of held) response.destroy();
        server.close(() => resolve());
      }),
  };
}

/** The answer's headers with an absolute Location pointing at the target moved to the proxy. */
function relayedHeaders(headers: IncomingHttpHeaders, target: URL, endpoint: string): IncomingHttpHeaders {
  const location = headers.location;
  if (typeof location !== "string" || !location.startsWith(target.origin)) return headers;
  return { ...headers, location: endpoint + location.slice(target.origin.length) };
}

/** The page of `html-page`. */
export const HTML_PAGE = "<!DOCTYPE html><html><head><title>Sign in to continue</title></head><body><form>Sign in</form></body></html>";

function cannedAnswer(kind: "status-500" | "status-503" | "s3-slow-down" | "gcs-503" | "html-page"): {
  status: number;
  contentType: string;
  body: Buffer;
} {
  switch (kind) {
    case "html-page":
      return { status: 200, contentType: "text/html; charset=utf-8", body: Buffer.from(HTML_PAGE) };
    case "status-500":
      return { status: 500, contentType: "text/plain", body: Buffer.from("injected internal error\n") };
    case "status-503":
      return { status: 503, contentType: "text/plain", body: Buffer.from("injected unavailable\n") };
    case "s3-slow-down":
      return {
        status: 503,
        contentType: "application/xml",
        body: Buffer.from(
          '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message>' +
            "<RequestId>fault-proxy</RequestId></Error>",
        ),
      };
    case "gcs-503":
      return {
        status: 503,
        contentType: "application/json; charset=UTF-8",
        body: Buffer.from(
          JSON.stringify({
            error: {
              code: 503,
              message: "We encountered an internal error. Please try again.",
              errors: [{ domain: "global", reason: "backendError", message: "We encountered an internal error. Please try again." }],
            },
          }),
        ),
      };
  }
}

/** mulberry32: a small, fast, seedable generator of uniform numbers in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
