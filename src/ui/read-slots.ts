/**
 * A fixed number of slots shared by every request of the process: work that holds one runs, the rest waits in
 * arrival order. A waiter whose signal fires leaves the queue at once.
 */
export class ReadSlots {
  readonly #size: number;
  #used = 0;
  readonly #waiting: { readonly start: () => void }[] = [];

  constructor(size: number) {
    this.#size = size;
  }

  /** Runs `work` once a slot is free, unless `signal` fires first (then rejects with its reason, running nothing). */
  async run<T>(signal: AbortSignal | undefined, work: () => Promise<T>): Promise<T> {
    await this.#acquire(signal);
    try {
      return await work();
    } finally {
      this.#release();
    }
  }

  #acquire(signal: AbortSignal | undefined): Promise<void> {
    signal?.throwIfAborted();
    if (this.#used < this.#size) {
      this.#used++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        start: () => {
          signal?.removeEventListener("abort", onAbort);
          this.#used++;
          resolve();
        },
      };
      const onAbort = (): void => {
        const index = this.#waiting.indexOf(waiter);
        if (index >= 0) this.#waiting.splice(index, 1);
        reject(signal?.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiting.push(waiter);
    });
  }

  #release(): void {
    this.#used--;
    this.#waiting.shift()?.start();
  }
}
