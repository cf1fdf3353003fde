/** Items whose calls cost more (more sockets and buffers each): at most `limit` of them run at once. */
export interface HeavyItems<T> {
  readonly isHeavy: (item: T) => boolean;
  readonly limit: number;
}

/**
 * Runs `work` over `items` with at most `limit` calls in flight, and at most `heavy.limit` of them on heavy items;
 * results keep the items' order. A free slot goes to the next heavy item while the heavy ones are under their limit
 * (long calls start early), else to the next light one, so light items fill the slots heavy ones may not take.
 */
export async function mapWithConcurrency<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<R>,
  heavy?: HeavyItems<T>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  const heavyQueue: number[] = [];
  const lightQueue: number[] = [];
  items.forEach((item, index) => (heavy?.isHeavy(item) === true ? heavyQueue : lightQueue).push(index));
  let heavyNext = 0;
  let lightNext = 0;
  let heavyRunning = 0;
  const heavyLimit = Math.max(1, heavy?.limit ?? limit);
  const worker = async (): Promise<void> => {
    for (;;) {
      const takesHeavy = heavyNext < heavyQueue.length && heavyRunning < heavyLimit;
      // With no light item left and the heavy slots full, the workers holding them take the rest.
      const index = takesHeavy ? heavyQueue[heavyNext++] : lightQueue[lightNext++];
      if (index === undefined) return;
      if (takesHeavy) heavyRunning += 1;
      try {
        results[index] = await work(items[index] as T, index);
      } finally {
        if (takesHeavy) heavyRunning -= 1;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
