/**
 * One UploadPart whose bytes stream from a range of a local file (file-range-body.ts) instead of a buffer.
 *
 * The SDK does not retry a request whose body is a stream (it cannot be sent twice), and signs such a body as
 * UNSIGNED-PAYLOAD. So the command is given an empty placeholder body, the range's SHA-256 (computed beforehand)
 * as its x-amz-content-sha256 header, which the signer uses as is, and the range's length; only at the end of
 * the SDK's chain, after its retries and signing, each attempt's request gets a fresh stream of the range. The
 * retries, signature, error shapes and the payload check S3 makes are those of a buffered part.
 */
import type { UploadPartCommandInput, UploadPartCommandOutput } from "@aws-sdk/client-s3";
import { FileRangeBody } from "../file-range-body.ts";
import type { UploadSource } from "../upload-source.ts";
import type { S3Connection } from "./client.ts";

/** Bytes [start, end) of a file, with their SHA-256 (hex). */
export interface FilePart {
  readonly file: UploadSource;
  readonly start: number;
  readonly end: number;
  readonly sha256: string;
}

const PLACEHOLDER = new Uint8Array(0);

type PartInput = Omit<UploadPartCommandInput, "Body" | "ContentLength">;

export function sendFilePart(
  connection: S3Connection,
  input: PartInput,
  part: FilePart,
  signal: AbortSignal | undefined,
): Promise<UploadPartCommandOutput> {
  const command = new connection.sdk.UploadPartCommand({ ...input, Body: PLACEHOLDER, ContentLength: part.end - part.start });
  command.middlewareStack.add(
    (next) => async (args) => {
      withHeader(args.request, "x-amz-content-sha256", part.sha256);
      return next(args);
    },
    { step: "build", name: "opencrateFilePartHash" },
  );
  command.middlewareStack.add(
    (next) => async (args) => next({ ...args, request: withBody(args.request, new FileRangeBody(part.file, part.start, part.end)) }),
    { step: "finalizeRequest", priority: "low", name: "opencrateFilePartBody" },
  );
  return connection.client.send(command, { abortSignal: signal });
}

interface HttpRequestLike {
  headers: Record<string, string>;
  body?: unknown;
}

function isHttpRequest(request: unknown): request is HttpRequestLike {
  return typeof request === "object" && request !== null && "headers" in request && typeof request.headers === "object";
}

function withHeader(request: unknown, name: string, value: string): void {
  if (!isHttpRequest(request)) throw new Error("UploadPart was not serialized as an HTTP request");
  request.headers[name] = value;
}

/** A copy of the signed request with `body` (the SDK keeps its own, so a retry starts from the placeholder). */
function withBody(request: unknown, body: FileRangeBody): unknown {
  if (!isHttpRequest(request)) throw new Error("UploadPart was not serialized as an HTTP request");
  return Object.assign(Object.create(Object.getPrototypeOf(request) as object) as object, request, { body });
}
