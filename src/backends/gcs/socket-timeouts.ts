/**
 * Connect and idle time-outs for this backend's HTTP traffic, built only from documented Node and SDK surface:
 *
 * - The SDK's own requests (JSON API calls, multipart uploads, opening resumable sessions) get no working
 *   time-out from the SDK: its `timeout` option reaches node-fetch 3, which dropped it
 *   (googleapis/google-cloud-node#7998), and its HTTP stack takes no agent. The backend's client adds
 *   TIMEOUT_HEADER to each of them through the documented `interceptors_` option; a subscriber to Node's
 *   `http.client.request.created` diagnostics channel removes the header before anything is sent and arms the
 *   request's socket. Requests without the header (other users of the SDK in the process) are left alone.
 * - The backend's own requests (resumable chunks, downloads) go through a keep-alive agent of this file whose
 *   sockets carry the time-outs from creation (the documented `createConnection` and `reuseSocket` overrides).
 *
 * A socket that goes silent for the idle time-out (or does not connect within the connect time-out) is
 * destroyed with ETIMEDOUT (ECONNTIMEOUT while connecting); the SDK then retries or fails as for any reset.
 */
import { subscribe } from "node:diagnostics_channel";
import type { Agent as HttpAgent, ClientRequest, ClientRequestArgs } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { http } from "../../node-http.ts";

export const TIMEOUT_HEADER = "x-opencrate-socket-timeouts";

export interface SocketTimeouts {
  readonly connectMs: number;
  readonly idleMs: number;
}

/** The header value that asks for `timeouts` on an SDK request. */
export function timeoutHeaderValue(timeouts: SocketTimeouts): string {
  return `${timeouts.connectMs},${timeouts.idleMs}`;
}

/** The codes a socket time-out of this file fails a request with. */
export function isSocketTimeoutCode(code: unknown): boolean {
  return code === "ETIMEDOUT" || code === "ECONNTIMEOUT";
}

/** A keep-alive agent for `endpoint` whose sockets always have `timeouts`. */
export function agentWithTimeouts(endpoint: string, timeouts: SocketTimeouts): HttpAgent {
  return endpoint.startsWith("https:") ? new HttpsTimeoutAgent(timeouts) : new HttpTimeoutAgent(timeouts);
}

/** `Base` (node:http's or node:https's Agent) with keep-alive, arming each socket it creates or hands out again. */
function timeoutAgentClass(Base: typeof HttpAgent) {
  return class TimeoutAgent extends Base {
    readonly #timeouts: SocketTimeouts;

    constructor(timeouts: SocketTimeouts) {
      super({ keepAlive: true });
      this.#timeouts = timeouts;
    }

    override createConnection(options: ClientRequestArgs, callback?: (error: Error | null, stream: Duplex) => void): Duplex | null | undefined {
      return armed(super.createConnection(options, callback), this.#timeouts);
    }

    override reuseSocket(socket: Duplex, request: ClientRequest): void {
      super.reuseSocket(socket, request);
      armed(socket, this.#timeouts);
    }
  };
}

const HttpTimeoutAgent = timeoutAgentClass(http.Agent);
const HttpsTimeoutAgent = timeoutAgentClass(HttpsAgent);

function armed<S extends Duplex | null | undefined>(socket: S, timeouts: SocketTimeouts): S {
  if (socket instanceof Socket) armSocket(socket, timeouts);
  return socket;
}

let watching = false;

/** Arms every SDK request that carries TIMEOUT_HEADER, from now on in this process (idempotent). */
export function watchMarkedRequests(): void {
  if (watching) return;
  watching = true;
  subscribe("http.client.request.created", (message) => {
    const request = (message as { request?: unknown } | null)?.request;
    if (!(request instanceof http.ClientRequest)) return;
    const timeouts = parseHeader(request.getHeader(TIMEOUT_HEADER));
    if (timeouts === undefined) return;
    // A subscriber that throws takes the process down; headers already written (a request sent with `Expect`)
    // keep the marker, which the store ignores.
    if (!request.headersSent) request.removeHeader(TIMEOUT_HEADER);
    request.once("socket", (socket: Duplex) => armed(socket, timeouts));
  });
}

/** What the socket is waiting for, for the error when it times out. */
const waiting = new WeakMap<Socket, { readonly connecting: boolean; readonly ms: number }>();

function armSocket(socket: Socket, timeouts: SocketTimeouts): void {
  if (!waiting.has(socket)) {
    socket.on("timeout", () => {
      const state = waiting.get(socket);
      const error = state?.connecting === true
        ? Object.assign(new Error(`no connection within ${state.ms} ms`), { code: "ECONNTIMEOUT" })
        : Object.assign(new Error(`no data for ${state?.ms ?? 0} ms`), { code: "ETIMEDOUT" });
      socket.destroy(error);
    });
  }
  const idle = () => {
    waiting.set(socket, { connecting: false, ms: timeouts.idleMs });
    socket.setTimeout(timeouts.idleMs);
  };
  if (socket.connecting) {
    waiting.set(socket, { connecting: true, ms: timeouts.connectMs });
    socket.setTimeout(timeouts.connectMs);
    socket.once("connect", idle);
  } else {
    idle();
  }
  // A kept-alive socket back in its agent's pool gets that agent's own time-out (none) from Node again.
}

function parseHeader(header: number | string | string[] | undefined): SocketTimeouts | undefined {
  // node-fetch 2 (gaxios 6, in @google-cloud/storage before 8.3) hands every header over as a one-element array.
  const value = Array.isArray(header) && header.length === 1 ? header[0] : header;
  if (typeof value !== "string") return undefined;
  const [connectMs, idleMs] = value.split(",").map(Number);
  if (connectMs === undefined || idleMs === undefined || !(connectMs > 0) || !(idleMs > 0)) return undefined;
  return { connectMs, idleMs };
}
