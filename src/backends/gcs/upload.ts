/**
 * Uploads: one multipart request (one-request-upload.ts) for bodies below the threshold, a resumable upload
 * (resumable.ts) from it on: chunked from a stream, streamed in one request from a local file. The write mode
 * becomes `ifGenerationMatch` (0 = create-only, a generation = compare-and-swap); GCS checks it when the object is
 * committed, so a failed or abandoned upload leaves nothing at the key.
 *
 * Conditional writes and every resumable upload (an overwrite too) carry a writer token (see object-info.ts).
 * When one fails with 412 or in a way that may have landed (a time-out, 5xx after retries, a reset or lost
 * answer to a resumable upload's final request, a session that could not be resumed), the object is read back:
 * if it holds this call's token (and, for a resumable upload, the size and CRC32C of the body sent), the write
 * did happen and the call succeeds; if that read fails too, the outcome is unknown and the call fails TRANSIENT
 * (UnsettledWriteError), never with a guessed 412 meaning. A resumable upload that failed before its final
 * request committed nothing, and fails as it did.
 */
import { randomUUID } from "node:crypto";
import type { Agent } from "node:http";
import type { File, FileMetadata, PreconditionOptions } from "@google-cloud/storage";
import type { WriteMode } from "../backend.ts";
import type { CallerBody } from "../caller-body.ts";
import { isAmbiguousFailure, isNotFound, isPreconditionFailure, UnsettledWriteError } from "./errors.ts";
import { objectResource } from "./json-answer.ts";
import { uploadMetadata, writerTokenOf } from "./object-info.ts";
import { settleConditionalWrite } from "../conditional-write.ts";
import { NO_RETRY, type RetryPolicy } from "../retry-policy.ts";
import { readAll } from "../upload-source.ts";
import { uploadInOneRequest } from "./one-request-upload.ts";
import {
  ResumableUploadError,
  uploadResumable,
  uploadResumableFile,
  type FinalBody,
  type ResumableUpload,
  type UploadSourceFile,
} from "./resumable.ts";

export interface UploadRequest {
  readonly file: File;
  readonly mode: WriteMode;
  readonly contentType?: string | undefined;
  readonly metadata?: Readonly<Record<string, string>> | undefined;
  /** Set for conditional writes; stored as custom metadata. */
  readonly writerToken?: string | undefined;
  readonly resumableThreshold: number;
  readonly chunkSize: number;
  /** For the requests sent without the SDK (one-request uploads, resumable chunks): connect and idle time-outs. */
  readonly agent: Agent;
  readonly retry: RetryPolicy;
  /** For resumable uploads: whether the store can be asked how far a session got (status-probe.ts). */
  readonly statusQueriesSafe?: (() => Promise<boolean>) | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** Writes bytes held in memory. Returns the stored object's resource. */
export async function uploadBytes(request: UploadRequest, bytes: Uint8Array): Promise<FileMetadata> {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buffer.byteLength > 0 && buffer.byteLength >= request.resumableThreshold) {
    return settleResumable(request, (upload) =>
      uploadResumable(
        upload,
        (async function* () {
          yield buffer;
        })(),
      ),
    );
  }
  return settle(request, () =>
    uploadInOneRequest(
      {
        file: request.file,
        agent: request.agent,
        resource: uploadMetadata(request),
        ifGenerationMatch: preconditionOf(request.mode).preconditionOpts?.ifGenerationMatch,
        retry: request.retry,
        signal: request.signal,
      },
      buffer,
    ),
  );
}

export interface StreamUploadOptions {
  /** The body's length when known: a known large body skips the buffering of its first bytes. */
  readonly size?: number | undefined;
}

/**
 * Writes a stream in constant memory: reads up to the threshold; a body that ends there goes up in one request,
 * a longer one through a resumable upload with one chunk in memory at a time.
 */
export async function uploadStream(
  request: UploadRequest,
  body: CallerBody,
  options: StreamUploadOptions = {},
): Promise<FileMetadata> {
  const chunks = body[Symbol.asyncIterator]();
  const head: Uint8Array[] = [];
  let headBytes = 0;
  const knownLarge = options.size !== undefined && options.size > 0 && options.size >= request.resumableThreshold;
  if (!knownLarge) {
    while (headBytes === 0 || headBytes < request.resumableThreshold) {
      const next = await chunks.next();
      if (next.done === true) {
        await chunks.return?.();
        return uploadBytes(request, Buffer.concat(head, headBytes));
      }
      head.push(next.value);
      headBytes += next.value.byteLength;
    }
  }
  async function* rest(): AsyncGenerator<Uint8Array> {
    yield* head.splice(0);
    for (;;) {
      const next = await chunks.next();
      if (next.done === true) return;
      yield next.value;
    }
  }
  return settleResumable(request, (upload) => uploadResumable(upload, rest()), () => body.failure !== undefined);
}

