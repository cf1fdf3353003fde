/**
 * The safetensors format: an 8-byte little-endian u64 N, then N bytes of UTF-8 JSON
 * `{ "__metadata__"?: {string: string}, <name>: { dtype, shape, data_offsets: [begin, end] } }` (padded with spaces),
 * then the tensors' bytes, row-major little-endian, offsets relative to the end of the header. Offsets must tile
 * the data exactly: no gaps, no overlaps, nothing after the last tensor.
 */
import type { TensorArray, TensorDtype } from "../data-types.ts";

export const METADATA_KEY = "__metadata__";
/** The reference implementation refuses headers above 100 MB. */
export const MAX_HEADER_BYTES = 100_000_000;

type ArrayConstructorOf = {
  new (length: number): TensorArray;
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): TensorArray;
  readonly BYTES_PER_ELEMENT: number;
};

interface DtypeInfo {
  readonly size: number;
  /** What load returns. */
  readonly array: ArrayConstructorOf;
  /** Typed arrays save accepts besides raw bytes (Uint8Array). */
  readonly accepts: readonly string[];
}

const DTYPES: Readonly<Record<TensorDtype, DtypeInfo>> = {
  F64: { size: 8, array: Float64Array, accepts: ["Float64Array"] },
  F32: { size: 4, array: Float32Array, accepts: ["Float32Array"] },
  F16: { size: 2, array: Uint16Array, accepts: ["Uint16Array", "Float16Array"] },
  BF16: { size: 2, array: Uint16Array, accepts: ["Uint16Array"] },
  F8_E4M3: { size: 1, array: Uint8Array, accepts: [] },
  F8_E5M2: { size: 1, array: Uint8Array, accepts: [] },
  I64: { size: 8, array: BigInt64Array, accepts: ["BigInt64Array"] },
  I32: { size: 4, array: Int32Array, accepts: ["Int32Array"] },
  I16: { size: 2, array: Int16Array, accepts: ["Int16Array"] },
  I8: { size: 1, array: Int8Array, accepts: ["Int8Array"] },
  U64: { size: 8, array: BigUint64Array, accepts: ["BigUint64Array"] },
  U32: { size: 4, array: Uint32Array, accepts: ["Uint32Array"] },
  U16: { size: 2, array: Uint16Array, accepts: ["Uint16Array"] },
  U8: { size: 1, array: Uint8Array, accepts: ["Uint8ClampedArray"] },
  BOOL: { size: 1, array: Uint8Array, accepts: [] },
};
export const TENSOR_DTYPES = Object.keys(DTYPES) as TensorDtype[];

export function isTensorDtype(value: unknown): value is TensorDtype {
  return typeof value === "string" && Object.hasOwn(DTYPES, value);
}

export function dtypeSize(dtype: TensorDtype): number {
  return DTYPES[dtype].size;
}

/** Whether save takes `data` as the elements of `dtype` (raw bytes as a Uint8Array always are). */
export function acceptsArray(dtype: TensorDtype, data: ArrayBufferView): boolean {
  return data instanceof Uint8Array || DTYPES[dtype].accepts.includes(data.constructor.name);
}

export function acceptedArrays(dtype: TensorDtype): string {
  return [...DTYPES[dtype].accepts, "Uint8Array (raw bytes)"].join(" or ");
}

/** Elements in a tensor of `shape` ([] is a scalar: 1). */
export function elementCount(shape: readonly number[]): number {
  return shape.reduce((product, dimension) => product * dimension, 1);
}

/** The elements of `dtype` over `bytes`: a view when aligned, a fresh aligned copy otherwise. */
export function tensorArray(dtype: TensorDtype, bytes: Uint8Array): TensorArray {
  const { array, size } = DTYPES[dtype];
  if (bytes.byteOffset % size === 0) return new array(bytes.buffer, bytes.byteOffset, bytes.byteLength / size);
  // new Uint8Array(view) copies into a fresh buffer (Buffer#slice would not copy).
  const copy = new Uint8Array(bytes);
  return new array(copy.buffer, 0, copy.byteLength / size);
}

export interface TensorEntry {
  readonly name: string;
  readonly dtype: TensorDtype;
  readonly shape: readonly number[];
  /** Offsets from the start of the data section. */
  readonly begin: number;
  readonly end: number;
}

