/**
 * Server-side copy through a multipart upload: CreateMultipartUpload, UploadPartCopy for each byte range of the
 * source, CompleteMultipartUpload. Used for sources too large for CopyObject (over 5 GiB) and for conditional
 * copies: S3 checks If-None-Match / If-Match on CompleteMultipartUpload, whereas MinIO and moto silently ignore
 * them on CopyObject. Every part is pinned to the source's ETag (CopySourceIfMatch), so a source replaced
 * mid-copy fails the copy instead of mixing two versions. On any failure no further part starts, the parts in
 * flight settle, and only then is the upload aborted, so no part lands in an upload already aborted.
 */
import type { CompleteMultipartUploadCommandOutput, CompletedPart } from "@aws-sdk/client-s3";
import type { S3Connection } from "./client.ts";
import { isPreconditionFailed, sourceChangedDuringCopy } from "./errors.ts";
import { S3_MAX_PARTS } from "./options.ts";

export interface MultipartCopyRequest {
  readonly connection: S3Connection;
  readonly bucket: string;
  readonly sourceKey: string;
  /** The source's ETag and size, from a HEAD just before. */
  readonly sourceRevision: string;
  readonly sourceSize: number;
  readonly targetKey: string;
  /** Headers and user metadata for the new object (a multipart copy does not carry the source's over). */
  readonly headers: CopiedHeaders;
  readonly conditions: { readonly IfNoneMatch?: string; readonly IfMatch?: string };
  readonly partSize: number;
  readonly concurrency: number;
  readonly signal?: AbortSignal | undefined;
}

export interface CopiedHeaders {
  readonly ContentType?: string | undefined;
  readonly ContentEncoding?: string | undefined;
  readonly ContentDisposition?: string | undefined;
  readonly ContentLanguage?: string | undefined;
  readonly CacheControl?: string | undefined;
  readonly Metadata?: Record<string, string> | undefined;
}

/** The open upload {@link inMultipartUpload} hands to its parts. */
export interface OpenUpload {
  readonly target: { readonly Bucket: string; readonly Key: string };
  readonly UploadId: string | undefined;
  readonly send: { readonly abortSignal: AbortSignal | undefined };
}

/** Opens a multipart upload of `key` with `headers` and runs `fill` (parts and completion); aborts it when that fails. */
export async function inMultipartUpload<T>(
  request: { readonly connection: S3Connection; readonly bucket: string; readonly headers: CopiedHeaders; readonly signal?: AbortSignal | undefined },
  key: string,
  fill: (upload: OpenUpload) => Promise<T>,
): Promise<T> {
  const { client, sdk } = request.connection;
  const target = { Bucket: request.bucket, Key: key };
  const send = { abortSignal: request.signal };
  const { UploadId } = await client.send(new sdk.CreateMultipartUploadCommand({ ...target, ...request.headers }), send);
  try {
    return await fill({ target, UploadId, send });
  } catch (error) {
    await client.send(new sdk.AbortMultipartUploadCommand({ ...target, UploadId })).catch(() => undefined);
    throw error;
  }
}

export async function multipartCopy(request: MultipartCopyRequest): Promise<CompleteMultipartUploadCommandOutput> {
  const { client, sdk } = request.connection;
  return inMultipartUpload(request, request.targetKey, async ({ target, UploadId, send }) => {
    const ranges = partRanges(request.sourceSize, request.partSize);
    const parts: CompletedPart[] = new Array<CompletedPart>(ranges.length);
    let nextIndex = 0;
    let failure: { readonly error: unknown } | undefined;
    const worker = async (): Promise<void> => {
      while (failure === undefined && nextIndex < ranges.length) {
        const index = nextIndex++;
        const range = ranges[index];
        const output = await client
          .send(
            new sdk.UploadPartCopyCommand({
              ...target,
              UploadId,
              PartNumber: index + 1,
              CopySource: copySource(request.bucket, request.sourceKey),
              CopySourceIfMatch: request.sourceRevision,
              ...(range === undefined ? {} : { CopySourceRange: `bytes=${range.start}-${range.end}` }),
            }),
            send,
          )
          .catch((error: unknown) => {
            // Here a 412 is about CopySourceIfMatch (the source), not about the target.
            failure ??= { error: isPreconditionFailed(error) ? sourceChangedDuringCopy(error) : error };
            return undefined;
          });
        if (output !== undefined) parts[index] = { PartNumber: index + 1, ETag: output.CopyPartResult?.ETag };
      }
    };
    const workers = Math.min(request.concurrency, Math.max(1, ranges.length));
    // Workers never reject: each stops at the first failure, so every part in flight has settled here.
    await Promise.all(Array.from({ length: workers }, worker));
    if (failure !== undefined) throw failure.error;
    return await client.send(
      new sdk.CompleteMultipartUploadCommand({ ...target, ...request.conditions, UploadId, MultipartUpload: { Parts: parts } }),
      send,
    );
  });
}

/** `bucket/key` with each key segment URL-encoded, as CopySource wants it. */
export function copySource(bucket: string, key: string): string {
  return `${bucket}/${key.split("/").map(encodeURIComponent).join("/")}`;
}

/** Inclusive byte ranges; one undefined range (the whole object) when it fits in one part or is empty. */
export function partRanges(size: number, partSize: number): ({ start: number; end: number } | undefined)[] {
  const effective = Math.max(partSize, Math.ceil(size / S3_MAX_PARTS));
  if (size <= effective) return [undefined];
  const ranges: { start: number; end: number }[] = [];
  for (let start = 0; start < size; start += effective) ranges.push({ start, end: Math.min(size, start + effective) - 1 });
  return ranges;
}
