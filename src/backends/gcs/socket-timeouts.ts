/**
 * Connect and idle time-outs for the SDK's HTTP traffic, which otherwise has none that work:
 *
 * - JSON API calls and multipart uploads go through teeny-request, which hands the SDK's `timeout`
 *   to node-fetch 3, which dropped that option (googleapis/google-cloud-node#7998). A server that accepts the
 *   connection and never answers hangs such a call forever; a black-holed address hangs it for the OS connect
 *   time-out on every retry. teeny-request keeps one keep-alive agent per protocol in a module-level pool. An
 *   equivalent agent goes there (same keep-alive and socket settings) that arms time-outs only on requests
 *   carrying TIMEOUT_HEADER, which this backend's client adds and the agent removes before the request is sent:
 *   other users of the SDK in the process see no change.
 * - Resumable session requests go through gaxios, which takes an `agent`: each backend gives it its own agent
 *   with the time-outs built in, and uses the same agent for the requests it sends itself (resumable chunks,
 *   downloads).
 *
 * A socket that goes silent for the idle time-out (or does not connect within the connect time-out) is
 * destroyed with ETIMEDOUT (ECONNTIMEOUT while connecting); the SDK then retries or fails as for any reset.
 */
import { Agent as HttpAgent, type ClientRequest } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { createRequire } from "node:module";
import type { Socket } from "node:net";

export const TIMEOUT_HEADER = "x-opencrate-socket-timeouts";

export interface SocketTimeouts {
  readonly connectMs: number;
  readonly idleMs: number;
}

/** The header value that asks the pooled agent for `timeouts`. */
export function timeoutHeaderValue(timeouts: SocketTimeouts): string {
  return `${timeouts.connectMs},${timeouts.idleMs}`;
}

/** A keep-alive agent for `endpoint` whose sockets always have `timeouts` (for gaxios). */
export function agentWithTimeouts(endpoint: string, timeouts: SocketTimeouts): HttpAgent {
  const agent = endpoint.startsWith("https:") ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
  return armAgent(agent, timeouts);
}

let pooled: boolean | undefined;

/**
 * Puts time-out-aware agents into teeny-request's pool, once per process. False when teeny-request's layout is
 * not the expected one (another SDK version): requests then go without these time-outs, as before.
 */
export function installPooledAgents(): boolean {
  if (pooled !== undefined) return pooled;
  pooled = false;
  try {
    // teeny-request as the SDK resolves it (it may be nested under the SDK's own node_modules).
    const requireFromSdk = createRequire(import.meta.resolve("@google-cloud/storage"));
    const agents = requireFromSdk("teeny-request/build/src/agents.js") as { pool?: unknown };
    if (!(agents.pool instanceof Map)) return false;
    const pool = agents.pool as Map<string, unknown>;
    // The keys and agent settings teeny-request itself uses for the SDK's `forever: true` requests.
    pool.set("http:forever", armAgent(new HttpAgent({ keepAlive: true, maxSockets: Infinity }), undefined));
    pool.set("https:forever", armAgent(new HttpsAgent({ keepAlive: true, maxSockets: Infinity }), undefined));
    pooled = true;
  } catch {
    pooled = false;
  }
  return pooled;
}

/** Arms every request through `agent`: with the header's time-outs, else with `fallback`, else none. */
function armAgent<A extends HttpAgent>(agent: A, fallback: SocketTimeouts | undefined): A {
  const addRequest = (agent as unknown as AgentInternals).addRequest.bind(agent);
  (agent as unknown as AgentInternals).addRequest = (request, options) => {
    const header = request.getHeader(TIMEOUT_HEADER);
    if (header !== undefined) request.removeHeader(TIMEOUT_HEADER);
    const timeouts = parseHeader(header) ?? fallback;
    if (timeouts !== undefined) request.once("socket", (socket: Socket) => armSocket(socket, timeouts));
    addRequest(request, options);
  };
  return agent;
}

/** Node's Agent calls this for every request; it is not in the public type. */
interface AgentInternals {
  addRequest(request: ClientRequest, options: unknown): void;
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
  // A kept-alive socket back in the pool gets the agent's own (zero) time-out from Node again.
}

function parseHeader(value: number | string | string[] | undefined): SocketTimeouts | undefined {
  if (typeof value !== "string") return undefined;
  const [connectMs, idleMs] = value.split(",").map(Number);
  if (connectMs === undefined || idleMs === undefined || !(connectMs > 0) || !(idleMs > 0)) return undefined;
  return { connectMs, idleMs };
}
