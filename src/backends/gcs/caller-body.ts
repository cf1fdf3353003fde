/** A caller's body stream as bytes, counting progress and remembering whether it (not the store) failed. */
import { InvalidArgumentError } from "../../errors.ts";

export class CallerBody implements AsyncIterable<Uint8Array> {
  readonly #body: AsyncIterable<unknown> | Iterable<unknown>;
  readonly #onProgress: ((bytesSoFar: number) => void) | undefined;
  /** Set when reading the body (or the progress callback) threw: that error is the caller's, passed on as is. */
  failure: { readonly error: unknown } | undefined;

  constructor(body: AsyncIterable<unknown> | Iterable<unknown>, onProgress?: (bytesSoFar: number) => void) {
    this.#body = body;
    this.#onProgress = onProgress;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    let total = 0;
    let chunks: AsyncIterator<unknown> | Iterator<unknown> | undefined;
    try {
      // Arrays and other plain iterables of chunks are accepted too.
      chunks = Symbol.asyncIterator in this.#body ? this.#body[Symbol.asyncIterator]() : this.#body[Symbol.iterator]();
      for (;;) {
        const next = await chunks.next();
        if (next.done === true) return;
        const bytes = toBytes(next.value);
        total += bytes.byteLength;
        this.#onProgress?.(total);
        yield bytes;
      }
    } catch (error) {
      this.failure = { error };
      throw error;
    } finally {
      // Stop the caller's stream when the upload gave up first.
      await chunks?.return?.();
    }
  }
}

function toBytes(chunk: unknown): Uint8Array {
  if (typeof chunk === "string") return Buffer.from(chunk, "utf8");
  if (chunk instanceof Uint8Array) return chunk;
  throw new InvalidArgumentError(`A body stream yielded a ${typeof chunk}; expected Uint8Array or string chunks.`);
}
