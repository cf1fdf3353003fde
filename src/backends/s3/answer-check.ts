/**
 * Checks, inside the SDK's stack, that a success answer is in S3's protocol before the SDK reads it. The SDK
 * reads any 200 as the command's output: an HTML page (a captive portal, a proxy's login page, a web server on
 * the wrong port) becomes an empty ListObjectsV2 page, a PutObject that was never stored, and an object's content.
 * Such an answer fails with ForeignAnswerError (errors.ts maps it). Added to single commands, so a caller's own
 * client is checked the same way and left unchanged.
 */
import { Readable } from "node:stream";
import { ERROR_BODY_MAX_BYTES } from "../http-answer-head.ts";
import { ForeignAnswerError, foreignObjectError, isForeignObjectAnswer } from "../foreign-answer.ts";
import { isListingDocument } from "./list-answer.ts";

/** What a success answer must be: a ListBucketResult document, (a write's) an answer with an ETag header, or (a
 * GetObject's or HeadObject's) an object, not a web page (isForeignObjectAnswer). */
export type AnswerShape = "listing" | "etag" | "object";

const MIDDLEWARE_NAMES: Readonly<Record<AnswerShape, string>> = { listing: "opencrateExpectListing", etag: "opencrateExpectETag", object: "opencrateExpectObject" };

interface ResponseLike {
  statusCode?: number;
  headers?: Record<string, string | undefined>;
  body?: unknown;
}

type Handler = (args: unknown) => Promise<{ readonly response: unknown }>;

/** The stack's add(), as used here: a deserialize-step middleware, placed below the SDK's deserializer so that it
 * sees the raw answer. (The SDK's own type is generic in the command's input and output, which this ignores.) */
interface DeserializeStack {
  add(middleware: (next: Handler) => Handler, options: { readonly step: "deserialize"; readonly priority: "low"; readonly name: string }): void;
}

/** Adds the check to `command` (before it is sent); returns the command. */
export function expectAnswer<C extends { readonly middlewareStack: object }>(command: C, shape: AnswerShape): C {
  const stack = command.middlewareStack as DeserializeStack;
  stack.add(answerCheck(shape), { step: "deserialize", priority: "low", name: MIDDLEWARE_NAMES[shape] });
  return command;
}

function answerCheck(shape: AnswerShape): (next: Handler) => Handler {
  return (next) => async (args) => {
      const result = await next(args);
      const response = result.response as ResponseLike;
      const status = response.statusCode ?? 0;
      if (status < 200 || status >= 300) return result;
      const contentType = headerOf(response, "content-type");
      if (shape === "object") {
        const headers = response.headers ?? {};
        if (!isForeignObjectAnswer("s3", headers)) return result;
        const body = response.body;
        throw await foreignObjectError(status, headers, body instanceof Uint8Array || body instanceof Readable ? body : undefined);
      }
      if (shape === "etag") {
        if (headerOf(response, "etag") !== undefined) return result;
        const start = await bodyBytes(response.body, ERROR_BODY_MAX_BYTES);
        throw new ForeignAnswerError({ status, contentType, body: start?.toString("utf8") ?? "" });
      }
      const body = await bodyBytes(response.body, Number.POSITIVE_INFINITY);
      // A body of another kind (a caller's handler may stream otherwise) is left to the SDK.
      if (body === undefined) return result;
      const text = body.toString("utf8");
      if (!isListingDocument(text)) throw new ForeignAnswerError({ status, contentType, body: text });
      // Read whole here, so handed on as bytes (which the SDK's deserializer takes as they are).
      response.body = body;
      return result;
    };
}

function headerOf(response: ResponseLike, name: string): string | undefined {
  for (const [key, value] of Object.entries(response.headers ?? {})) if (key.toLowerCase() === name) return value;
  return undefined;
}

/** The body's bytes, at most about `limit` of them (the rest is left unread and the stream destroyed); undefined
 * for a body that is neither bytes nor a Node stream. */
async function bodyBytes(body: unknown, limit: number): Promise<Buffer | undefined> {
  if (body instanceof Uint8Array) return Buffer.from(body);
  if (body === undefined) return Buffer.alloc(0);
  if (!(body instanceof Readable)) return undefined;
  const chunks: Buffer[] = [];
  let length = 0;
  try {
    for await (const chunk of body) {
      const bytes = Buffer.from(chunk as Uint8Array);
      chunks.push(bytes);
      length += bytes.byteLength;
      if (length > limit) break;
    }
  } finally {
    if (!body.readableEnded) body.destroy();
  }
  return Buffer.concat(chunks);
}
