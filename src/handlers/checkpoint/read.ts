/**
 * Reads safetensors by ranges: the first 64 KiB (the length, usually the whole header, and small tensors), the
 * rest of the header if it is longer, then only the wanted tensors, neighbouring ones merged into one read.
 *
 * Every read of one load is pinned to the revision `info()` gave first, so a save landing between two reads can
 * never splice two checkpoints into one result: the pinned read fails, and the load starts over once from the new
 * revision (then TRANSIENT, when the checkpoint changed again).
 */
import type { CheckpointTree, Tensor } from "../data-types.ts";
import { requireLittleEndianHost } from "../endian.ts";
import { isOpenCrateError, NotSupportedError, TransientError } from "../../errors.ts";
import { corruptData, invalidLoad } from "../failures.ts";
import type { ArtifactStorage } from "../types.ts";
import { buildTree, flatLayout, LAYOUT_KEY, type LayoutNode, LayoutStoredProblem, parseLayout, selectLayout, tensorNamesOf } from "./layout.ts";
import {
  type HeaderEntry,
  isTensorDtype,
  MAX_HEADER_BYTES,
  parseHeader,
  SafetensorsProblem,
  TENSOR_DTYPES,
  tensorArray,
  type TensorEntry,
} from "./safetensors.ts";

const PREFETCH_BYTES = 64 * 1024;
/** Wanted tensors closer than this are fetched in one read (the gap is read and dropped). */
const MERGE_GAP_BYTES = 64 * 1024;
/** No merged read grows beyond this (a single larger tensor is still one read). */
const MAX_READ_BYTES = 256 * 1024 * 1024;

/** A pinned read found the checkpoint replaced (or deleted) since the load began. */
class RevisionChanged extends Error {
  constructor(cause: unknown) {
    super("the checkpoint changed while being read", { cause });
  }
}

/** Reads ranges of the artifact at one revision; a change of the object surfaces as RevisionChanged. */
type PinnedRead = (offset: number, length: number) => Promise<Uint8Array>;

export async function loadSafetensors(storage: ArtifactStorage, keys: readonly string[] | undefined): Promise<CheckpointTree> {
  requireLittleEndianHost(storage, "safetensors");
  if (keys !== undefined && (!Array.isArray(keys) || !keys.every((key) => typeof key === "string"))) {
    throw invalidLoad(storage, "the keys option must be an array of strings.");
  }
  for (let attempt = 1; ; attempt++) {
    try {
      return await loadAtOneRevision(storage, keys);
    } catch (error) {
      if (!(error instanceof RevisionChanged)) throw error;
      if (attempt >= 2) {
        throw new TransientError(
          `Cannot load ${storage.path}: the checkpoint changed while being read, twice in a row (another process is saving it); load it again.`,
          { path: storage.path, cause: error.cause },
        );
      }
    }
  }
}

