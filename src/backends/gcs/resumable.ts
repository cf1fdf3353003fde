/**
 * Resumable uploads, driven here rather than by the SDK's createWriteStream. The SDK's resumable stream crashes
 * the process with an unhandled 'error' event, and never settles its pipeline, when the response to the final
 * chunk is lost (it re-queries the session, sees fewer bytes than it sent, and emits a RangeError on an internal
 * stream nobody listens to). Here the SDK only opens the session (with the preconditions and metadata); the bytes
 * go up through session.ts. Two sources:
 *
 * - a stream (uploadResumable): one chunk in memory at a time, since bytes the server did not keep must be sent
 *   again and a stream cannot be read twice;
 * - a local file (uploadResumableFile): all but the last few bytes streamed from the file in one request, the
 *   rest in the final request with the CRC32C; after a failure the file is read again from where the session
 *   got. One request instead of one per chunk, and no chunk copied through memory.
 *
 * On any failure the session is cancelled (DELETE), so nothing is committed at the key unless the final request
 * got through: its answer may be lost after the store committed the object, which the caller settles by reading
 * the object back (upload.ts; onFinal tells it when that point is passed). A store that commits a session when
 * asked how far it got (fake-gcs-server) is never asked (status-probe.ts).
 */
import type { Agent } from "node:http";
import type { Readable } from "node:stream";
import type { File, FileMetadata, PreconditionOptions } from "@google-cloud/storage";
import { Crc32c, crc32c, crc32cBase64 } from "../crc32c.ts";
import type { RetryPolicy } from "../retry-policy.ts";
import { FileRangeBody } from "../file-range-body.ts";
import { readFully, readSome, type UploadSource } from "../upload-source.ts";
import { CHUNK_GRANULE, Session } from "./session.ts";

export { ResumableUploadError } from "./session.ts";

/** How much of a file is read at a time while it streams up. */
const READ_BYTES = 1024 * 1024;

