/** The backends the log tests run over: memory always, local once src/backends/local/index.ts exists. */
import { existsSync } from "node:fs";
import type { BackendFactory } from "../support/backends.ts";
import { localFactory, memoryFactory } from "../support/backends.ts";

export function logBackendFactories(): BackendFactory[] {
  const localReady = existsSync(new URL("../../src/backends/local/index.ts", import.meta.url));
  return localReady ? [memoryFactory(), localFactory()] : [memoryFactory()];
}
