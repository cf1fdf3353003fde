/**
 * Small GETs over plain HTTP/1.1 on sockets kept open from one request to the next, for the many small reads of a
 * pull or a snapshot load. Node's HTTP client spends more CPU on a small request (request and answer objects,
 * streams, events, the agent's bookkeeping) than the store spends answering it; here a request is one string
 * written to the socket and the answer is read into one buffer of its announced length.
 *
 * Any answer with a Content-Length and no transfer coding whose body fits `maxBytes` is returned, error answers
 * included (their body says what went wrong, so up to 64 KiB of it is taken even when `maxBytes` is smaller).
 * Other answers (chunked framing, a longer body) are declined, so the caller sends the request again through its
 * full client. No answer at all (refused, reset, silent, aborted) rejects with the network error, for the caller's
 * retry policy. TLS is not handled.
 */
import { connect, type Socket } from "node:net";
import { ERROR_BODY_MAX_BYTES, framedAnswer, HEAD_END, HEAD_MAX_BYTES, type ParsedHead, parseAnswerHead } from "./http-answer-head.ts";
import { IdleSockets } from "./idle-sockets.ts";

/** Sockets kept open for later requests; more are closed once their request is done. */
const IDLE_SOCKETS_MAX = 64;

export interface SmallGet {
  /** Default GET. A HEAD answer has no body, whatever its Content-Length says. */
  readonly method?: "GET" | "HEAD";
  /** Path and query, as sent on the request line. */
  readonly target: string;
  /** Every header to send but `connection` (`host` among them). */
  readonly headers: Readonly<Record<string, string>>;
  /** A success answer with a longer body is declined (an error answer's may be up to 64 KiB). */
  readonly maxBytes: number;
  readonly connectTimeoutMs: number;
  /** The socket may stay silent this long during the exchange. */
  readonly idleTimeoutMs: number;
  readonly signal?: AbortSignal | undefined;
}

export type SmallGetResult =
  | { readonly kind: "answer"; readonly status: number; readonly headers: ReadonlyMap<string, string>; readonly body: Buffer }
  | { readonly kind: "declined"; readonly status: number | undefined };

/** The kept-open connections to one origin (host and port). */
export class KeptAliveConnections {
  readonly #hostname: string;
  readonly #port: number;
  readonly #idle = new IdleSockets<Socket>(IDLE_SOCKETS_MAX, (socket) => socket);

  constructor(hostname: string, port: number) {
    this.#hostname = hostname;
    this.#port = port;
  }

  async get(request: SmallGet): Promise<SmallGetResult> {
    const kept = this.#idle.take();
    const socket = kept ?? connect({ host: this.#hostname, port: this.#port, noDelay: true });
    let reusable = false;
    try {
      const outcome = await exchange(socket, request, kept === undefined ? request.connectTimeoutMs : undefined);
      reusable = outcome.reusable;
      return outcome.result;
    } finally {
      if (reusable) this.#idle.keep(socket);
      else socket.destroy();
    }
  }

  /** Closes the idle sockets (a socket busy with a request closes when it ends). */
  close(): void {
    this.#idle.close();
  }
}

interface Exchanged {
  readonly result: SmallGetResult;
  /** The connection can carry another request. */
  readonly reusable: boolean;
}

/** One request and its answer on `socket`; `connectTimeoutMs` while a new socket connects. */
function exchange(socket: Socket, request: SmallGet, connectTimeoutMs: number | undefined): Promise<Exchanged> {
  return new Promise<Exchanged>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    let head: (ParsedHead & { readonly status: number; readonly length: number }) | undefined;
    let bodyStart = 0;
    let settled = false;

    const detach = (): void => {
      settled = true;
      socket.off("data", onData).off("error", onError).off("close", onClose).off("timeout", onTimeout).off("connect", onConnect);
      request.signal?.removeEventListener("abort", onAbort);
      socket.setTimeout(0);
    };
    const finish = (outcome: Exchanged): void => {
      if (settled) return;
      detach();
      resolve(outcome);
    };
    const fail = (error: unknown): void => {
      if (settled) return;
      detach();
      reject(error);
    };
    const onError = (error: Error): void => fail(error);
    const onClose = (): void => fail(Object.assign(new Error("the connection closed before the answer ended"), { code: "ECONNRESET" }));
    const onTimeout = (): void => fail(Object.assign(new Error("the store sent nothing for too long"), { name: "TimeoutError" }));
    const onAbort = (): void => fail(Object.assign(new Error("the request was aborted", { cause: request.signal?.reason }), { name: "AbortError" }));
    const onConnect = (): void => {
      socket.setTimeout(request.idleTimeoutMs);
      socket.write(requestText(request));
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      received += chunk.byteLength;
      if (head === undefined) {
        const whole = chunks.length === 1 ? chunk : Buffer.concat(chunks);
        const end = whole.indexOf(HEAD_END);
        if (end === -1) {
          if (received > HEAD_MAX_BYTES) finish({ result: { kind: "declined", status: undefined }, reusable: false });
          return;
        }
        const parsed = parseAnswerHead(whole.toString("latin1", 0, end));
        if (request.method === "HEAD" && parsed.status !== undefined) {
          head = { ...parsed, status: parsed.status, length: 0 };
        } else if (!framedAnswer(parsed) || parsed.length > bodyLimit(request, parsed.status)) {
          finish({ result: { kind: "declined", status: parsed.status }, reusable: false });
          return;
        } else {
          head = parsed;
        }
        bodyStart = end + HEAD_END.byteLength;
        chunks.splice(0, chunks.length, whole);
      }
      if (received - bodyStart < head.length) return;
      const all = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
      const body = all.subarray(bodyStart, bodyStart + head.length);
      // More bytes than announced: the connection's framing is lost, so it carries nothing more.
      const reusable = received - bodyStart === head.length && !head.closes;
      finish({ result: { kind: "answer", status: head.status, headers: head.headers, body }, reusable });
    };

    if (request.signal?.aborted === true) {
      onAbort();
      return;
    }
    request.signal?.addEventListener("abort", onAbort, { once: true });
    socket.on("data", onData).on("error", onError).on("close", onClose).on("timeout", onTimeout);
    if (connectTimeoutMs === undefined) onConnect();
    else {
      socket.setTimeout(connectTimeoutMs);
      socket.once("connect", onConnect);
    }
  });
}

function bodyLimit(request: SmallGet, status: number): number {
  return status >= 200 && status < 300 ? request.maxBytes : Math.max(request.maxBytes, ERROR_BODY_MAX_BYTES);
}

function requestText(request: SmallGet): string {
  let text = `${request.method ?? "GET"} ${request.target} HTTP/1.1\r\n`;
  for (const [name, value] of Object.entries(request.headers)) text += `${name}: ${value}\r\n`;
  return `${text}\r\n`;
}
