/**
 * checkpoint: `.safetensors` is encoded and decoded here (a nested object of tensors and JSON scalars; see
 * layout.ts and safetensors.ts). Every other extension (.pt .pth .ckpt .bin .onnx .h5 .keras .joblib .pkl .npz
 * .gguf …) is bytes in, bytes out; bytes, a stream or `{ file }` are streamed in as given. A `.safetensors` also
 * takes bytes or a stream as given (a plain object there is always a checkpoint, so not `{ file }`).
 */
import { isByteSource, isBytes, isByteStream, readBytes, writeByteSource } from "../byte-sources.ts";
import type { CheckpointInput, CheckpointLoadOptions, CheckpointOutput } from "../data-types.ts";
import { describeValue, invalidInput, invalidLoad } from "../failures.ts";
import type { ArtifactHandler } from "../types.ts";
import { loadSafetensors } from "./read.ts";
import { saveSafetensors } from "./write.ts";

export const SAFETENSORS_EXTENSION = ".safetensors";

export const checkpointHandler: ArtifactHandler<CheckpointInput, CheckpointOutput, undefined, CheckpointLoadOptions> = {
  type: "checkpoint",

  async save(data, storage, _options, context) {
    if (context.extension === SAFETENSORS_EXTENSION) {
      if (isBytes(data) || isByteStream(data)) return writeByteSource(data, storage);
      return saveSafetensors(data, storage);
    }
    if (isByteSource(data)) return writeByteSource(data, storage);
    throw invalidInput(
      storage,
      `only .safetensors checkpoints are encoded from tensors; for '${context.extension || "no extension"}' give the bytes, a stream or { file }, got ${describeValue(data)}.`,
    );
  },

  async load(storage, options, context) {
    if (context.extension === SAFETENSORS_EXTENSION) return loadSafetensors(storage, options?.keys);
    if (options?.keys !== undefined) {
      throw invalidLoad(storage, `the keys option needs a .safetensors checkpoint; '${context.extension || "no extension"}' loads as bytes.`);
    }
    return readBytes(storage);
  },
};
