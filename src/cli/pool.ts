/** Items whose calls cost more (more sockets and buffers each): at most `limit` of them run at once. */
export interface HeavyItems<T> {
  readonly isHeavy: (item: T) => boolean;
  readonly limit: number;
}

/**
 * Runs `work` over `items` with at most `limit` calls in flight, and at most `heavy.limit` of them on heavy items;
 * results keep the items' order. A free slot goes to the next heavy item while the heavy ones are under their limit
 * (long calls start early), else to the next light one, so light items fill the slots heavy ones may not take.
 *
 * `items` may arrive over time (an async iterable, such as a listing read page by page): calls start as soon as
 * items come. When the iterable or a call fails, no further call starts and the iterable is not read further; the
 * calls under way finish, and then this rejects with the first failure.
 */
export async function mapWithConcurrency<T, R>(
  items: readonly T[] | AsyncIterable<T>,
  limit: number,
  work: (item: T, index: number) => Promise<R>,
  heavy?: HeavyItems<T>,
): Promise<R[]> {
  const queue = new ItemQueue<T>(heavy);
  const results: R[] = [];
  let failure: { readonly error: unknown } | undefined;
  let heavyRunning = 0;
  const heavyLimit = Math.max(1, heavy?.limit ?? limit);

  const feeding: Promise<void> | void = Array.isArray(items)
    ? queue.addAll(items)
    : (async () => {
        try {
          for await (const item of items as AsyncIterable<T>) {
            if (failure !== undefined) break;
            queue.add(item);
          }
        } catch (error) {
          failure ??= { error };
        } finally {
          queue.end();
        }
      })();

  const worker = async (): Promise<void> => {
    for (;;) {
      if (failure !== undefined) return;
      const next = queue.take(heavyRunning < heavyLimit);
      if (next === "wait") {
        await queue.more();
        continue;
      }
      if (next === undefined) return;
      if (next.heavy) heavyRunning += 1;
      try {
        results[next.index] = await work(next.item, next.index);
      } catch (error) {
        failure ??= { error };
        return;
      } finally {
        if (next.heavy) heavyRunning -= 1;
      }
    }
  };
  const workers = Array.isArray(items) ? Math.min(limit, items.length) : limit;
  await Promise.all([feeding, ...Array.from({ length: workers }, worker)]);
  if (failure !== undefined) throw failure.error;
  return results;
}

interface Queued<T> {
  readonly item: T;
  readonly index: number;
  readonly heavy: boolean;
}

/** Items in arrival order, split into heavy and light; `take` waits for more until `end`. */
class ItemQueue<T> {
  readonly #heavyOf: HeavyItems<T> | undefined;
  readonly #heavy: Queued<T>[] = [];
  readonly #light: Queued<T>[] = [];
  #heavyNext = 0;
  #lightNext = 0;
  #ended = false;
  #waiting: (() => void)[] = [];

  constructor(heavyOf: HeavyItems<T> | undefined) {
    this.#heavyOf = heavyOf;
  }

  add(item: T): void {
    const heavy = this.#heavyOf?.isHeavy(item) === true;
    const index = this.#heavy.length + this.#light.length;
    (heavy ? this.#heavy : this.#light).push({ item, index, heavy });
    this.#wake();
  }

  addAll(items: readonly T[]): void {
    for (const item of items) this.add(item);
    this.end();
  }

  end(): void {
    this.#ended = true;
    this.#wake();
  }

  /**
   * The next item to run: a heavy one while `heavyAllowed`, else a light one. "wait" while more may come; undefined
   * once nothing is left for this caller (heavy items left over go to the callers holding the heavy slots).
   */
  take(heavyAllowed: boolean): Queued<T> | "wait" | undefined {
    if (heavyAllowed && this.#heavyNext < this.#heavy.length) return this.#heavy[this.#heavyNext++];
    if (this.#lightNext < this.#light.length) return this.#light[this.#lightNext++];
    return this.#ended ? undefined : "wait";
  }

  /** Resolves once an item came or the items ended. */
  more(): Promise<void> {
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  #wake(): void {
    for (const resolve of this.#waiting.splice(0)) resolve();
  }
}
