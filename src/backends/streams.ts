/** Small stream helpers shared by backends and handlers. */

/** Reads a stream or async iterable to the end into one buffer. */
export async function collectBytes(body: AsyncIterable<Uint8Array | string>): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    const buffer = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    chunks.push(buffer);
    total += buffer.byteLength;
  }
  return Buffer.concat(chunks, total);
}

/** Encodes a string body as UTF-8; passes bytes through. */
export function toBytes(body: Uint8Array | string): Uint8Array {
  return typeof body === "string" ? Buffer.from(body, "utf8") : body;
}
