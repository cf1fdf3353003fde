/** The waits between retries of the requests this backend sends itself (resumable chunks, downloads). */

/** Grows by 1.5 per retry from 1 s to at most 8 s, plus up to 1 s of jitter (as the SDK's own policy here). */
export function retryDelayMs(attempt: number): number {
  return Math.min(8_000, 1_000 * 1.5 ** attempt) + Math.random() * 1_000;
}

/** Waits `ms`; rejects with the signal's reason as soon as it aborts. */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
