/** Bytes, streams and local files that handlers store exactly as given, in constant memory for streams and files. */
import type { Readable } from "node:stream";
import type { ByteSource, LocalFileSource } from "./data-types.ts";
import type { ArtifactStorage } from "./types.ts";

export function isBytes(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array;
}

export function isByteStream(value: unknown): value is Readable | AsyncIterable<Uint8Array> {
  if (typeof value !== "object" || value === null || value instanceof Uint8Array) return false;
  return typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === "function";
}

export function isLocalFileSource(value: unknown): value is LocalFileSource {
  if (typeof value !== "object" || value === null) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && keys[0] === "file" && typeof (value as { file: unknown }).file === "string";
}

export function isByteSource(value: unknown): value is ByteSource {
  return isBytes(value) || isByteStream(value) || isLocalFileSource(value);
}

/** Stores bytes, a stream or a local file as the artifact's object. */
export async function writeByteSource(source: ByteSource, storage: ArtifactStorage): Promise<void> {
  if (isBytes(source)) await storage.write(source);
  else if (isLocalFileSource(source)) await storage.writeFile(source.file);
  else await storage.writeStream(source);
}

/** A plain Uint8Array view of the same memory (Buffers compare unequal to Uint8Arrays in deep equality). */
export function plainBytes(bytes: Uint8Array): Uint8Array {
  return bytes.constructor === Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The artifact's bytes as a plain Uint8Array. */
export async function readBytes(storage: ArtifactStorage): Promise<Uint8Array> {
  return plainBytes(await storage.read());
}
