/**
 * Whole-object reads in parallel ranged GETs, emitted in order.
 *
 * The first GET asks for bytes 0..partSize-1 right away: its Content-Range gives the object's size and its ETag
 * pins every later range (If-Match), so an object replaced mid-read fails with a 412 (TRANSIENT, "replaced while it
 * was being read") instead of splicing two objects. The first range streams straight through; up to `queueSize`
 * further ranges are fetched meanwhile, each into one buffer, and handed out in order, so memory stays about
 * (queueSize + 1) × partSize. Destroying the stream aborts every outstanding request.
 */
import { Readable } from "node:stream";
import type { GetObjectCommandInput } from "@aws-sdk/client-s3";
import { expectAnswer } from "./answer-check.ts";
import type { S3Connection } from "./client.ts";
import { isInvalidRange, isNoSuchKey, isPreconditionFailed, objectChangedDuringRead } from "./errors.ts";

const STREAM_HIGH_WATER_MARK = 1024 * 1024;

export interface WholeObjectRead {
  readonly connection: S3Connection;
  readonly bucket: string;
  readonly objectKey: string;
  readonly partSize: number;
  readonly queueSize: number;
  readonly signal?: AbortSignal | undefined;
  /** The error to throw (or to destroy the stream with) for any failure. */
  readonly mapError: (error: unknown) => Error;
}

export type WholeObjectStream =
  /** The first answer holds the whole object: its body, errors not yet mapped. */
  | { readonly kind: "single"; readonly body: Readable }
  /** Ranges in order; errors already mapped. */
  | { readonly kind: "ranges"; readonly body: Readable }
  /** The store refused the first range (an empty object answers 416), or gave no ETag: read it with a plain GET. */
  | { readonly kind: "unranged" };

/** Opens a whole-object read (see the file comment). Failures of the first GET are thrown, mapped. */
export async function openWholeObject(request: WholeObjectRead): Promise<WholeObjectStream> {
  const { connection, bucket, objectKey, partSize, signal } = request;
  const { client, sdk } = connection;
  const controller = new AbortController();
  const onAbort = (): void => controller.abort(signal?.reason);
  if (signal?.aborted === true) onAbort();
  else signal?.addEventListener("abort", onAbort, { once: true });
  const stopListening = (): void => signal?.removeEventListener("abort", onAbort);
  const get = (input: Omit<GetObjectCommandInput, "Bucket" | "Key">) =>
    client.send(expectAnswer(new sdk.GetObjectCommand({ Bucket: bucket, Key: objectKey, ...input }), "object"), { abortSignal: controller.signal });

  let first;
  try {
    first = await get({ Range: `bytes=0-${partSize - 1}` });
  } catch (error) {
    stopListening();
    if (isInvalidRange(error)) return { kind: "unranged" };
    throw request.mapError(error);
  }
  const firstBody = nodeBody(first.Body);
  const total = totalSize(first.ContentRange);
  const etag = first.ETag;
  // No Content-Range: the store ignored the Range and sent the whole object.
  if (total === undefined || total <= partSize) {
    stopListening();
    return { kind: "single", body: firstBody };
  }
  if (etag === undefined) {
    // Nothing to pin the other ranges to: read it in one GET instead.
    stopListening();
    firstBody.destroy();
    return { kind: "unranged" };
  }
  const size = total;
  controller.signal.addEventListener("abort", () => firstBody.destroy(), { once: true });

  const fetchRange = async (start: number, end: number): Promise<Buffer> => {
    let body: Readable;
    try {
      body = nodeBody((await get({ Range: `bytes=${start}-${end}`, IfMatch: etag })).Body);
    } catch (error) {
      throw isPreconditionFailed(error) || isNoSuchKey(error) ? objectChangedDuringRead(error) : error;
    }
    const destroy = (): void => {
      body.destroy();
    };
    controller.signal.addEventListener("abort", destroy, { once: true });
    try {
      return await readExactly(body, end - start + 1, `bytes ${start}-${end}`);
    } finally {
      controller.signal.removeEventListener("abort", destroy);
    }
  };

  async function* chunks(): AsyncGenerator<Uint8Array> {
    const ahead: Promise<Buffer>[] = [];
    let next = partSize;
    const fill = (): void => {
      while (next < size && ahead.length < request.queueSize) {
        const range = fetchRange(next, Math.min(next + partSize, size) - 1);
        range.catch(() => undefined); // awaited in order below; a failure must not count as unhandled meanwhile
        ahead.push(range);
        next += partSize;
      }
    };
    fill();
    for await (const chunk of firstBody) yield chunk as Uint8Array;
    for (let range = ahead.shift(); range !== undefined; range = ahead.shift()) {
      const part = await range;
      fill();
      yield part;
    }
  }

  const iterator = chunks();
  let pulling = false;
  const stream: Readable = new Readable({
    highWaterMark: STREAM_HIGH_WATER_MARK,
    read() {
      void pull();
    },
    destroy(error, callback) {
      controller.abort();
      stopListening();
      iterator.return(undefined).catch(() => undefined);
      callback(error);
    },
  });
  async function pull(): Promise<void> {
    if (pulling) return;
    pulling = true;
    try {
      for (;;) {
        const result = await iterator.next();
        if (result.done === true) {
          stopListening();
          stream.push(null);
          return;
        }
        if (!stream.push(result.value)) return;
      }
    } catch (error) {
      if (!stream.destroyed) stream.destroy(request.mapError(error));
    } finally {
      pulling = false;
    }
  }
  return { kind: "ranges", body: stream };
}

/** The SDK's body as a Node stream (an empty one when absent). */
export function nodeBody(body: unknown): Readable {
  if (body === undefined || body === null) return Readable.from([]);
  return body instanceof Readable ? body : Readable.fromWeb(body as Parameters<typeof Readable.fromWeb>[0]);
}

/** The total from "bytes 0-8388607/41943040"; undefined when absent or unknown ("*"). */
function totalSize(contentRange: string | undefined): number | undefined {
  const match = /\/(\d+)\s*$/.exec(contentRange ?? "");
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

/** The body in one buffer of exactly `length` bytes; a shorter or longer answer is an error (TRANSIENT). */
async function readExactly(body: Readable, length: number, what: string): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  let filled = 0;
  for await (const chunk of body) {
    const bytes = chunk as Uint8Array;
    if (filled + bytes.byteLength > length) throw new Error(`the answer for ${what} was longer than asked`);
    buffer.set(bytes, filled);
    filled += bytes.byteLength;
  }
  if (filled !== length) throw new Error(`the answer for ${what} ended after ${filled} of ${length} bytes`);
  return buffer;
}
