/**
 * Hashes a file being written in parallel ranges in the order of its bytes while later ranges still arrive: each
 * range, once written, is read back (from the page cache) and fed to the hash as soon as every range before it has
 * been. MD5 and SHA-256 cannot be combined from parts, so this spares reading the whole file back once the last
 * range is in: on a download held back by the network the hashing is done by then. Every range is read back through
 * the same buffer.
 */
import { type ContentHash, hashFile, hashReadBuffer } from "./content-check.ts";

export class InOrderHash {
  readonly #hash: ContentHash;
  readonly #path: string;
  readonly #ranges: readonly { readonly start: number; readonly end: number }[];
  readonly #finished = new Set<number>();
  #next = 0;
  #chain: Promise<void> = Promise.resolve();
  /** One read buffer for every range: they are hashed one after another. */
  #buffer: Buffer | undefined;

  /** `path` names the file the ranges are written to (opened again to read them back). */
  constructor(hash: ContentHash, path: string, ranges: readonly { readonly start: number; readonly end: number }[]) {
    this.#hash = hash;
    this.#path = path;
    this.#ranges = ranges;
  }

  /** Range `index` is in the file; it is hashed once every range before it is. */
  finished(index: number): void {
    this.#finished.add(index);
    for (let range = this.#ranges[this.#next]; range !== undefined && this.#finished.has(this.#next); range = this.#ranges[this.#next]) {
      const { start, end } = range;
      this.#chain = this.#chain.then(() => hashFile(this.#path, this.#hash, start, end - start, (this.#buffer ??= hashReadBuffer())));
      this.#next += 1;
    }
    this.#chain.catch(() => {}); // awaited by digest(); a failure meanwhile must not count as unhandled
  }

  /** The hex digest once every range is hashed; undefined when some range never finished. */
  async digest(): Promise<string | undefined> {
    await this.#chain;
    return this.#next === this.#ranges.length ? this.#hash.digest() : undefined;
  }

  /** Waits for reads under way (before the file is removed or renamed). */
  async settle(): Promise<void> {
    await this.#chain.catch(() => {});
  }
}
