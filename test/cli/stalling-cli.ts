/**
 * The CLI with a slow backend: every object stream (local, S3, GCS) passes STALL_AFTER_BYTES bytes in all, then
 * stops sending until the process is killed or the read is aborted. Tests start it (startCli's `main`) to interrupt
 * a pull mid-file deterministically: a partial file that stops growing is there to be killed, however fast the disk
 * or server. Once the budget is spent, a read opened later is answered only when its signal fires (an answer that
 * comes just as the pull is interrupted). A stalled stream fails with its signal's reason once the read is aborted,
 * as a network read does when its request is aborted.
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

/** Resolves once `signal` fires; never without one. A timer (unlike a bare pending promise) keeps the process alive
 * while it waits to be killed. */
function untilAborted(signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted === true) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setInterval(() => {}, 60_000);
    signal?.addEventListener(
      "abort",
      () => {
        clearInterval(timer);
        resolve();
      },
      { once: true },
    );
  });
}

async function* stalling(stream: Readable, signal: AbortSignal | undefined): AsyncGenerator<Uint8Array> {
  for await (const chunk of stream) {
    if (passed >= budget) {
      await untilAborted(signal);
      throw signal?.reason;
    }
    passed += (chunk as Uint8Array).byteLength;
    yield chunk as Uint8Array;
  }
}

for (const backendClass of [LocalBackend, S3Backend, GcsBackend]) {
  const original = backendClass.prototype.getStream;
  backendClass.prototype.getStream = async function (this: InstanceType<typeof backendClass>, key: string, options?: ReadOptions) {
    const inner = await original.call(this, key, options);
    // The stalling reader may never start: the store's stream goes with the one handed out, and its errors reach the
    // reader (or no one) through the loop below.
    inner.on("error", () => {});
    if (passed >= budget) await untilAborted(options?.signal);
    const outer = ReadableStream.from(stalling(inner, options?.signal));
    outer.once("close", () => inner.destroy());
    return outer;
  };
}

await import("../../src/cli/main.ts");
