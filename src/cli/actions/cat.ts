/** What `opencrate cat` does: streams one artifact's bytes to stdout; binary bytes never go to a terminal unasked. */
import { InvalidArgumentError } from "../../errors.ts";
import { writeData } from "../format.ts";
import { resolveArtifact } from "../targets.ts";

export interface CatOptions {
  readonly force?: boolean;
}

export async function runCat(uri: string, options: CatOptions): Promise<void> {
  const { backend, key } = await resolveArtifact(uri);
  const stream = await backend.getStream(key);
  const checkFirst = process.stdout.isTTY === true && options.force !== true;
  let first = true;
  for await (const chunk of stream) {
    if (first && checkFirst && looksBinary(chunk as Uint8Array)) {
      stream.destroy();
      throw new InvalidArgumentError(
        `${backend.describe(key)} is a binary file; not writing it to the terminal: redirect it (> file) or pass --force.`,
        { path: backend.describe(key) },
      );
    }
    first = false;
    await writeData(chunk as Uint8Array);
  }
}

const SAMPLE_BYTES = 8192;

/** As git and grep decide: a NUL byte, or bytes that are not UTF-8, in the first 8 KiB. */
function looksBinary(bytes: Uint8Array): boolean {
  const sample = bytes.subarray(0, SAMPLE_BYTES);
  if (sample.includes(0)) return true;
  try {
    // A multi-byte character cut at the sample's end is not a reason to call the file binary.
    new TextDecoder("utf-8", { fatal: true }).decode(sample.subarray(0, sample.byteLength - trailingPartial(sample)));
    return false;
  } catch {
    return true;
  }
}

/** How many bytes at the end start a UTF-8 character that the sample cuts off (0 to 3). */
function trailingPartial(sample: Uint8Array): number {
  for (let back = 1; back <= Math.min(3, sample.byteLength); back++) {
    const byte = sample[sample.byteLength - back] ?? 0;
    if ((byte & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead
    const length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return length > back ? back : 0;
  }
  return 0;
}
