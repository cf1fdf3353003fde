/** Writes a nested checkpoint as safetensors, streaming the header and then each tensor's own memory. */
import type { CheckpointTree, Tensor } from "../data-types.ts";
import { requireLittleEndianHost } from "../endian.ts";
import { describeValue, invalidInput } from "../failures.ts";
import type { ArtifactStorage } from "../types.ts";
import { flattenTree, isPlainObject, LAYOUT_KEY, LayoutInputProblem } from "./layout.ts";
import {
  acceptedArrays,
  acceptsArray,
  dtypeSize,
  elementCount,
  encodeHeader,
  isTensorDtype,
  MAX_HEADER_BYTES,
  TENSOR_DTYPES,
  type TensorEntry,
} from "./safetensors.ts";

/** Tensors are handed to the backend in slices of this size, so one huge tensor does not arrive as one chunk. */
const CHUNK_BYTES = 8 * 1024 * 1024;

export async function saveSafetensors(tree: unknown, storage: ArtifactStorage): Promise<void> {
  if (!isPlainObject(tree)) {
    throw invalidInput(storage, `.safetensors checkpoints take a nested object of tensors and scalars, got ${describeValue(tree)}.`);
  }
  requireLittleEndianHost(storage, "safetensors");
  let flattened: ReturnType<typeof flattenTree>;
  try {
    flattened = flattenTree(tree as CheckpointTree);
  } catch (error) {
    if (error instanceof LayoutInputProblem) throw invalidInput(storage, error.message, error);
    throw error;
  }
  const entries: TensorEntry[] = [];
  const bodies: Uint8Array[] = [];
  let offset = 0;
  for (const { name, path, tensor } of flattened.tensors) {
    const bytes = tensorBytes(tensor, path.join("."), storage);
    entries.push({ name, dtype: tensor.dtype, shape: [...tensor.shape], begin: offset, end: offset + bytes.byteLength });
    bodies.push(bytes);
    offset += bytes.byteLength;
  }
  const header = encodeHeader(entries, { format: "pt", [LAYOUT_KEY]: JSON.stringify(flattened.layout) });
  const headerLength = header.byteLength - 8;
  if (headerLength > MAX_HEADER_BYTES) {
    throw invalidInput(
      storage,
      `its safetensors header (the tensor list and the scalars, with the nesting) would be ${headerLength} bytes, over the ` +
        `${MAX_HEADER_BYTES}-byte (100 MB) limit safetensors loaders take, so it could not be loaded; keep long strings ` +
        "and lists out of the checkpoint (in a JSON artifact, say).",
    );
  }
  await storage.writeStream(
    (async function* () {
      yield header;
      for (const body of bodies) {
        for (let at = 0; at < body.byteLength; at += CHUNK_BYTES) yield body.subarray(at, at + CHUNK_BYTES);
      }
    })(),
    "",
    { size: header.byteLength + offset },
  );
}

/** Checks a tensor and returns its bytes (a view, no copy). */
function tensorBytes(tensor: Tensor, where: string, storage: ArtifactStorage): Uint8Array {
  const label = `the tensor ${JSON.stringify(where)}`;
  const { dtype, shape, data } = tensor;
  if (!isTensorDtype(dtype)) {
    throw invalidInput(storage, `${label} has the dtype ${JSON.stringify(dtype)}; supported: ${TENSOR_DTYPES.join(", ")}.`);
  }
  if (!Array.isArray(shape) || !shape.every((dimension) => Number.isSafeInteger(dimension) && dimension >= 0)) {
    throw invalidInput(storage, `${label} needs a shape that is an array of non-negative integers.`);
  }
  if (!ArrayBuffer.isView(data) || data instanceof DataView) {
    throw invalidInput(storage, `${label} needs data as ${acceptedArrays(dtype)}, got ${describeValue(data)}.`);
  }
  if (!acceptsArray(dtype, data)) {
    throw invalidInput(storage, `${label} is ${dtype}, whose data must be ${acceptedArrays(dtype)}, got ${describeValue(data)}.`);
  }
  const expected = elementCount(shape) * dtypeSize(dtype);
  if (data.byteLength !== expected) {
    throw invalidInput(
      storage,
      `${label} has ${data.byteLength} bytes of data but ${dtype} shape [${shape.join(", ")}] needs ${expected}.`,
    );
  }
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
