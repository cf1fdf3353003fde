/** The backends the log tests run over: memory and local always, the cloud ones when their server runs. */
import type { BackendFactory } from "../support/backends.ts";
import { allBackendFactories } from "../support/backends.ts";

export function logBackendFactories(): BackendFactory[] {
  return allBackendFactories();
}