/**
 * Writes a local file: read whole and sent in one request below the threshold, else streamed from the file
 * through a resumable session (resumable.ts), which reads it again from the right offset after a failure.
 */
export async function uploadFile(request: UploadRequest, source: UploadSourceFile): Promise<FileMetadata> {
  if (source.size === 0 || source.size < request.resumableThreshold) {
    const bytes = await readAll(source);
    source.onProgress?.(bytes.byteLength);
    return uploadBytes(request, bytes);
  }
  return settleResumable(request, (upload) => uploadResumableFile(upload, source));
}

/**
 * Runs one resumable upload and settles its failure (see settle). The upload carries a writer token even when
 * it overwrites: the answer to its final request may be lost after the store committed the object, and only
 * the token read back tells that apart from a final request that never arrived.
 */
function settleResumable(
  request: UploadRequest,
  upload: (options: ResumableUpload) => Promise<FileMetadata>,
  callerFailed?: () => boolean,
): Promise<FileMetadata> {
  const tokened = request.writerToken === undefined ? { ...request, writerToken: randomUUID() } : request;
  const sent: SentBody = {};
  const options = { ...resumableOptions(tokened), onFinal: (body: FinalBody) => (sent.final = body) };
  return settle(tokened, () => upload(options), callerFailed, sent);
}

function resumableOptions(request: UploadRequest): ResumableUpload {
  return {
    file: request.file,
    agent: request.agent,
    metadata: uploadMetadata(request),
    preconditionOpts: preconditionOf(request.mode).preconditionOpts,
    chunkSize: request.chunkSize,
    retry: request.retry,
    statusQueriesSafe: request.statusQueriesSafe,
    signal: request.signal,
  };
}

/** The write mode as the SDK's precondition options (none for overwrite). */
export function preconditionOf(mode: WriteMode): { preconditionOpts?: PreconditionOptions } {
  switch (mode.kind) {
    case "overwrite":
      return {};
    case "create":
      return { preconditionOpts: { ifGenerationMatch: 0 } };
    case "replace":
      return { preconditionOpts: { ifGenerationMatch: mode.revision } };
  }
}

/** What settling a conditional write needs: the target, the call's writer token and its abort signal. */
export type SettleTarget = Pick<UploadRequest, "file" | "writerToken" | "signal">;

/** How far a resumable upload got: `final` is set once its final request (the only one that commits) is sent. */
export interface SentBody {
  final?: FinalBody;
}

/**
 * Runs one conditional write (an upload, or a server-side copy that sets the same token) and settles one that
 * failed with 412 or ambiguously by reading the object back (../conditional-write.ts): it counts if it holds our
 * token; when the read fails too, UnsettledWriteError (TRANSIENT). With `sent` (a resumable upload), a failure
 * before the final request is final (nothing was committed), and an object holding our token must also hold
 * the body sent: one that does not fails CORRUPT_DATA rather than count.
 */
export async function settle(
  request: SettleTarget,
  upload: () => Promise<FileMetadata>,
  callerFailed: () => boolean = () => false,
  sent?: SentBody,
): Promise<FileMetadata> {
  const token = request.writerToken;
  const settled = await settleConditionalWrite<FileMetadata>({
    write: upload,
    // A failed body never reaches the commit, nor does a resumable upload that failed before its final request:
    // nothing can have landed.
    classify: (error) =>
      token !== undefined &&
      (isPreconditionFailure(error) || isAmbiguousFailure(error)) &&
      !callerFailed() &&
      (sent === undefined || sent.final !== undefined)
        ? "unknown"
        : "final",
    readBack: async () => {
      let resource: FileMetadata;
      try {
        resource = await objectResource(request.file);
      } catch (error) {
        if (isNotFound(error)) return "absent";
        throw error;
      }
      if (writerTokenOf(resource) !== token) return { theirs: undefined };
      const final = sent?.final;
      const sameBody =
        final === undefined ||
        (Number(resource.size) === final.size && (resource.crc32c === undefined || resource.crc32c === final.crc32c));
      if (!sameBody) {
        throw new ResumableUploadError(
          `The object committed by this upload holds ${String(resource.size)} bytes with CRC32C ` +
            `${String(resource.crc32c)}, not the ${final.size} bytes with CRC32C ${final.crc32c} that were sent.`,
          "FILE_NO_UPLOAD",
        );
      }
      return { ours: resource };
    },
    fatalReadError: (error) => error instanceof ResumableUploadError && error.code === "FILE_NO_UPLOAD",
    retry: NO_RETRY,
    replayable: false,
    signal: request.signal,
  });
  switch (settled.outcome) {
    case "written":
      // Some upload paths return before the resource is known; one read fills it in.
      return settled.value.generation === undefined ? await objectResource(request.file) : settled.value;
    case "unknown":
      throw new UnsettledWriteError(settled.error, settled.readError);
    default:
      throw settled.error;
  }
}
