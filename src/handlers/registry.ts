/** The nine built-in handlers by snapshot type, and the types of what each saves and loads. */
import { audioHandler } from "./audio.ts";
import { checkpointHandler } from "./checkpoint/index.ts";
import { csvHandler } from "./csv.ts";
import { gifHandler } from "./gif.ts";
import { imageHandler } from "./image.ts";
import { jsonHandler } from "./json.ts";
import { textHandler } from "./text.ts";
import type { ArtifactHandler } from "./types.ts";
import { videoHandler } from "./video.ts";
import { yamlHandler } from "./yaml.ts";

export type * from "./data-types.ts";

export const builtinHandlers = {
  text: textHandler,
  json: jsonHandler,
  yaml: yamlHandler,
  csv: csvHandler,
  image: imageHandler,
  gif: gifHandler,
  video: videoHandler,
  audio: audioHandler,
  checkpoint: checkpointHandler,
} as const;

export type BuiltinHandlers = typeof builtinHandlers;
export type BuiltinHandlerType = keyof BuiltinHandlers;

/** The pieces of one built-in handler's signature, e.g. `SaveInput<"csv">` is CsvInput. */
export type SaveInput<T extends BuiltinHandlerType> = BuiltinHandlers[T] extends ArtifactHandler<infer In, unknown, unknown, unknown> ? In : never;
export type LoadOutput<T extends BuiltinHandlerType> = BuiltinHandlers[T] extends ArtifactHandler<never, infer Out, unknown, unknown> ? Out : never;
export type SaveOptionsOf<T extends BuiltinHandlerType> = BuiltinHandlers[T] extends ArtifactHandler<never, unknown, infer S, unknown> ? S : never;
export type LoadOptionsOf<T extends BuiltinHandlerType> = BuiltinHandlers[T] extends ArtifactHandler<never, unknown, unknown, infer L> ? L : never;
