/** GCS object resources to ObjectInfo, and the custom metadata a write sends. */
import type { FileMetadata } from "@google-cloud/storage";
import type { ObjectInfo } from "../backend.ts";

import { WRITER_TOKEN_KEY } from "../conditional-write.ts";

/** The writer token (see ../conditional-write.ts) is hidden from ObjectInfo.metadata. */
export { WRITER_TOKEN_KEY };

export function toObjectInfo(key: string, resource: FileMetadata): ObjectInfo {
  const checksum = checksumOf(resource);
  const crc32c = checksum?.algorithm === "md5" ? crc32cOf(resource) : undefined;
  const metadata = userMetadataOf(resource);
  return {
    key,
    size: Number(resource.size ?? 0),
    lastModified: new Date(resource.updated ?? resource.timeCreated ?? 0),
    revision: String(resource.generation ?? ""),
    ...(checksum === undefined ? {} : { checksum }),
    ...(crc32c === undefined ? {} : { crc32c }),
    ...(metadata === undefined ? {} : { metadata }),
  };
}

/** The writer token stored on an object, if a conditional write of this library put one there. */
export function writerTokenOf(resource: FileMetadata): string | undefined {
  const value = resource.metadata?.[WRITER_TOKEN_KEY];
  return typeof value === "string" ? value : undefined;
}

/** The `metadata` part of an upload request: content type, user metadata and the writer token. */
export function uploadMetadata(options: {
  readonly contentType?: string | undefined;
  readonly metadata?: Readonly<Record<string, string>> | undefined;
  readonly writerToken?: string | undefined;
}): FileMetadata {
  const custom: Record<string, string> = {};
  for (const [name, value] of Object.entries(options.metadata ?? {})) custom[name.toLowerCase()] = value;
  if (options.writerToken !== undefined) custom[WRITER_TOKEN_KEY] = options.writerToken;
  return {
    // Always set: the SDK would guess one from the name for single-request uploads only, so the type would
    // depend on the body's size.
    contentType: options.contentType ?? "application/octet-stream",
    ...(Object.keys(custom).length === 0 ? {} : { metadata: custom }),
  };
}

/** The user metadata an object carries (lower-case keys), without the writer token; undefined when none. */
export function userMetadataOf(resource: FileMetadata): Readonly<Record<string, string>> | undefined {
  const entries = Object.entries(resource.metadata ?? {}).filter(
    (entry): entry is [string, string | number | boolean] => entry[1] !== null && entry[0] !== WRITER_TOKEN_KEY,
  );
  if (entries.length === 0) return undefined;
  return Object.fromEntries(entries.map(([name, value]) => [name.toLowerCase(), String(value)]));
}

function checksumOf(resource: FileMetadata): ObjectInfo["checksum"] {
  // Composite objects have no MD5; every object has a CRC32C. Both arrive base64-encoded.
  if (typeof resource.md5Hash === "string" && resource.md5Hash !== "") {
    return { algorithm: "md5", value: Buffer.from(resource.md5Hash, "base64").toString("hex") };
  }
  const crc32c = crc32cOf(resource);
  return crc32c === undefined ? undefined : { algorithm: "crc32c", value: crc32c };
}

function crc32cOf(resource: FileMetadata): string | undefined {
  return typeof resource.crc32c === "string" && resource.crc32c !== "" ? Buffer.from(resource.crc32c, "base64").toString("hex") : undefined;
}
