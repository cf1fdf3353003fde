/**
 * A range of a local file as a request body, streamed from the file instead of copied into memory first. Piped
 * into a request (S3 parts, GCS session requests), it reads into a few reused buffers and writes each with a
 * callback: a buffer is read into again only once the socket has taken it, so a gigabyte goes up in a fixed
 * few hundred KiB and leaves no garbage behind. (Fresh buffers per read would pile up as external memory, which
 * V8 collects only after tens of MiB of it.)
 *
 * Anything that reads it as a plain Readable instead of piping it gets the same bytes in fresh buffers.
 */
import { createHash } from "node:crypto";
import { Readable, type Writable } from "node:stream";
import { readFully, readSome, type UploadSource } from "./upload-source.ts";

/** Bytes read from the file at a time. */
const PIECE_BYTES = 256 * 1024;
/** Buffers per body: one being written while the next ones are read. */
const PIECES_IN_FLIGHT = 3;

export interface FileRangeBodyOptions {
  /** Sees each piece as it is read, in order, before it is sent (checksums, progress). */
  readonly onPiece?: ((piece: Buffer) => void) | undefined;
  readonly pieceBytes?: number | undefined;
}

/** Bytes [start, end) of `source`. Nothing is read until it is piped or read. */
export class FileRangeBody extends Readable {
  readonly #source: UploadSource;
  readonly #end: number;
  readonly #onPiece: ((piece: Buffer) => void) | undefined;
  readonly #pieceBytes: number;
  #next: number;
  #piped = false;

  constructor(source: UploadSource, start: number, end: number, options: FileRangeBodyOptions = {}) {
    super();
    this.#source = source;
    this.#next = start;
    this.#end = end;
    this.#onPiece = options.onPiece;
    this.#pieceBytes = options.pieceBytes ?? PIECE_BYTES;
  }

  /**
   * Writes the range into `destination` and ends it. A file that cannot be read, or ends early, destroys the
   * destination with the InvalidArgumentError naming it (so the request fails with it). Stops when the
   * destination closes (an abort, a failed request).
   */
  override pipe<T extends NodeJS.WritableStream>(destination: T): T {
    if (this.#piped) throw new Error("a FileRangeBody is piped once");
    this.#piped = true;
    void this.#pump(destination as unknown as Writable);
    return destination;
  }

  async #pump(destination: Writable): Promise<void> {
    const free: Buffer[] = [];
    for (let i = 0; i < PIECES_IN_FLIGHT; i++) free.push(Buffer.allocUnsafeSlow(this.#pieceBytes));
    let wake: (() => void) | undefined;
    let stopped = false;
    const stop = (): void => {
      stopped = true;
      wake?.();
    };
    destination.once("close", stop);
    destination.once("error", stop);
    try {
      while (this.#next < this.#end) {
        while (free.length === 0 && !stopped) await new Promise<void>((resolve) => (wake = resolve));
        const buffer = free.pop();
        if (stopped || buffer === undefined || this.destroyed) return;
        const piece = await this.#readPiece(buffer);
        if (stopped || this.destroyed) return;
        destination.write(piece, (error) => {
          // A buffer the socket may still hold (a failed write) is never read into again.
          if (error === undefined || error === null) free.push(buffer);
          wake?.();
        });
      }
      if (!stopped) destination.end();
    } catch (error) {
      if (!stopped) destination.destroy(error as Error);
    } finally {
      destination.off("close", stop);
      destination.off("error", stop);
      this.destroy();
    }
  }

  override _read(): void {
    if (this.#next >= this.#end) {
      this.push(null);
      return;
    }
    this.#readPiece(Buffer.allocUnsafe(this.#pieceBytes)).then(
      (piece) => this.push(piece),
      (error: unknown) => this.destroy(error as Error),
    );
  }

  /** The next piece of the range into `buffer` (fails like readSome). */
  async #readPiece(buffer: Buffer): Promise<Buffer> {
    const length = Math.min(buffer.byteLength, this.#end - this.#next);
    const bytesRead = await readSome(this.#source, buffer.subarray(0, length), this.#next);
    const piece = buffer.subarray(0, bytesRead);
    this.#next += bytesRead;
    this.#onPiece?.(piece);
    return piece;
  }
}

/** The hex SHA-256 of bytes [start, end) of `source`, read through one reused buffer (fails like readSome). */
export async function sha256OfRange(source: UploadSource, start: number, end: number, buffer: Buffer): Promise<string> {
  const hash = createHash("sha256");
  for (let offset = start; offset < end; ) {
    const piece = buffer.subarray(0, Math.min(buffer.byteLength, end - offset));
    await readFully(source, piece, offset);
    hash.update(piece);
    offset += piece.byteLength;
  }
  return hash.digest("hex");
}
