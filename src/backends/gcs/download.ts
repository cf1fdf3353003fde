/**
 * Reads, whole (checked against the object's CRC32C) or ranged, with this backend's own bounded retry (see
 * media-request.ts for why not the SDK's):
 *
 * - until the response arrives, a failed attempt (408, 429, 5xx, reset, time-out) is repeated from scratch;
 * - once the stream is handed out, a response that breaks off is continued by a ranged request from the first
 *   byte not yet delivered, pinned to the generation the first response came from (`generation=`), so the rest of
 *   a replaced object is never spliced onto the start of the old one; such an object fails the read instead;
 * - a continuation right after bytes came is sent at once; attempts that bring no new byte count against
 *   the retry policy's attempts (with its waits), and then the stream errors. A stream never ends short: it ends only after the
 *   last byte the first response announced.
 *
 * GCS answers 416 to a range starting at or past the end, which here means "no bytes".
 */
import type { Agent, IncomingMessage } from "node:http";
import { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import type { File } from "@google-cloud/storage";
import type { ByteRange } from "../backend.ts";
import { isEmptyRange, rangeHeaderOf } from "../byte-range.ts";
import type { RetryPolicy } from "../retry-policy.ts";
import { Crc32c } from "../crc32c.ts";
import { httpStatusOf, isRangeNotSatisfiable, isRetryable as retryable } from "./errors.ts";
import { objectResource } from "./json-answer.ts";
import { MediaRequestError, requestMedia } from "./media-request.ts";

export interface ReadRequest {
  /** The object; a File made with a `generation` reads that generation. */
  readonly file: File;
  /** Keep-alive agent with connect and idle time-outs. */
  readonly agent: Agent;
  readonly range?: ByteRange | undefined;
  /** How opening, and each stretch without progress, is retried. */
  readonly retry: RetryPolicy;
  readonly signal?: AbortSignal | undefined;
  /** Turns a failure after the stream was handed out into the error the stream is destroyed with. */
  readonly mapError: (error: unknown) => Error;
}

/**
 * Sends the first request and waits for its response, so a missing object fails here and not later on the
 * stream. Throws what the last attempt failed with (an SDK-shaped error, for errors.ts).
 */
export async function openRead(request: ReadRequest): Promise<Readable> {
  const { range } = request;
  if (isEmptyRange(range)) {
    await objectResource(request.file); // still NotFound for a missing object
    return Readable.from([]);
  }
  let response: IncomingMessage;
  for (let attempt = 0; ; attempt++) {
    try {
      response = await requestMedia({ file: request.file, agent: request.agent, range, signal: request.signal });
      break;
    } catch (error) {
      if (isRangeNotSatisfiable(error)) return Readable.from([]);
      if (!retryable(error) || !request.retry.mayRetry("read", "unknown", attempt + 1) || request.signal?.aborted === true) throw error;
      await request.retry.wait(attempt + 1, request.signal);
    }
  }
  const whole = response.statusCode === 200;
  if (whole && rangeHeaderOf(range) !== undefined && !suffixCoversAll(range, response)) {
    // GCS sends an object stored gzip-compressed and served decompressed whole, whatever the range asked.
    response.destroy();
    throw new MediaRequestError("The store answered a byte range with the whole object.", "RANGE_IGNORED");
  }
  const start = whole ? 0 : (rangeStartOf(response) ?? 0);
  const checksum = whole ? wholeObjectChecksum(response) : undefined;
  const stream = new MediaStream(request, response, start, checksum);
  return response.headers["content-encoding"] === "gzip" ? gunzipped(stream) : stream;
}

/** The first response's facts a continuation must agree with. */
interface Span {
  /** Body offset of the next byte to deliver. */
  next: number;
  /** One past the last byte the first response announced; undefined when it did not say. */
  readonly end: number | undefined;
  /** The generation the bytes come from; undefined when the store did not say (then no continuation). */
  readonly generation: string | undefined;
}

/** What a whole read's bytes must hash to. */
interface Checksum {
  readonly crc: Crc32c;
  readonly expected: string;
}

/** The object's bytes across as many responses as it takes; errors rather than ending short. */
class MediaStream extends Readable {
  readonly #request: ReadRequest;
  readonly #span: Span;
  readonly #checksum: Checksum | undefined;
  #response: IncomingMessage | undefined;
  /** Attempts since the last one that delivered a byte. */
  #failedAttempts = 0;
  #progressed = false;
  /** Stops a pending back-off when the stream is destroyed. */
  readonly #stopped = new AbortController();

  constructor(request: ReadRequest, first: IncomingMessage, start: number, checksum: Checksum | undefined) {
    super();
    this.#request = request;
    const encoded = first.headers["content-encoding"] !== undefined && first.headers["content-encoding"] !== "identity";
    this.#span = {
      next: start,
      end: encoded ? undefined : endOf(first, start),
      // Byte offsets of a compressed answer are not the object's: such an answer is not continued.
      generation: encoded ? undefined : headerOf(first, "x-goog-generation"),
    };
    this.#checksum = checksum;
    this.#attach(first);
  }

  override _read(): void {
    this.#response?.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#stopped.abort();
    this.#response?.destroy();
    this.#response = undefined;
    callback(error);
  }

  #attach(response: IncomingMessage): void {
    this.#response = response;
    let settled = false;
    const broke = (error: unknown) => {
      if (settled) return;
      settled = true;
      response.destroy();
      void this.#continue(error);
    };
    response.on("data", (chunk: Buffer) => {
      if (settled) return;
      this.#span.next += chunk.byteLength;
      this.#progressed = true;
      this.#checksum?.crc.update(chunk);
      if (!this.push(chunk)) response.pause();
    });
    response.on("error", broke);
    // A connection that closes mid-body ends the response without 'end' (and usually with 'error').
    response.on("close", () => broke(cutShort(this.#span)));
    response.on("end", () => {
      const short = !response.complete || (this.#span.end !== undefined && this.#span.next < this.#span.end);
      if (short) {
        broke(cutShort(this.#span));
        return;
      }
      if (settled) return;
      settled = true;
      this.#response = undefined;
      this.#finish();
    });
  }

  #finish(): void {
    const checksum = this.#checksum;
    if (checksum !== undefined && checksum.crc.toBase64() !== checksum.expected) {
      const mismatch = new MediaRequestError(
        `The bytes received have CRC32C ${checksum.crc.toBase64()}, the object's is ${checksum.expected}.`,
        "CONTENT_DOWNLOAD_MISMATCH",
      );
      this.destroy(this.#request.mapError(mismatch));
      return;
    }
    this.push(null);
  }

  /** After a response broke off: asks for the rest, or gives up with `error`. */
  async #continue(error: unknown): Promise<void> {
    let failure = error;
    for (;;) {
      if (this.destroyed) return;
      const progressed = this.#progressed;
      this.#progressed = false;
      if (progressed) this.#failedAttempts = 0;
      const { generation, end, next } = this.#span;
      if (end !== undefined && next >= end) {
        // Every announced byte arrived; only the connection's close went wrong.
        this.#finish();
        return;
      }
      if (!retryable(failure)) {
        this.destroy(this.#request.mapError(failure));
        return;
      }
      if (generation === undefined || !this.#request.retry.mayRetry("read", "unknown", this.#failedAttempts + 1)) {
        this.destroy(this.#request.mapError(brokenOff(this.#span, failure, this.#failedAttempts)));
        return;
      }
      try {
        // Right after bytes came, the connection broke rather than the store refusing: no wait.
        if (!progressed) await this.#request.retry.wait(this.#failedAttempts + 1, this.#stopped.signal);
        this.#failedAttempts += 1;
        const rest = { offset: next, ...(end === undefined ? {} : { length: end - next }) };
        const response = await requestMedia({ file: this.#request.file, agent: this.#request.agent, range: rest, generation, signal: this.#stopped.signal });
        if (this.destroyed) {
          response.destroy();
          return;
        }
        const sameEnd = end === undefined || endOf(response, next) === end;
        if (response.statusCode !== 206 || rangeStartOf(response) !== next || !sameEnd) {
          response.destroy();
          throw new MediaRequestError(`The store answered a request for bytes from ${next} with another range.`, "RANGE_MISMATCH");
        }
        this.#attach(response);
        return;
      } catch (reason) {
        if (this.destroyed) return;
        failure = replaced(reason, generation) ?? reason;
      }
    }
  }
}

/** The CRC32C a whole read must match, when the store gives one for the bytes it sends as they are stored. */
function wholeObjectChecksum(response: IncomingMessage): Checksum | undefined {
  // As the SDK decides: stored without encoding, or stored gzip and sent so (the hash is of the stored bytes).
  const stored = headerOf(response, "x-goog-stored-content-encoding");
  const sent = headerOf(response, "content-encoding");
  const asStored = stored === "identity" ? sent === undefined || sent === "identity" : stored === "gzip" && sent === "gzip";
  const expected = /(?:^|,)\s*crc32c=([^,]+)/.exec(headerOf(response, "x-goog-hash") ?? "")?.[1]?.trim();
  if (!asStored || expected === undefined) return undefined;
  return { crc: new Crc32c(), expected };
}

/** A gzip-encoded answer (stored gzip with Cache-Control: no-transform) decompressed, failures passed on. */
function gunzipped(stream: Readable): Readable {
  const gunzip = createGunzip();
  stream.on("error", (error) => gunzip.destroy(error));
  gunzip.on("close", () => stream.destroy());
  return stream.pipe(gunzip);
}

/**
 * A continuation refused with 404 (or 412) means the generation being read is gone: the object was replaced or
 * deleted mid-read. Reading it again from the start gets the new one whole, so the read fails TRANSIENT.
 */
function replaced(error: unknown, generation: string): MediaRequestError | undefined {
  const status = httpStatusOf(error);
  if (status !== 404 && status !== 412) return undefined;
  return new MediaRequestError(`The object changed while it was being read (generation ${generation} is gone); read it again.`, "OBJECT_REPLACED");
}

function cutShort(span: Span): MediaRequestError {
  return new MediaRequestError(`The answer broke off at byte ${span.next}${span.end === undefined ? "" : ` of ${span.end}`}.`, "RESPONSE_CUT");
}

/** The error a read gives up with once a broken-off answer could not be continued. */
function brokenOff(span: Span, last: unknown, attempts: number): MediaRequestError {
  const why =
    span.generation === undefined
      ? "the store did not name the object's generation, so the rest cannot be read from the same object"
      : `${attempts === 1 ? "1 attempt" : `${attempts} attempts`} to continue it failed`;
  const detail = last instanceof Error ? last.message : String(last);
  const where = `at byte ${span.next}${span.end === undefined ? "" : ` of ${span.end}`}`;
  return new MediaRequestError(`The download broke off ${where} and ${why} (last: ${detail}).`, "DOWNLOAD_BROKEN");
}

/** One past the last byte of the body a 200 or 206 answer announced, as an object offset. */
function endOf(response: IncomingMessage, start: number): number | undefined {
  const range = /^bytes (\d+)-(\d+)\//.exec(headerOf(response, "content-range") ?? "");
  if (range !== null) return Number(range[2]) + 1;
  const length = Number(headerOf(response, "content-length") ?? Number.NaN);
  return Number.isSafeInteger(length) ? start + length : undefined;
}

/** A suffix at least as long as the object may be answered with all of it (a 200 without Content-Range). */
function suffixCoversAll(range: ByteRange | undefined, response: IncomingMessage): boolean {
  const length = Number(headerOf(response, "content-length") ?? Number.NaN);
  return range !== undefined && "suffix" in range && Number.isSafeInteger(length) && length <= range.suffix;
}

function rangeStartOf(response: IncomingMessage): number | undefined {
  const range = /^bytes (\d+)-/.exec(headerOf(response, "content-range") ?? "");
  return range === null ? undefined : Number(range[1]);
}

function headerOf(response: IncomingMessage, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value.join(",") : value;
}
