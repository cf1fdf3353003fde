/** A caller's body stream as bytes, counting progress and remembering whether it (not the disk) failed. */
import type { Readable } from "node:stream";
import { InvalidArgumentError } from "../../errors.ts";

export class CallerBody implements AsyncIterable<Uint8Array> {
  readonly #body: Readable | AsyncIterable<Uint8Array>;
  readonly #onProgress: ((bytesSoFar: number) => void) | undefined;
  /** Set when reading the body (or the progress callback) threw: that error is the caller's, passed on as is. */
  failure: { readonly error: unknown } | undefined;

  constructor(body: Readable | AsyncIterable<Uint8Array>, onProgress?: (bytesSoFar: number) => void) {
    this.#body = body;
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
      this.failure = { error };
      throw error;
    } finally {
      // The disk side gave up first (the consumer stopped pulling): stop the caller's stream too.
      if (!finished) await Promise.resolve(chunks?.return?.()).catch(() => {});
    }
  }
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
