/**
 * A caller's body (a Readable, an async iterable, or a plain iterable of chunks) as bytes, for every backend's
 * putStream. It counts progress and remembers whether the body (not the store) failed. A failure of the caller's
 * stream (or of its progress callback) comes out as an InvalidArgumentError naming where the bytes were going,
 * with the caller's error as `cause`; an OpenCrateError from the stream (another artifact's read stream, say)
 * passes through unchanged, so a TRANSIENT source stays retryable.
 */
import type { Readable } from "node:stream";
import { InvalidArgumentError, OpenCrateError } from "../errors.ts";

export type BodyInput = Readable | AsyncIterable<unknown> | Iterable<unknown>;

export class CallerBody implements AsyncIterable<Uint8Array> {
  readonly #body: BodyInput;
  readonly #where: string;
  readonly #onProgress: ((bytesSoFar: number) => void) | undefined;
  /** Set when reading the body (or the progress callback) threw: the error this body threw for it. */
  failure: { readonly error: OpenCrateError } | undefined;

  /** `where`: the location being written, for the message. */
  constructor(body: BodyInput, where: string, onProgress?: (bytesSoFar: number) => void) {
    this.#body = body;
    this.#where = where;
    this.#onProgress = onProgress;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    let total = 0;
    let chunks: AsyncIterator<unknown> | Iterator<unknown> | undefined;
    let finished = false;
    try {
      chunks = iteratorOf(this.#body);
      for (;;) {
        const next = await chunks.next();
        if (next.done === true) break;
        const bytes = toBytes(next.value);
        total += bytes.byteLength;
        this.#onProgress?.(total);
        yield bytes;
      }
      finished = true;
    } catch (error) {
      finished = true;
      const failure = bodyFailure(error, this.#where);
      this.failure = { error: failure };
      throw failure;
    } finally {
      // The store side gave up first (the consumer stopped pulling): stop the caller's stream too.
      if (!finished) await Promise.resolve(chunks?.return?.()).catch(() => {});
    }
  }
}

/** The error a failed caller body is reported as (see the file header). */
export function bodyFailure(error: unknown, where: string): OpenCrateError {
  if (error instanceof OpenCrateError) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new InvalidArgumentError(`The body stream being saved to ${where} failed: ${reason}. Nothing was saved.`, {
    path: where,
    cause: error,
  });
}

/** The body's async iterator; a plain iterable (an array of chunks) is accepted too, as `for await` would. */
function iteratorOf(body: unknown): AsyncIterator<unknown> | Iterator<unknown> {
  const candidate = body as Partial<AsyncIterable<unknown> & Iterable<unknown>> | null;
  const asyncIterator = candidate?.[Symbol.asyncIterator];
  if (typeof asyncIterator === "function") return asyncIterator.call(candidate);
  const iterator = candidate?.[Symbol.iterator];
  if (typeof iterator === "function") return iterator.call(candidate);
  throw new InvalidArgumentError("A body must be a Readable or an async iterable of Uint8Array chunks.");
}

function toBytes(chunk: unknown): Uint8Array {
  if (typeof chunk === "string") return Buffer.from(chunk, "utf8");
  if (chunk instanceof Uint8Array) return chunk;
  throw new InvalidArgumentError(`A body stream yielded a ${typeof chunk}; expected Uint8Array or string chunks.`);
}