/** The 8-byte length and the space-padded JSON header, tensors listed in the given (data) order. */
export function encodeHeader(entries: readonly TensorEntry[], metadata: Readonly<Record<string, string>>): Uint8Array {
  const fields = [`${JSON.stringify(METADATA_KEY)}:${JSON.stringify(metadata)}`];
  for (const entry of entries) {
    const info = { dtype: entry.dtype, shape: entry.shape, data_offsets: [entry.begin, entry.end] };
    fields.push(`${JSON.stringify(entry.name)}:${JSON.stringify(info)}`);
  }
  const json = Buffer.from(`{${fields.join(",")}}`, "utf8");
  const padded = Math.ceil(json.byteLength / 8) * 8;
  const bytes = new Uint8Array(8 + padded).fill(0x20, 8 + json.byteLength);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(padded), true);
  bytes.set(json, 8);
  return bytes;
}

/** Thrown for a malformed header; the handler turns it into CorruptDataError naming the file. */
export class SafetensorsProblem extends Error {}

/**
 * A tensor as its header lists it. `dtype` may be one this library does not decode (C64, F4, a future one): the
 * header is still well formed, the entry's bytes are known from its offsets, and only loading that tensor fails.
 */
export interface HeaderEntry extends Omit<TensorEntry, "dtype"> {
  readonly dtype: string;
}

export interface ParsedHeader {
  /** Tensors in data order. */
  readonly entries: readonly HeaderEntry[];
  /** Header key order, as written. */
  readonly names: readonly string[];
  readonly metadata: Readonly<Record<string, string>>;
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** Parses and checks a header against the data section's length. */
export function parseHeader(headerBytes: Uint8Array, dataLength: number): ParsedHeader {
  let parsed: unknown;
  try {
    parsed = JSON.parse(strictUtf8.decode(headerBytes));
  } catch (error) {
    throw new SafetensorsProblem(`the header is not JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new SafetensorsProblem("the header is not a JSON object.");
  const metadata = checkMetadata((parsed as Record<string, unknown>)[METADATA_KEY]);
  const names: string[] = [];
  const entries: HeaderEntry[] = [];
  for (const [name, info] of Object.entries(parsed)) {
    if (name === METADATA_KEY) continue;
    names.push(name);
    entries.push(checkEntry(name, info));
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  for (const entry of entries) {
    if (entry.begin !== expected) {
      const problem = entry.begin < expected ? "overlaps the tensor before it" : `leaves a gap after byte ${expected}`;
      throw new SafetensorsProblem(`tensor ${JSON.stringify(entry.name)} at [${entry.begin}, ${entry.end}] ${problem}.`);
    }
    expected = entry.end;
  }
  if (expected !== dataLength) {
    throw new SafetensorsProblem(`the tensors cover ${expected} bytes but the data section after the header has ${dataLength}.`);
  }
  return { entries, names, metadata };
}

function checkMetadata(value: unknown): Record<string, string> {
  if (value === undefined) return {};
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new SafetensorsProblem(`${METADATA_KEY} is not an object.`);
  for (const [key, item] of Object.entries(value)) {
    if (typeof item !== "string") throw new SafetensorsProblem(`${METADATA_KEY}.${key} is not a string.`);
  }
  return value as Record<string, string>;
}

function checkEntry(name: string, info: unknown): HeaderEntry {
  const where = `tensor ${JSON.stringify(name)}`;
  if (typeof info !== "object" || info === null) throw new SafetensorsProblem(`${where} is not an object.`);
  const { dtype, shape, data_offsets: offsets } = info as Record<string, unknown>;
  if (typeof dtype !== "string" || dtype === "") throw new SafetensorsProblem(`${where} has no dtype string.`);
  if (!Array.isArray(shape) || !shape.every(isCount)) throw new SafetensorsProblem(`${where} has an invalid shape.`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
    throw new SafetensorsProblem(`${where} has invalid data_offsets.`);
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) throw new SafetensorsProblem(`${where} has data_offsets [${begin}, ${end}] that end before they begin.`);
  // An element size is known only for the dtypes we decode; another one's extent is trusted to its offsets (the
  // tiling check below still holds it to the data section).
  if (!isTensorDtype(dtype)) return { name, dtype, shape: shape as number[], begin, end };
  const bytes = elementCount(shape as number[]) * dtypeSize(dtype);
  if (end - begin !== bytes) {
    throw new SafetensorsProblem(`${where} has data_offsets [${begin}, ${end}] but its ${dtype} shape [${shape.join(", ")}] needs ${bytes} bytes.`);
  }
  return { name, dtype, shape: shape as number[], begin, end };
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}
