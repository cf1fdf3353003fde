/**
 * One GET of an object's bytes (`alt=media`), sent here over node:http rather than through the SDK's download
 * stream: with retries on, @google-cloud/storage 8.4 pipes a retried download into a stream it already destroyed
 * and crashes the process (ERR_STREAM_UNABLE_TO_PIPE, unhandled, from teeny-request); download.ts retries
 * instead. The request is still made the SDK's way: the client's, bucket's and file's interceptors run on it and
 * the SDK's authenticated request path adds the credentials (none for an emulator unless `authenticate` is set).
 */
import type { Agent, IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import type { File } from "@google-cloud/storage";
import { http } from "../../node-http.ts";
import type { ByteRange } from "../backend.ts";
import { rangeHeaderOf } from "../byte-range.ts";
import { foreignObjectError, isForeignObjectAnswer } from "../foreign-answer.ts";
import { authorize } from "./authorize.ts";

/**
 * A failure of one of this backend's own HTTP requests (media reads, resumable uploads), carrying the HTTP status
 * (or a network code) and reason the way SDK errors do, so errors.ts maps both alike.
 */
export class GcsRequestError extends Error {
  readonly code: number | string;
  readonly errors: ReadonlyArray<{ readonly reason?: string; readonly message?: string }>;

  constructor(message: string, code: number | string, reason?: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.errors = reason === undefined ? [] : [{ reason, message }];
  }
}

/** A failed media request. */
export class MediaRequestError extends GcsRequestError {}

export interface MediaRequest {
  readonly file: File;
  /** Keep-alive agent with connect and idle time-outs. */
  readonly agent: Agent;
  /** The bytes wanted; the whole object when absent. Not empty (HTTP cannot ask for no bytes). */
  readonly range?: ByteRange | undefined;
  /** Read this generation of the object (the file's own, if it names one, otherwise the current one). */
  readonly generation?: string | undefined;
  readonly signal?: AbortSignal | undefined;
}

/**
 * Sends the GET and resolves with the response once it answered 200 or 206 (its body not yet read), unless that is
 * a web page in the store's place (ForeignAnswerError). Any other status rejects with a MediaRequestError carrying
 * it and the server's message; network failures reject as node:http reports them.
 */
export async function requestMedia(request: MediaRequest): Promise<IncomingMessage> {
  const { file } = request;
  const headers: Record<string, string> = {};
  const range = rangeHeaderOf(request.range);
  if (range !== undefined) headers.range = range;
  const authorized = await authorize(file, "GET", mediaUrl(file, request.generation), headers);
  request.signal?.throwIfAborted();
  const target = new URL(authorized.url);
  const send = target.protocol === "https:" ? httpsRequest : http.request;
  return new Promise<IncomingMessage>((resolve, reject) => {
    const outgoing = send(
      target,
      {
        method: "GET",
        agent: request.agent,
        headers: authorized.headers,
        ...(request.signal === undefined ? {} : { signal: request.signal }),
      },
      (incoming) => {
        const status = incoming.statusCode ?? 0;
        if (status === 200 || status === 206) {
          if (isForeignObjectAnswer("gcs", incoming.headers)) foreignObjectError(status, incoming.headers, incoming).then(reject, reject);
          else resolve(incoming);
          return;
        }
        readSome(incoming).then((body) => reject(refusal(status, body)), reject);
      },
    );
    outgoing.on("error", (error) => reject(request.signal?.aborted === true ? request.signal.reason : error));
    outgoing.end();
  });
}

/** The URL of an object's bytes: `generation`, else the file's own generation if it names one, else the current one. */
export function mediaUrl(file: File, generation?: string): string {
  const query = new URLSearchParams({ alt: "media" });
  const pinned = generation ?? (file.generation === undefined ? undefined : String(file.generation));
  if (pinned !== undefined) query.set("generation", pinned);
  return `${file.storage.baseUrl}/b/${encodeURIComponent(file.bucket.name)}/o/${encodeURIComponent(file.name)}?${query}`;
}

/** The first 64 KiB of an error answer (enough for GCS's JSON error); the rest is discarded. */
function readSome(incoming: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    incoming.on("data", (chunk: Buffer) => {
      if (size < 64 * 1024) chunks.push(chunk);
      size += chunk.byteLength;
    });
    const done = () => resolve(Buffer.concat(chunks).toString("utf8").slice(0, 64 * 1024));
    incoming.on("end", done);
    incoming.on("error", done);
  });
}

function refusal(status: number, body: string): MediaRequestError {
  const { message, reason } = errorBodyOf(body);
  return new MediaRequestError(message === "" ? `HTTP ${status}` : message, status, reason);
}

/** The message and first reason of a GCS JSON error body; an emulator's or a proxy's plain text as it is. */
export function errorBodyOf(body: string): { readonly message: string; readonly reason?: string | undefined } {
  try {
    const parsed = JSON.parse(body) as { error?: { message?: string; errors?: Array<{ reason?: string }> } };
    return { message: parsed.error?.message ?? body.trim(), reason: parsed.error?.errors?.[0]?.reason };
  } catch {
    return { message: body.trim() };
  }
}
