/**
 * An answer that is not in the store's protocol at all: a success whose body is not the document the request asks
 * for (a ListBucketResult, a JSON object listing), or a web page where an object's bytes were asked for. A captive
 * portal, a proxy's login page, a web server on the wrong port all answer so. Read as the store's, such an answer
 * looks like an empty store, or like the object's content; it is failed instead, naming what came back. The
 * backends throw ForeignAnswerError and map it (with the endpoint and location) in their one error-mapping place.
 */
import type { Readable } from "node:stream";
import { TransientError } from "../errors.ts";

/** The most characters of the body a message quotes. */
const QUOTED_CHARS = 60;
/** Bytes of a page's body read for the message (the rest is not read). */
const PAGE_START_BYTES = 1024;
/** Content types of a web page. */
const PAGE_TYPES = new Set(["text/html", "application/xhtml+xml"]);
/**
 * Whether an answer's header is one the store sends with every object, on GET and HEAD alike. S3: its ETag (AWS,
 * MinIO, moto), or any `x-amz-*` / `x-amzn-*` header (AWS and MinIO send `x-amz-request-id`, moto
 * `x-amzn-requestid`), which also marks the answers of stores that leave the ETag out of some (SeaweedFS after a
 * server-side copy, s3gw for multipart objects). GCS: its generation and hashes (GCS, fake-gcs-server). A web
 * server may send an ETag too: a static page served with one passes as an S3 object (its size or checksum is then
 * what a read can catch).
 */
const OBJECT_MARKS = {
  s3: (name: string) => name === "etag" || name.startsWith("x-amz-") || name.startsWith("x-amzn-"),
  gcs: (name: string) => name === "x-goog-generation" || name === "x-goog-hash" || name === "x-goog-stored-content-length",
} as const;

/** An answer's headers as the read paths have them: a Map or a plain object (repeated ones as arrays), any case. */
export type AnswerHeaders = ReadonlyMap<string, string> | Readonly<Record<string, string | readonly string[] | number | undefined>>;

export type ObjectStore = keyof typeof OBJECT_MARKS;

export interface ForeignAnswer {
  /** The HTTP status, when known. */
  readonly status?: number | undefined;
  /** The Content-Type header ("" when the answer had none), when known. */
  readonly contentType?: string | undefined;
  /** The body, or its start. */
  readonly body: string;
}

/** Thrown by a backend's request code; carries what came back. Never reaches callers (see notTheStore). */
export class ForeignAnswerError extends Error {
  override readonly name = "ForeignAnswer";
  readonly answer: ForeignAnswer;
  constructor(answer: ForeignAnswer) {
    super(`the answer is not the store's: ${describeAnswer(answer)}`);
    this.answer = answer;
  }
}

export function isForeignAnswer(error: unknown): error is ForeignAnswerError {
  return error instanceof ForeignAnswerError;
}

/**
 * Whether a success answer to a read of one object (GET or HEAD) is a web page in the store's place: HTML, and
 * without any header the store sends with every object (OBJECT_MARKS). An object stored as HTML still comes with
 * those headers, so it reads as before; an answer of another type is left to the read's own checks (size, checksum).
 */
export function isForeignObjectAnswer(store: ObjectStore, headers: AnswerHeaders): boolean {
  const type = contentTypeOf(headers)?.split(";")[0]?.trim().toLowerCase() ?? "";
  if (!PAGE_TYPES.has(type)) return false;
  for (const [name, value] of entriesOf(headers)) if (value !== undefined && OBJECT_MARKS[store](name.toLowerCase())) return false;
  return true;
}

/** The error for a foreign object answer, quoting the start of `body` (read up to 1 KiB, then destroyed). */
export async function foreignObjectError(status: number, headers: AnswerHeaders, body: Readable | Uint8Array | undefined): Promise<ForeignAnswerError> {
  return new ForeignAnswerError({ status, contentType: contentTypeOf(headers) ?? "", body: (await pageStart(body)).toString("utf8") });
}

function entriesOf(headers: AnswerHeaders): Iterable<readonly [string, unknown]> {
  return headers instanceof Map ? headers.entries() : Object.entries(headers);
}

function contentTypeOf(headers: AnswerHeaders): string | undefined {
  for (const [name, value] of entriesOf(headers)) {
    if (name.toLowerCase() !== "content-type" || value === undefined) continue;
    return Array.isArray(value) ? value.join(", ") : String(value);
  }
  return undefined;
}

async function pageStart(body: Readable | Uint8Array | undefined): Promise<Buffer> {
  if (body === undefined) return Buffer.alloc(0);
  if (body instanceof Uint8Array) return Buffer.from(body.subarray(0, PAGE_START_BYTES));
  const chunks: Buffer[] = [];
  let length = 0;
  try {
    for await (const chunk of body) {
      const bytes = Buffer.from(chunk as Uint8Array);
      chunks.push(bytes);
      length += bytes.byteLength;
      if (length >= PAGE_START_BYTES) break;
    }
  } catch {
    // What came before the failure still says what answered.
  } finally {
    body.destroy();
  }
  return Buffer.concat(chunks).subarray(0, PAGE_START_BYTES);
}

/** "HTTP 200, content-type text/html, body \"<html>…\"": only the parts known. */
export function describeAnswer(answer: ForeignAnswer): string {
  const parts: string[] = [];
  if (answer.status !== undefined) parts.push(`HTTP ${answer.status}`);
  if (answer.contentType !== undefined) parts.push(`content-type ${answer.contentType === "" ? "(none)" : answer.contentType}`);
  const text = answer.body.trim();
  if (text === "") parts.push("empty body");
  else {
    const cut = [...text].length > QUOTED_CHARS;
    parts.push(`body ${JSON.stringify([...text].slice(0, QUOTED_CHARS).join(""))}${cut ? "…" : ""}`);
  }
  return parts.join(", ");
}

/**
 * The error for a foreign answer: TRANSIENT, since what answered is something in between (a login page, a proxy,
 * a server starting up on the port) that may step aside, as with an unreachable endpoint; the store's data is not
 * known to be damaged.
 */
export function notTheStore(error: ForeignAnswerError, store: { readonly kind: string; readonly endpoint: string; readonly doing: string; readonly path: string }): TransientError {
  return new TransientError(
    `The endpoint ${store.endpoint} did not answer as ${store.kind} store trying to ${store.doing} (${describeAnswer(error.answer)}): check the endpoint URL and any proxy or login page in between.`,
    { path: store.path, cause: error },
  );
}
