/** A run's sink: in the log-writer thread (from its first line) when that thread can rebuild the backend, else in this thread. */
import type { StorageBackend } from "../backends/backend.ts";
import { recipeFor } from "./backend-recipe.ts";
import { InlineRunSink } from "./sink-inline.ts";
import { ThreadedRunSink } from "./sink-thread.ts";
import type { RunWriterOptions } from "./run-writer.ts";
import type { RunSink } from "./sink.ts";

export async function startRunSink(backend: StorageBackend, options: RunWriterOptions): Promise<RunSink> {
  const recipe = recipeFor(backend);
  if (recipe === undefined) return InlineRunSink.start(backend, options);
  return ThreadedRunSink.start(recipe, backend, options);
}
