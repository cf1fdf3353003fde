/**
 * Writing a response body into a file with few, large system calls: chunks (tens of KiB each) are gathered and
 * written with one writev per batch, so a gigabyte costs about a thousand awaited writes, not tens of thousands.
 */
import type { FileHandle } from "node:fs/promises";

/** Bytes gathered before one writev. */
const BATCH_BYTES = 1024 * 1024;

/**
 * Writes every chunk of `body` to `handle`, from `position` on (null: at the end, for a file opened to append).
 * `onChunk` sees each chunk as it arrives (hashing, progress). Resolves with the bytes written; more than `limit`
 * rejects before they are written.
 */
export async function writeBody(
  body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  handle: FileHandle,
  position: number | null,
  onChunk: (bytes: Uint8Array) => void,
  limit = Number.POSITIVE_INFINITY,
): Promise<number> {
  let batch: Uint8Array[] = [];
  let batched = 0;
  let written = 0;
  const flush = async (): Promise<void> => {
    await writeAll(handle, batch, batched, position === null ? null : position + written);
    written += batched;
    batch = [];
    batched = 0;
  };
  for await (const chunk of body) {
    const bytes = chunk;
    if (written + batched + bytes.byteLength > limit) throw new Error(`the answer was longer than the ${limit} bytes asked for`);
    onChunk(bytes);
    batch.push(bytes);
    batched += bytes.byteLength;
    if (batched >= BATCH_BYTES) await flush();
  }
  if (batched > 0) await flush();
  return written;
}

/** One writev of `buffers` (`total` bytes), continued until every byte is written. */
async function writeAll(handle: FileHandle, buffers: Uint8Array[], total: number, position: number | null): Promise<void> {
  let done = 0;
  let rest = buffers;
  while (done < total) {
    const { bytesWritten } = await handle.writev(rest, position === null ? undefined : position + done);
    done += bytesWritten;
    if (done < total) rest = skip(rest, bytesWritten);
  }
}

function skip(buffers: Uint8Array[], count: number): Uint8Array[] {
  let left = count;
  const rest: Uint8Array[] = [];
  for (const buffer of buffers) {
    if (left >= buffer.byteLength) left -= buffer.byteLength;
    else {
      rest.push(left === 0 ? buffer : buffer.subarray(left));
      left = 0;
    }
  }
  return rest;
}
