/**
 * A ranged read whose body goes from the socket into reused buffers (plain-http-read.ts), for the ranges of a large
 * download on a plain-HTTP endpoint (an emulator; TLS endpoints read through download.ts). The streamed path hands
 * on a fresh buffer per socket read, which V8 collects only once tens of MiB of them have piled up.
 *
 * The request is the one download.ts sends (same URL, interceptors and credentials, the file's generation). Only a
 * 206 for the range asked, not content-encoded, of the generation asked (when one was), and not a web page, is
 * taken; anything else is declined before a byte reaches the sink, and the caller reads through getStream instead.
 * A body that breaks off after some bytes were handed is continued by `readRest` from the first byte not handed,
 * pinned to the generation the answer came from (the streamed path, with its retries and continuations). A failing
 * sink is not retried.
 */
import type { Readable } from "node:stream";
import type { File } from "@google-cloud/storage";
import type { BodySink } from "../backend.ts";
import { type AnswerHead, plainGet } from "../plain-http-read.ts";
import { isForeignObjectAnswer } from "../foreign-answer.ts";
import { authorize } from "./authorize.ts";
import { isRetryable } from "./errors.ts";
import { mediaUrl } from "./media-request.ts";

export interface RangeInto {
  /** The object; a File made with a `generation` reads that generation. */
  readonly file: File;
  readonly offset: number;
  /** At least 1. */
  readonly length: number;
  readonly connectTimeoutMs: number;
  /** The socket may stay silent this long. */
  readonly idleTimeoutMs: number;
  readonly signal?: AbortSignal | undefined;
  /** The rest of the range after a break: `length` bytes from `offset`, of `generation`, as a stream. */
  readonly readRest: (offset: number, length: number, generation: string) => Promise<Readable>;
  /** Turns a failure of the request (not of the sink, not of `readRest`) into the error the read rejects with. */
  readonly mapError: (error: unknown) => Promise<unknown>;
}

/** What the taken answer announced. */
interface Taken {
  /** Body bytes (the range, or less where the object ends first). */
  readonly length: number;
  readonly generation: string | undefined;
}

/**
 * Hands the range's bytes to `sink` in order; resolves with the count handed, or undefined when the read was not
 * taken here (nothing handed).
 */
export async function readRangeInto(read: RangeInto, sink: BodySink): Promise<number | undefined> {
  const { file, offset, length } = read;
  const range = `bytes=${offset}-${offset + length - 1}`;
  let authorized: { url: string; headers: Record<string, string> };
  try {
    authorized = await authorize(file, "GET", mediaUrl(file), { range });
  } catch (error) {
    throw await read.mapError(error);
  }
  const target = new URL(authorized.url);
  if (target.protocol !== "http:") return undefined;
  const asked = file.generation === undefined ? undefined : String(file.generation);
  let taken: Taken | undefined;
  const counted = new CountingSink(sink);
  try {
    const result = await plainGet(
      {
        hostname: target.hostname,
        port: target.port === "" ? 80 : Number(target.port),
        target: `${target.pathname}${target.search}`,
        headers: { host: target.host, ...authorized.headers },
        maxBytes: length,
        connectTimeoutMs: read.connectTimeoutMs,
        idleTimeoutMs: read.idleTimeoutMs,
        signal: read.signal,
        accept: (head) => (taken = takenAnswer(head, offset, asked)) !== undefined,
      },
      counted,
    );
    return result.kind === "done" ? result.bytes : undefined;
  } catch (error) {
    if (counted.failure !== undefined) throw counted.failure.error;
    const generation = taken?.generation;
    if (taken === undefined || generation === undefined || read.signal?.aborted === true || !isRetryable(error)) throw await read.mapError(error);
    if (counted.handed === taken.length) return counted.handed;
    const rest = await read.readRest(offset + counted.handed, taken.length - counted.handed, generation);
    await pump(rest, counted);
    if (counted.handed !== taken.length) throw await read.mapError(new Error(`the answer for ${range} ended after ${counted.handed} bytes`));
    return counted.handed;
  }
}

/** The answer's facts if it is one taken here: a 206 from `offset`, not content-encoded, of the generation asked,
 * not a web page in the store's place. */
function takenAnswer(head: AnswerHead, offset: number, asked: string | undefined): Taken | undefined {
  if (isForeignObjectAnswer("gcs", head.headers)) return undefined;
  const span = /^bytes (\d+)-(\d+)\//.exec(head.headers.get("content-range") ?? "");
  const encoding = head.headers.get("content-encoding");
  const generation = head.headers.get("x-goog-generation");
  if (head.status !== 206 || span === null || Number(span[1]) !== offset) return undefined;
  if (encoding !== undefined && encoding !== "identity") return undefined;
  if (asked !== undefined && generation !== undefined && generation !== asked) return undefined;
  return { length: Number(span[2]) - offset + 1, generation: generation ?? asked };
}

/** Hands a stream's chunks to the sink, one write in flight while the next chunk is read. */
async function pump(body: Readable, sink: CountingSink): Promise<void> {
  let previous: Promise<void> = Promise.resolve();
  for await (const chunk of body as AsyncIterable<Uint8Array>) {
    await previous;
    previous = sink.write(chunk);
    previous.catch(() => {}); // awaited on the next turn; a stream failing meanwhile must not leave it unhandled
  }
  await previous;
}

/** Passes writes on, counting the bytes handed and keeping the sink's own failure apart from the store's. */
class CountingSink implements BodySink {
  readonly #sink: BodySink;
  handed = 0;
  failure: { readonly error: unknown } | undefined;

  constructor(sink: BodySink) {
    this.#sink = sink;
  }

  async write(bytes: Uint8Array): Promise<void> {
    this.handed += bytes.byteLength;
    try {
      await this.#sink.write(bytes);
    } catch (error) {
      this.failure ??= { error };
      throw error;
    }
  }
}
