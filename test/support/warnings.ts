/** The process warnings `body` causes (emitted up to the turn after it settles), in order. */
export async function processWarningsDuring(body: () => Promise<void>): Promise<(Error & { code?: string })[]> {
  const warnings: (Error & { code?: string })[] = [];
  const onWarning = (warning: Error & { code?: string }): void => {
    warnings.push(warning);
  };
  process.on("warning", onWarning);
  try {
    await body();
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off("warning", onWarning);
  }
  return warnings;
}

/** An error the process was left to handle on its own. */
export interface ProcessFailure {
  readonly kind: "uncaughtException" | "unhandledRejection";
  readonly error: unknown;
}

/**
 * The uncaught exceptions and unhandled rejections `body` causes, in order: while it runs and for `settleMs` after it
 * settles (a destroyed stream or socket reports on a later turn). `body`'s own outcome is passed on.
 */
export async function processFailuresDuring<T>(body: () => Promise<T>, settleMs = 200): Promise<{ readonly result: PromiseSettledResult<T>; readonly failures: ProcessFailure[] }> {
  const failures: ProcessFailure[] = [];
  const onUncaught = (error: unknown): void => {
    failures.push({ kind: "uncaughtException", error });
  };
  const onUnhandled = (error: unknown): void => {
    failures.push({ kind: "unhandledRejection", error });
  };
  process.on("uncaughtException", onUncaught);
  process.on("unhandledRejection", onUnhandled);
  try {
    const [result] = await Promise.allSettled([body()]);
    await new Promise((resolve) => setTimeout(resolve, settleMs));
    return { result: result as PromiseSettledResult<T>, failures };
  } finally {
    process.off("uncaughtException", onUncaught);
    process.off("unhandledRejection", onUnhandled);
  }
}
