/**
 * Whether a run's version was deleted under it by another process (`reset()`): one word of shared memory, so the
 * log-writer thread, which finds it out from its writes, and the main thread, whose saves it stops, read one answer.
 */
export class VersionDeletedMark {
  readonly buffer: SharedArrayBuffer;
  readonly #word: Int32Array;

  /** A mark of its own, or the one `buffer` (another thread's mark's) holds. */
  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT)) {
    this.buffer = buffer;
    this.#word = new Int32Array(buffer);
  }

  get isSet(): boolean {
    return Atomics.load(this.#word, 0) === 1;
  }

  /** Sets the mark; true for the one call that set it. */
  set(): boolean {
    return Atomics.compareExchange(this.#word, 0, 0, 1) === 0;
  }
}

/** The claim the run's version had when the run set up: `key`, holding `token`. */
export interface ClaimAtSetup {
  readonly key: string;
  readonly token: string;
}
