/** Deterministic pseudo-random data made on the fly (never held whole), and a peak-RSS sampler. */
import { createCipheriv, createHash, type Hash } from "node:crypto";

/** `totalBytes` of deterministic bytes in `chunkBytes` chunks (an AES-CTR keystream), hashed as they go out. */
export async function* deterministicChunks(
  totalBytes: number,
  chunkBytes: number,
  hash: Hash,
  onChunk: () => void = () => {},
): AsyncGenerator<Uint8Array> {
  const cipher = createCipheriv("aes-128-ctr", Buffer.alloc(16, 7), Buffer.alloc(16, 0));
  const zeros = Buffer.alloc(chunkBytes);
  for (let sent = 0; sent < totalBytes; ) {
    const size = Math.min(chunkBytes, totalBytes - sent);
    // A fresh buffer per chunk: a backend may still hold the previous one in its queue.
    const chunk = cipher.update(size === chunkBytes ? zeros : zeros.subarray(0, size));
    hash.update(chunk);
    sent += size;
    onChunk();
    yield chunk;
  }
}

export function sha256(): Hash {
  return createHash("sha256");
}

/** Tracks the highest resident set size seen, by a timer and by explicit `sample()` calls. */
export class PeakRss {
  readonly baseline = process.memoryUsage.rss();
  #peak = this.baseline;
  readonly #timer = setInterval(() => this.sample(), 10).unref();

  sample(): void {
    const rss = process.memoryUsage.rss();
    if (rss > this.#peak) this.#peak = rss;
  }

  /** Stops sampling and returns the growth over the baseline, in bytes. */
  stop(): number {
    clearInterval(this.#timer);
    this.sample();
    return this.#peak - this.baseline;
  }
}
