/** ObjectInfo from S3 responses. */
import type { ObjectInfo } from "../backend.ts";

import { WRITER_TOKEN_KEY } from "../conditional-write.ts";

export { WRITER_TOKEN_KEY };

/** What HeadObject / GetObject return that ObjectInfo needs. */
export interface S3ObjectHeaders {
  readonly ContentLength?: number | undefined;
  readonly LastModified?: Date | undefined;
  readonly ETag?: string | undefined;
  readonly Metadata?: Record<string, string> | undefined;
  readonly ServerSideEncryption?: string | undefined;
  readonly SSECustomerAlgorithm?: string | undefined;
}

export function infoFromHeaders(key: string, headers: S3ObjectHeaders): ObjectInfo {
  const revision = headers.ETag ?? "";
  const checksum = md5Checksum(revision, headers);
  return {
    key,
    size: headers.ContentLength ?? 0,
    lastModified: headers.LastModified ?? new Date(0),
    revision,
    ...(checksum === undefined ? {} : { checksum }),
    metadata: userMetadata(headers.Metadata),
  };
}

/**
 * A listing entry (ListObjectsV2 Contents). Listings carry no metadata and no encryption details, so the MD5 a
 * single-part ETag looks like is only tentative: it is wrong for SSE-KMS/SSE-C objects, which only head() can tell.
 */
export function infoFromListing(
  key: string,
  entry: { readonly Size?: number | undefined; readonly LastModified?: Date | undefined; readonly ETag?: string | undefined },
): ObjectInfo {
  const revision = entry.ETag ?? "";
  const md5 = singlePartMd5(revision);
  return {
    key,
    size: entry.Size ?? 0,
    lastModified: entry.LastModified ?? new Date(0),
    revision,
    ...(md5 === undefined ? {} : { checksum: { algorithm: "md5", value: md5, tentative: true } }),
  };
}

/** The writer token stored with an object, if any. */
export function writerTokenOf(metadata: Record<string, string> | undefined): string | undefined {
  if (metadata === undefined) return undefined;
  for (const [name, value] of Object.entries(metadata)) {
    if (name.toLowerCase() === WRITER_TOKEN_KEY) return value;
  }
  return undefined;
}

/** User metadata with lower-case keys, without opencrate's own writer token. */
export function userMetadata(metadata: Record<string, string> | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(metadata ?? {})) {
    const lower = name.toLowerCase();
    if (lower !== WRITER_TOKEN_KEY) result[lower] = value;
  }
  return result;
}

/** The ETag is the body's MD5 only for single-part uploads stored without SSE-KMS or SSE-C. */
function md5Checksum(etag: string, headers: S3ObjectHeaders): ObjectInfo["checksum"] {
  const md5 = singlePartMd5(etag);
  if (md5 === undefined) return undefined;
  if (headers.SSECustomerAlgorithm !== undefined) return undefined;
  if (headers.ServerSideEncryption !== undefined && headers.ServerSideEncryption.startsWith("aws:kms")) return undefined;
  return { algorithm: "md5", value: md5 };
}

/** The hex of a single-part upload's ETag ("<32 hex>", quoted); a multipart ETag ends in "-<parts>". */
function singlePartMd5(etag: string): string | undefined {
  return /^"([0-9a-f]{32})"$/.exec(etag)?.[1];
}