async function loadAtOneRevision(storage: ArtifactStorage, keys: readonly string[] | undefined): Promise<CheckpointTree> {
  const corrupt = (problem: string, cause?: unknown) => corruptData(storage, "safetensors", problem, cause);

  const { size: fileSize, revision } = await storage.info();
  const read: PinnedRead = async (offset, length) => {
    try {
      return await storage.readRange(offset, length, "", { ifRevision: revision });
    } catch (error) {
      if (isOpenCrateError(error, "PRECONDITION_FAILED") || isOpenCrateError(error, "NOT_FOUND")) throw new RevisionChanged(error);
      throw error;
    }
  };

  const head = await read(0, PREFETCH_BYTES);
  if (head.byteLength < 8) throw corrupt(`the file has ${head.byteLength} bytes, fewer than the 8-byte header length.`);
  const declared = new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true);
  if (declared > BigInt(fileSize - 8)) throw corrupt(`the header length ${declared} is larger than the ${fileSize - 8} bytes after it.`);
  if (declared > BigInt(MAX_HEADER_BYTES)) {
    throw corrupt(`the header length ${declared} is over the ${MAX_HEADER_BYTES}-byte (100 MB) limit safetensors loaders take.`);
  }
  const headerLength = Number(declared);
  const dataStart = 8 + headerLength;
  const headerBytes = dataStart <= head.byteLength ? head.subarray(8, dataStart) : await read(8, headerLength);
  if (headerBytes.byteLength !== headerLength) throw corrupt("the file ended inside the header.");

  let layout: LayoutNode;
  let entries: ReadonlyMap<string, HeaderEntry>;
  try {
    const header = parseHeader(headerBytes, fileSize - dataStart);
    entries = new Map(header.entries.map((entry) => [entry.name, entry]));
    const stored = header.metadata[LAYOUT_KEY];
    layout = stored === undefined ? flatLayout(header.names) : parseLayout(stored, new Set(entries.keys()));
  } catch (error) {
    if (error instanceof SafetensorsProblem || error instanceof LayoutStoredProblem) throw corrupt(error.message, error);
    throw error;
  }

  const selection = selectLayout(layout, keys);
  if (selection.unmatched.length > 0) {
    const known = [...entries.keys()].slice(0, 20).join(", ");
    throw invalidLoad(
      storage,
      `no tensor or entry named ${selection.unmatched.map((key) => JSON.stringify(key)).join(", ")}; tensors include: ${known || "(none)"}.`,
    );
  }
  const wanted = tensorNamesOf(selection.layout).map((name) => entries.get(name) as HeaderEntry);
  const unsupported = wanted.filter((entry) => !isTensorDtype(entry.dtype));
  if (unsupported.length > 0) {
    const listed = unsupported.slice(0, 5).map((entry) => `${JSON.stringify(entry.name)} is ${entry.dtype}`);
    if (unsupported.length > 5) listed.push(`${unsupported.length - 5} more`);
    const decodable = [...entries.values()].some((entry) => isTensorDtype(entry.dtype));
    throw new NotSupportedError(
      `Cannot load ${storage.path}: safetensors dtype not supported (${listed.join(", ")}); ` +
        `this library decodes ${TENSOR_DTYPES.join(", ")}.` +
        (decodable ? " The other tensors load with the keys option." : ""),
      { path: storage.path },
    );
  }
  const tensors = await readTensors(read, wanted as TensorEntry[], dataStart, head, corrupt);
  return buildTree(selection.layout, tensors) as CheckpointTree;
}

async function readTensors(
  read: PinnedRead,
  wanted: readonly TensorEntry[],
  dataStart: number,
  head: Uint8Array,
  corrupt: (problem: string) => Error,
): Promise<Map<string, Tensor>> {
  const tensors = new Map<string, Tensor>();
  const sorted = [...new Set(wanted)].sort((a, b) => a.begin - b.begin);
  for (const group of mergeReads(sorted)) {
    const first = group[0] as TensorEntry;
    const last = group[group.length - 1] as TensorEntry;
    const start = dataStart + first.begin;
    const length = last.end - first.begin;
    let bytes: Uint8Array;
    if (length === 0) bytes = new Uint8Array(0);
    else if (start + length <= head.byteLength) bytes = head.subarray(start, start + length);
    else bytes = await read(start, length);
    if (bytes.byteLength !== length) throw corrupt(`the file ended inside tensor ${JSON.stringify(first.name)}.`);
    for (const entry of group) {
      const slice = bytes.subarray(entry.begin - first.begin, entry.end - first.begin);
      tensors.set(entry.name, { dtype: entry.dtype, shape: [...entry.shape], data: tensorArray(entry.dtype, slice) });
    }
  }
  return tensors;
}

/** Groups tensors (sorted by offset) into reads: merged while the gap is small and the read stays bounded. */
function mergeReads(sorted: readonly TensorEntry[]): TensorEntry[][] {
  const groups: TensorEntry[][] = [];
  let current: TensorEntry[] = [];
  for (const entry of sorted) {
    const first = current[0];
    const last = current[current.length - 1];
    if (first !== undefined && last !== undefined && entry.begin - last.end <= MERGE_GAP_BYTES && entry.end - first.begin <= MAX_READ_BYTES) {
      current.push(entry);
    } else {
      if (current.length > 0) groups.push(current);
      current = [entry];
    }
  }
  if (current.length > 0) groups.push(current);
  return groups;
}