export interface ResumableUpload {
  readonly file: File;
  /** Agent with connect and idle time-outs, for the chunk requests. */
  readonly agent: Agent;
  readonly metadata: FileMetadata;
  readonly preconditionOpts?: PreconditionOptions | undefined;
  /** A multiple of 256 KiB. */
  readonly chunkSize: number;
  /** How each request is retried. */
  readonly retry: RetryPolicy;
  /**
   * Whether the store can be asked how far a session got without committing it (status-probe.ts); asked before
   * the session opens. Absent: never ask, so a failed chunk request ends the upload.
   */
  readonly statusQueriesSafe?: (() => Promise<boolean>) | undefined;
  /**
   * Told the whole body's size and CRC32C just before the final request, the only one that can commit the
   * session: a failure before that left nothing at the key, one after it may have committed the object.
   */
  readonly onFinal?: ((body: FinalBody) => void) | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** The body an upload's final request completes: what the committed object must hold. */
export interface FinalBody {
  readonly size: number;
  /** Base64 CRC32C, as GCS reports it. */
  readonly crc32c: string;
}

/** Uploads `body` through a new resumable session; resolves with the committed object's resource. */
export async function uploadResumable(upload: ResumableUpload, body: AsyncIterable<Uint8Array>): Promise<FileMetadata> {
  const session = await openSession(upload);
  const checksum = new Crc32c();
  const chunk = Buffer.allocUnsafe(upload.chunkSize);
  let filled = 0;
  /** Bytes of the body before `chunk`. */
  let offset = 0;
  /** A piece read past a full chunk: proof that more follows. */
  let carry: Uint8Array | undefined;
  try {
    const pieces = body[Symbol.asyncIterator]();
    for (;;) {
      let piece = carry;
      carry = undefined;
      if (piece === undefined) {
        const next = await pieces.next();
        if (next.done === true) break;
        piece = next.value;
        checksum.update(piece);
      }
      const room = upload.chunkSize - filled;
      chunk.set(piece.subarray(0, room), filled);
      filled += Math.min(room, piece.byteLength);
      if (piece.byteLength <= room) continue;
      // The chunk is full and the body goes on: send it as a middle chunk, keep the rest for the next one.
      carry = piece.subarray(room);
      await session.sendMiddle(chunk, offset);
      offset += upload.chunkSize;
      filled = 0;
    }
    const crc = checksum.toBase64();
    upload.onFinal?.({ size: offset + filled, crc32c: crc });
    return await session.sendFinal(chunk.subarray(0, filled), offset, crc);
  } catch (error) {
    await session.cancel();
    throw error;
  }
}

/** A local file open for reading (see upload-source.ts), and who to tell about progress. */
export interface UploadSourceFile extends UploadSource {
  /** Told the number of bytes of the file read so far, as it grows. */
  readonly onProgress?: ((bytesSoFar: number) => void) | undefined;
}

/**
 * Uploads a local file of at least one byte through a new resumable session: bytes [0, split) streamed from the
 * file in one middle request, where `split` is the last multiple of 256 KiB short of the end, then the rest in the
 * final request. A file that shrinks or cannot be read meanwhile fails with InvalidArgumentError and commits nothing.
 */
export async function uploadResumableFile(upload: ResumableUpload, source: UploadSourceFile): Promise<FileMetadata> {
  const split = Math.floor((source.size - 1) / CHUNK_GRANULE) * CHUNK_GRANULE;
  let reported = 0;
  const progress = (offset: number): void => {
    if (offset <= reported) return;
    reported = offset;
    source.onProgress?.(offset);
  };
  const session = await openSession(upload);
  /** Each attempt at the middle request hashes into its own state, so a failed one still winding down cannot
   * touch the checksum of the next. */
  const latest: { attempt?: StreamedRange } = {};
  try {
    if (split > 0) {
      await session.streamMiddle(async (from) => {
        const attempt: StreamedRange = { crc: from === 0 ? 0 : await crcOfFile(source, from, upload.signal), next: from };
        latest.attempt = attempt;
        return readExactly(source, attempt, split, progress);
      }, 0, split);
    }
    const streamed = latest.attempt;
    // The session may have kept the bytes of an attempt that failed before reading its last piece back here.
    let crc = streamed === undefined ? 0 : streamed.next === split ? streamed.crc : await crcOfFile(source, split, upload.signal);
    const last = Buffer.allocUnsafe(source.size - split);
    await readFully(source, last, split);
    crc = crc32c(last, crc);
    progress(source.size);
    const crcBase64 = crc32cBase64(crc);
    upload.onFinal?.({ size: source.size, crc32c: crcBase64 });
    return await session.sendFinal(last, split, crcBase64);
  } catch (error) {
    await session.cancel();
    throw error;
  }
}

/** The bytes one attempt has read so far: their CRC32C from the start of the file, and the next offset. */
interface StreamedRange {
  crc: number;
  next: number;
}

async function openSession(upload: ResumableUpload): Promise<Session> {
  const statusQueries = (await upload.statusQueriesSafe?.()) ?? false;
  const [sessionUri] = await upload.file.createResumableUpload({
    metadata: structuredClone(upload.metadata),
    ...(upload.preconditionOpts === undefined ? {} : { preconditionOpts: upload.preconditionOpts }),
  });
  return new Session(sessionUri, {
    file: upload.file,
    agent: upload.agent,
    contentType: upload.metadata.contentType,
    retry: upload.retry,
    statusQueries,
    signal: upload.signal,
  });
}

/** Bytes [range.next, end) of the file (file-range-body.ts), hashed into `range` as they are read; fails if the
 * file ends sooner. Nothing is read until the stream is consumed. */
function readExactly(source: UploadSourceFile, range: StreamedRange, end: number, progress: (offset: number) => void): Readable {
  return new FileRangeBody(source, range.next, end, {
    pieceBytes: READ_BYTES,
    onPiece: (piece) => {
      range.crc = crc32c(piece, range.crc);
      range.next += piece.byteLength;
      progress(range.next);
    },
  });
}

/** The CRC32C of the file's first `end` bytes. */
async function crcOfFile(source: UploadSourceFile, end: number, signal: AbortSignal | undefined): Promise<number> {
  const buffer = Buffer.allocUnsafe(Math.min(8 * READ_BYTES, end));
  let crc = 0;
  for (let offset = 0; offset < end; ) {
    signal?.throwIfAborted();
    const bytesRead = await readSome(source, buffer.subarray(0, Math.min(buffer.byteLength, end - offset)), offset);
    crc = crc32c(buffer.subarray(0, bytesRead), crc);
    offset += bytesRead;
  }
  return crc;
}
