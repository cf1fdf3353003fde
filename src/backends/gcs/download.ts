/**
 * Reads: one streamed GET per call, whole (checksum-validated by the SDK) or ranged (the SDK's `end` is
 * inclusive; GCS answers 416 to a range starting at or past the end, which here means "no bytes").
 */
import { PassThrough, Readable } from "node:stream";
import type { File } from "@google-cloud/storage";
import { InvalidArgumentError } from "../../errors.ts";
import type { ByteRange } from "../backend.ts";
import { isRangeNotSatisfiable } from "./errors.ts";

/** Throws InvalidArgumentError unless `range` has a non-negative integer offset and length. */
export function checkRange(range: ByteRange | undefined, location: string): void {
  if (range === undefined) return;
  const { offset, length } = range;
  const lengthOk = length === undefined || (Number.isSafeInteger(length) && length >= 0);
  if (!Number.isSafeInteger(offset) || offset < 0 || !lengthOk) {
    throw new InvalidArgumentError(
      `Invalid byte range ${JSON.stringify(range)} for ${location}: offset and length must be non-negative integers.`,
      { path: location },
    );
  }
}

/**
 * Starts the download and waits for the response, so a missing object fails here and not later on the stream.
 * Stream errors after that are passed through `mapError`. Throws SDK errors as they are.
 */
export async function openRead(
  file: File,
  range: ByteRange | undefined,
  mapError: (error: unknown) => Error,
): Promise<Readable> {
  const span: { start?: number; end?: number } = {};
  if (range !== undefined && range.offset > 0) span.start = range.offset;
  if (range?.length !== undefined) {
    if (range.length === 0) {
      await file.getMetadata(); // still NotFound for a missing object
      return Readable.from([]);
    }
    span.start = range.offset;
    span.end = range.offset + range.length - 1;
  }
  const source = file.createReadStream(span);
  const output = new PassThrough();
  let answered = false;
  try {
    await new Promise<void>((resolve, reject) => {
      source.on("response", (response: { statusCode?: number; status?: number; setMaxListeners?: (n: number) => void }) => {
        // The SDK's layers all listen on this one response stream (more than Node's default of 10), which
        // prints a MaxListenersExceededWarning per download (googleapis/google-cloud-node#9185). Not a leak.
        response.setMaxListeners?.(32);
        // An error status is followed by an 'error' event carrying the parsed message.
        if ((response.statusCode ?? response.status ?? 200) < 300) {
          answered = true;
          resolve();
        }
      });
      source.on("error", (error) => {
        if (answered) output.destroy(mapError(error));
        else reject(error);
      });
      // The SDK sends the request when the stream is first read.
      source.read(0);
    });
  } catch (error) {
    source.destroy();
    if (isRangeNotSatisfiable(error)) return Readable.from([]);
    throw error;
  }
  output.on("close", () => source.destroy());
  source.pipe(output);
  return output;
}
