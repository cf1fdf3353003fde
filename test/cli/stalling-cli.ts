/**
 * The CLI with a slow backend: every object stream (local, S3, GCS) passes STALL_AFTER_BYTES bytes in all, then
 * stops sending until the process is killed. Tests start it (startCli's `main`) to interrupt a pull mid-file
 * deterministically: a partial file that stops growing is there to be killed, however fast the disk or server.
 */
import type { Readable } from "node:stream";
import { Readable as ReadableStream } from "node:stream";
import type { ReadOptions } from "../../src/backends/backend.ts";
import { GcsBackend } from "../../src/backends/gcs/index.ts";
import { LocalBackend } from "../../src/backends/local/index.ts";
import { S3Backend } from "../../src/backends/s3/index.ts";

const budget = Number(process.env.STALL_AFTER_BYTES);
if (!Number.isSafeInteger(budget) || budget < 0) throw new Error(`STALL_AFTER_BYTES must be a byte count, not ${process.env.STALL_AFTER_BYTES}`);
let passed = 0;

async function* stalling(stream: Readable): AsyncGenerator<Uint8Array> {
  for await (const chunk of stream) {
    // A timer (unlike a bare pending promise) keeps the process alive while it waits to be killed.
    while (passed >= budget) await new Promise((resolve) => setTimeout(resolve, 60_000));
    passed += (chunk as Uint8Array).byteLength;
    yield chunk as Uint8Array;
  }
}

for (const backendClass of [LocalBackend, S3Backend, GcsBackend]) {
  const original = backendClass.prototype.getStream;
  backendClass.prototype.getStream = async function (this: InstanceType<typeof backendClass>, key: string, options?: ReadOptions) {
    return ReadableStream.from(stalling(await original.call(this, key, options)));
  };
}

await import("../../src/cli/main.ts");
