/**
 * Streaming uploads in constant memory. The first part is read here: a body that ends within one part goes out
 * as a single PutObject (by the caller, with its conflict retries); a longer one goes through lib-storage's
 * Upload, whose params (IfNoneMatch / IfMatch included) reach CompleteMultipartUpload. Whatever fails, the
 * multipart upload is aborted before this returns, so no parts are left behind.
 */
import type { Readable } from "node:stream";
import { Readable as NodeReadable } from "node:stream";
import type { CompleteMultipartUploadCommandOutput, PutObjectCommandInput } from "@aws-sdk/client-s3";
import type { S3Connection } from "./client.ts";
import { loadLibStorage } from "./client.ts";

/** Errors thrown by the caller's body (not by S3): they reach the caller unchanged. */
const bodyErrors = new WeakSet<object>();

export function isBodyError(error: unknown): boolean {
  return typeof error === "object" && error !== null && bodyErrors.has(error);
}

export type FirstPart =
  /** The whole body, which fits in one part. */
  | { readonly kind: "whole"; readonly bytes: Uint8Array }
  /** More than one part: the whole body again, starting with the bytes already read. */
  | { readonly kind: "parts"; readonly body: Readable; readonly bytesRead: () => number };

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
  return { kind: "parts", body: NodeReadable.from(rest(), { objectMode: false }), bytesRead: () => consumed };
}

export interface MultipartUploadRequest {
  readonly connection: S3Connection;
  /** Bucket, Key, ContentType, Metadata and the conditions (IfNoneMatch / IfMatch). */
  readonly params: Omit<PutObjectCommandInput, "Body">;
  readonly body: Readable;
  readonly partSize: number;
  readonly queueSize: number;
}

/** Uploads `body` as a multipart upload; on any failure the upload is aborted before the error is rethrown. */
export async function uploadMultipart(request: MultipartUploadRequest): Promise<CompleteMultipartUploadCommandOutput> {
  const { Upload } = await loadLibStorage();
  const { client, sdk } = request.connection;
  const upload = new Upload({
    client,
    params: { ...request.params, Body: request.body },
    partSize: request.partSize,
    queueSize: request.queueSize,
    leavePartsOnError: false,
  });
  try {
    return await upload.done();
  } catch (error) {
    // lib-storage aborts on failure itself (3.1175 does, also after a 412 at completion; older releases did
    // not). Aborting again is harmless: the store answers NoSuchUpload.
    const uploadId = upload.uploadId;
    if (uploadId !== undefined) {
      await client
        .send(new sdk.AbortMultipartUploadCommand({ Bucket: request.params.Bucket, Key: request.params.Key, UploadId: uploadId }))
        .catch(() => undefined);
    }
    request.body.destroy();
    throw error;
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
