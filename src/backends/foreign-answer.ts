/**
 * An answer that is not in the store's protocol at all: a success whose body is not the document the request asks
 * for (a ListBucketResult, a JSON object listing). A captive portal, a proxy's login page, a web server on the wrong
 * port all answer so. Read as the store's, such an answer looks like an empty store; it is failed instead, naming
 * what came back. The backends throw ForeignAnswerError and map it (with the endpoint and location) in their one
 * error-mapping place.
 */
import { TransientError } from "../errors.ts";

/** The most characters of the body a message quotes. */
const QUOTED_CHARS = 60;

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
