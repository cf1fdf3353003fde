/**
 * The local file a putFile uploads, on every cloud backend: opened and checked once, read at offsets, with one set
 * of messages. A failure of the file is the caller's (InvalidArgumentError naming it), never a network error to
 * retry.
 */
import { open, type FileHandle } from "node:fs/promises";
import { InvalidArgumentError } from "../errors.ts";

export interface UploadSource {
  readonly handle: FileHandle;
  readonly path: string;
  /** The size when the upload began; a file that shrinks later fails the upload. */
  readonly size: number;
}

/** Opens `localPath` for an upload to `target` (for messages). A folder opens fine on Linux and would fail only
 * at the first read, so anything but a regular file is refused here. Close the handle when done. */
export async function openUploadSource(localPath: string, target: string): Promise<UploadSource> {
  let handle: FileHandle;
  try {
    handle = await open(localPath, "r");
  } catch (error) {
    throw new InvalidArgumentError(`Cannot upload ${localPath} to ${target}: ${(error as Error).message}`, {
      path: localPath,
      cause: error,
    });
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) {
      throw new InvalidArgumentError(`Cannot upload ${localPath} to ${target}: it is not a regular file.`, { path: localPath });
    }
    return { handle, path: localPath, size: info.size };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** Reads into `buffer` from `position`; the count read, never 0 (a file ending before its size fails). */
export async function readSome(source: UploadSource, buffer: Uint8Array, position: number): Promise<number> {
  let bytesRead: number;
  try {
    ({ bytesRead } = await source.handle.read(buffer, 0, buffer.byteLength, position));
  } catch (error) {
    throw new InvalidArgumentError(`Cannot read ${source.path}: ${(error as Error).message}`, { path: source.path, cause: error });
  }
  if (bytesRead === 0 && buffer.byteLength > 0) {
    throw new InvalidArgumentError(
      `${source.path} shrank while it was being uploaded: it ended at ${position} of ${source.size} bytes.`,
      { path: source.path },
    );
  }
  return bytesRead;
}

/** Fills all of `buffer` from `position`. */
export async function readFully(source: UploadSource, buffer: Uint8Array, position: number): Promise<void> {
  for (let filled = 0; filled < buffer.byteLength; ) {
    filled += await readSome(source, buffer.subarray(filled), position + filled);
  }
}

/** All of a (small) file's bytes, in memory. */
export async function readAll(source: UploadSource): Promise<Buffer> {
  const bytes = Buffer.allocUnsafe(source.size);
  await readFully(source, bytes, 0);
  return bytes;
}
