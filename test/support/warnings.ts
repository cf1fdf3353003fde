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
