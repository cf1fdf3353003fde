/**
 * Streaming uploads in constant memory. The first part is read here: a body that ends within one part goes out
 * as a single PutObject (by the caller, with its conflict retries); a longer one goes up as a multipart upload
 * whose CompleteMultipartUpload carries the condition (IfNoneMatch / IfMatch). Whatever fails, the multipart
 * upload is aborted before this returns, so no parts are left behind.
 *
 * Not lib-storage's Upload: it concatenates a fresh buffer per part and keeps the previous one alive through the
 * leftover slice, which measured 120-170 MiB of resident growth for a 256 MiB body at 8 MiB × 4 parts, against
 * about 100 MiB here (76 MiB of which is the test body's own garbage).
 */
import type { Readable } from "node:stream";
import type { CompleteMultipartUploadCommandOutput, CompletedPart, PutObjectCommandInput } from "@aws-sdk/client-s3";
import { InvalidArgumentError } from "../../errors.ts";
import type { S3Connection } from "./client.ts";
import { S3_MAX_PARTS } from "./options.ts";
import { readFully, type UploadSource } from "../upload-source.ts";
import { sendFilePart, type FilePart } from "./file-part.ts";
import { sha256OfRange } from "../file-range-body.ts";

/** Errors thrown by the caller's body (not by S3): they reach the caller unchanged. */
const bodyErrors = new WeakSet<object>();

export function isBodyError(error: unknown): boolean {
  return typeof error === "object" && error !== null && bodyErrors.has(error);
}

export type FirstPart =
  /** The whole body, which fits in one part. */
  | { readonly kind: "whole"; readonly bytes: Uint8Array }
  /** More than one part: the whole body again, starting with the bytes already read. `body.return()` releases
   * the source when the upload ends early. */
  | { readonly kind: "parts"; readonly body: AsyncGenerator<Uint8Array>; readonly bytesRead: () => number };

/**
 * Reads up to one part (plus one byte) of `body`. `onProgress` sees the bytes consumed from the body so far;
 * `signal` stops the reading (and so the upload, which then aborts).
 */
export async function readFirstPart(
  body: Readable | AsyncIterable<Uint8Array>,
  partSize: number,
  onProgress?: (bytesSoFar: number) => void,
  signal?: AbortSignal,
): Promise<FirstPart> {
  const iterator = iterate(body);
  let consumed = 0;
  const next = async (): Promise<IteratorResult<Uint8Array>> => {
    signal?.throwIfAborted();
    let result: IteratorResult<Uint8Array | string>;
    try {
      result = await (signal === undefined ? iterator.next() : raceAbort(iterator.next(), signal));
    } catch (error) {
      if (typeof error === "object" && error !== null) bodyErrors.add(error);
      throw error;
    }
    if (result.done === true) return { done: true, value: undefined };
    const chunk = asBytes(result.value);
    consumed += chunk.byteLength;
    onProgress?.(consumed);
    return { done: false, value: chunk };
  };
  const head: Uint8Array[] = [];
  let headBytes = 0;
  try {
    while (headBytes <= partSize) {
      const result = await next();
      if (result.done === true) return { kind: "whole", bytes: Buffer.concat(head, headBytes) };
      head.push(result.value);
      headBytes += result.value.byteLength;
    }
  } catch (error) {
    await iterator.return?.();
    throw error;
  }
  async function* rest(): AsyncGenerator<Uint8Array> {
    try {
      yield* head.splice(0);
      for (let result = await next(); result.done !== true; result = await next()) yield result.value;
    } finally {
      await iterator.return?.();
    }
  }
  return { kind: "parts", body: rest(), bytesRead: () => consumed };
}

/** Where the parts of a multipart upload come from: a stream cut into parts, or ranges of a file. */
export interface PartSource {
  /** The parts in order, each exactly partSize bytes but the last; a part belongs to the uploader until `release`. */
  readonly parts: AsyncIterable<Buffer | FilePart>;
  release(part: Buffer | FilePart): void;
}

export interface MultipartUploadRequest {
  readonly connection: S3Connection;
  /** Bucket, Key, ContentType, Metadata and the conditions (IfNoneMatch / IfMatch, sent on completion). */
  readonly params: Omit<PutObjectCommandInput, "Body">;
  readonly source: PartSource;
  readonly partSize: number;
  readonly queueSize: number;
  readonly signal?: AbortSignal | undefined;
  /** The s3:// URI, for messages. */
  readonly uri: string;
}

/**
 * Uploads the parts of `source` as a multipart upload with at most `queueSize` parts in flight. A stream fills at
 * most queueSize + 1 reused buffers of partSize; a file's parts stream from the file through a few small buffers
 * each. Either way memory stays bounded whatever the body's size. On any failure,
 * including a failed condition at completion, the upload is aborted before the error is rethrown.
 */
