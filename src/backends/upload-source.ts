/**
 * The local file a putFile uploads, on every cloud backend: opened and checked once, read at offsets, with one set
 * of messages. A failure of the file is the caller's (InvalidArgumentError naming it), never a network error to
 * retry.
 */
import { open, stat, type FileHandle } from "node:fs/promises";
import { InvalidArgumentError } from "../errors.ts";

export interface UploadSource {
  readonly handle: FileHandle;
  readonly path: string;
  /** The size when the upload began; a file that shrinks later fails the upload. */
  readonly size: number;
}

/**
 * Opens `localPath` for an upload to `target` (for messages). Anything but a regular file is refused before it is
 * opened: a folder would open fine on Linux and fail only at the first read, and opening a named pipe with no
 * writer would block for ever. Close the handle when done.
 */
export async function openUploadSource(localPath: string, target: string): Promise<UploadSource> {
  const refused = (reason: string, cause?: unknown): InvalidArgumentError =>
    new InvalidArgumentError(`Cannot upload ${localPath} to ${target}: ${reason}`, { path: localPath, cause });
  try {
    if (!(await stat(localPath)).isFile()) throw refused("it is not a regular file.");
    const handle = await open(localPath, "r");
    try {
      return { handle, path: localPath, size: (await handle.stat()).size };
    } catch (error) {
      await handle.close();
      throw error;
    }
  } catch (error) {
    if (error instanceof InvalidArgumentError) throw error;
    throw refused((error as Error).message, error);
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

/** Bytes [start, end) of the file in pieces of at most `pieceBytes`, each a fresh buffer (a request may still hold
 * the previous ones); fails like readSome. */
export async function* readPieces(source: UploadSource, start = 0, end = source.size, pieceBytes = 1024 * 1024): AsyncGenerator<Buffer> {
  for (let offset = start; offset < end; ) {
    const buffer = Buffer.allocUnsafe(Math.min(pieceBytes, end - offset));
    const bytesRead = await readSome(source, buffer, offset);
    offset += bytesRead;
    yield buffer.subarray(0, bytesRead);
  }
}
