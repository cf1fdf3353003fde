/**
 * Appending to an S3 object without sending it again: a multipart upload whose first part is a server-side copy
 * of the current object (UploadPartCopy pinned to its ETag by CopySourceIfMatch) and whose last part is the new
 * bytes, completed with If-Match: <ETag>. A writer that replaces the object meanwhile makes the copy or the
 * completion fail with 412, so the append never overwrites it. On any failure the upload is aborted.
 *
 * S3 wants every part but the last to be at least 5 MiB ({@link S3_MIN_PART_SIZE}), so the object must be that
 * large; the caller rewrites smaller ones. Objects above 5 GiB are copied in equal parts of at most 5 GiB.
 */
import type { CompleteMultipartUploadCommandOutput, CompletedPart } from "@aws-sdk/client-s3";
import type { S3Connection } from "./client.ts";
import { type CopiedHeaders, copySource, inMultipartUpload } from "./multipart-copy.ts";
import { S3_MAX_PART_SIZE } from "./options.ts";

export interface PartCopyAppendRequest {
  readonly connection: S3Connection;
  readonly bucket: string;
  readonly objectKey: string;
  /** The object's ETag and size, from a HEAD just before. */
  readonly revision: string;
  readonly size: number;
  readonly bytes: Uint8Array;
  /** Headers and user metadata of the object after the append (a multipart upload does not carry them over). */
  readonly headers: CopiedHeaders;
  readonly signal?: AbortSignal | undefined;
}

export async function appendByPartCopy(request: PartCopyAppendRequest): Promise<CompleteMultipartUploadCommandOutput> {
  const { client, sdk } = request.connection;
  return inMultipartUpload(request, request.objectKey, async ({ target, UploadId, send }) => {
    const parts: CompletedPart[] = [];
    for (const range of equalRanges(request.size)) {
      const PartNumber = parts.length + 1;
      const output = await client.send(
        new sdk.UploadPartCopyCommand({
          ...target,
          UploadId,
          PartNumber,
          CopySource: copySource(request.bucket, request.objectKey),
          CopySourceIfMatch: request.revision,
          ...(range === undefined ? {} : { CopySourceRange: `bytes=${range.start}-${range.end}` }),
        }),
        send,
      );
      parts.push({ PartNumber, ETag: output.CopyPartResult?.ETag });
    }
    const PartNumber = parts.length + 1;
    const last = await client.send(
      new sdk.UploadPartCommand({ ...target, UploadId, PartNumber, Body: request.bytes, ContentLength: request.bytes.byteLength }),
      send,
    );
    parts.push({ PartNumber, ETag: last.ETag });
    return await client.send(
      new sdk.CompleteMultipartUploadCommand({ ...target, IfMatch: request.revision, UploadId, MultipartUpload: { Parts: parts } }),
      send,
    );
  });
}

/** Inclusive byte ranges of at most 5 GiB and as equal as can be, so none is below 5 MiB when `size` is not;
 * one undefined range (the whole object) when it fits in one part. */
function equalRanges(size: number): ({ start: number; end: number } | undefined)[] {
  const count = Math.ceil(size / S3_MAX_PART_SIZE);
  if (count <= 1) return [undefined];
  const length = Math.ceil(size / count);
  const ranges: { start: number; end: number }[] = [];
  for (let start = 0; start < size; start += length) ranges.push({ start, end: Math.min(size, start + length) - 1 });
  return ranges;
}