export async function uploadMultipart(request: MultipartUploadRequest): Promise<CompleteMultipartUploadCommandOutput> {
  const { client, sdk } = request.connection;
  const { IfNoneMatch, IfMatch, ...createParams } = request.params;
  const target = { Bucket: request.params.Bucket, Key: request.params.Key };
  const send = { abortSignal: request.signal };
  const { UploadId } = await client.send(new sdk.CreateMultipartUploadCommand(createParams), send);
  try {
    const parts: CompletedPart[] = [];
    const inFlight = new Set<Promise<void>>();
    const { source } = request;
    let failure: { error: unknown } | undefined;
    /** The body's own failure (a stream error, a file that shrank): reported before any part's. */
    let bodyFailure: { error: unknown } | undefined;
    let partNumber = 0;
    try {
      for await (const part of source.parts) {
        if (failure !== undefined) break;
        const number = ++partNumber;
        if (number > S3_MAX_PARTS) {
          failure = {
            error: new InvalidArgumentError(
              `${request.uri} is larger than S3's ${S3_MAX_PARTS} parts of ${request.partSize} bytes: pass a larger partSize, or the body's size.`,
              { path: request.uri },
            ),
          };
          break;
        }
        const partInput = { ...target, UploadId, PartNumber: number };
        const sent = Buffer.isBuffer(part)
          ? client.send(new sdk.UploadPartCommand({ ...partInput, Body: part, ContentLength: part.byteLength }), send)
          : sendFilePart(request.connection, partInput, part, request.signal);
        const task: Promise<void> = sent
          .then(
            (output) => {
              parts[number - 1] = { PartNumber: number, ETag: output.ETag };
            },
            (error: unknown) => {
              failure ??= { error };
            },
          )
          .finally(() => {
            source.release(part);
            inFlight.delete(task);
          });
        inFlight.add(task);
        if (inFlight.size >= request.queueSize) await Promise.race(inFlight);
      }
    } catch (error) {
      bodyFailure = { error };
    }
    // Settled before any abort: a part still uploading after AbortMultipartUpload could be stored as an orphan.
    await Promise.all(inFlight);
    if (bodyFailure !== undefined) throw bodyFailure.error;
    if (failure !== undefined) throw failure.error;
    return await client.send(
      new sdk.CompleteMultipartUploadCommand({
        ...target,
        UploadId,
        MultipartUpload: { Parts: parts },
        ...(IfNoneMatch === undefined ? {} : { IfNoneMatch }),
        ...(IfMatch === undefined ? {} : { IfMatch }),
      }),
      send,
    );
  } catch (error) {
    await client.send(new sdk.AbortMultipartUploadCommand({ ...target, UploadId })).catch(() => undefined);
    throw error;
  }
}

/** `body` cut into parts of exactly `partSize` bytes (the last one shorter), copied into reused buffers. */
export function streamParts(body: AsyncIterable<Uint8Array>, partSize: number): PartSource {
  const pool = new PartBuffers(partSize);
  async function* parts(): AsyncGenerator<Buffer> {
    let buffer = pool.take();
    let filled = 0;
    for await (const chunk of body) {
      let offset = 0;
      while (offset < chunk.byteLength) {
        const copied = Math.min(partSize - filled, chunk.byteLength - offset);
        buffer.set(chunk.subarray(offset, offset + copied), filled);
        filled += copied;
        offset += copied;
        if (filled === partSize) {
          yield buffer;
          buffer = pool.take();
          filled = 0;
        }
      }
    }
    if (filled > 0) yield buffer.subarray(0, filled);
  }
  return { parts: parts(), release: (part) => pool.release(part) };
}

/**
 * The file's bytes up to the size it had when opened, as parts that each stream their range from the file when
 * sent (file-part.ts), so no part is held in memory. Each range is read once first for its SHA-256, which the
 * part's signature carries as a buffered part's would (S3 refuses a part whose bytes differ). `onProgress` sees
 * the bytes read so far. A file that turns out shorter, or cannot be read, fails the upload with
 * InvalidArgumentError naming it.
 */
export function fileParts(
  file: UploadSource,
  partSize: number,
  onProgress?: (bytesSoFar: number) => void,
  signal?: AbortSignal,
): PartSource {
  async function* parts(): AsyncGenerator<FilePart> {
    const buffer = Buffer.allocUnsafeSlow(Math.min(HASH_READ_BYTES, partSize));
    for (let offset = 0; offset < file.size; offset += partSize) {
      signal?.throwIfAborted();
      const end = Math.min(offset + partSize, file.size);
      const sha256 = await sha256OfRange(file, offset, end, buffer);
      onProgress?.(end);
      yield { file, start: offset, end, sha256 };
    }
  }
  return { parts: parts(), release: () => undefined };
}

/** The same parts read at their offsets into reused part buffers, for clients whose middleware may need the bytes. */
export function bufferedFileParts(
  file: UploadSource,
  partSize: number,
  onProgress?: (bytesSoFar: number) => void,
  signal?: AbortSignal,
): PartSource {
  const pool = new PartBuffers(partSize);
  async function* parts(): AsyncGenerator<Buffer> {
    for (let offset = 0; offset < file.size; offset += partSize) {
      signal?.throwIfAborted();
      const length = Math.min(partSize, file.size - offset);
      const buffer = pool.take();
      await readFully(file, buffer.subarray(0, length), offset);
      onProgress?.(offset + length);
      yield length === partSize ? buffer : buffer.subarray(0, length);
    }
  }
  return { parts: parts(), release: (part) => pool.release(part) };
}

/** How much of a file part is read at a time for its checksum. */
const HASH_READ_BYTES = 1024 * 1024;

/** Reused part buffers: a part handed out belongs to the caller until `release`. */
class PartBuffers {
  readonly #partSize: number;
  readonly #free: Buffer[] = [];

  constructor(partSize: number) {
    this.#partSize = partSize;
  }

  release(part: Buffer | FilePart): void {
    if (Buffer.isBuffer(part)) this.#free.push(Buffer.from(part.buffer, part.byteOffset, this.#partSize));
  }

  take(): Buffer {
    return this.#free.pop() ?? Buffer.allocUnsafeSlow(this.#partSize);
  }
}

/** An async iterator over the body; plain (sync) iterables of chunks, such as arrays, are taken too. */
function iterate(body: Readable | AsyncIterable<Uint8Array> | Iterable<Uint8Array>): AsyncIterator<Uint8Array | string> {
  if (Symbol.asyncIterator in body) return body[Symbol.asyncIterator]();
  return (async function* () {
    yield* body;
  })();
}

function asBytes(chunk: Uint8Array | string): Uint8Array {
  return typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk;
}

function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
