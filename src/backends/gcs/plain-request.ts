/**
 * One HTTP request this backend sends itself (resumable session requests, one-request uploads) through its
 * time-out agent, with the whole answer read into memory (these answers are small JSON documents or empty).
 */
import type { Agent, IncomingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";
import type { Readable } from "node:stream";
import { http } from "../../node-http.ts";

/** A request body: bytes in memory, or `length` bytes streamed. */
export type RequestBody = Buffer | { readonly stream: Readable; readonly length: number };

export interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

export interface PlainRequest {
  readonly method: string;
  readonly agent: Agent;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: RequestBody;
  /** Aborts the request; one already aborted sends nothing (and stops a streamed body's source). */
  readonly signal?: AbortSignal | undefined;
}

/** Sends the request and resolves with the answer, whatever its status; network failures reject. */
export function sendRequest(url: URL, request: PlainRequest): Promise<Reply> {
  const { body, signal } = request;
  if (signal?.aborted === true) {
    if (!Buffer.isBuffer(body)) body.stream.destroy();
    return Promise.reject(signal.reason as Error);
  }
  const send = url.protocol === "https:" ? httpsRequest : http.request;
  return new Promise<Reply>((resolve, reject) => {
    const outgoing = send(
      url,
      {
        method: request.method,
        agent: request.agent,
        headers: { "content-length": String(Buffer.isBuffer(body) ? body.byteLength : body.length), ...request.headers },
        ...(signal === undefined ? {} : { signal }),
      },
      (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on("data", (data: Buffer) => chunks.push(data));
        incoming.on("error", reject);
        incoming.on("end", () => resolve({ status: incoming.statusCode ?? 0, headers: incoming.headers, body: Buffer.concat(chunks) }));
      },
    );
    outgoing.on("error", (error) => reject(signal?.aborted === true ? signal.reason : error));
    if (Buffer.isBuffer(body)) {
      outgoing.end(body);
      return;
    }
    body.stream.once("error", (error) => {
      reject(error);
      outgoing.destroy(error);
    });
    outgoing.once("close", () => body.stream.destroy());
    body.stream.pipe(outgoing);
  });
}
