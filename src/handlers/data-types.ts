/** The values the built-in handlers accept and return, and their options. */
import type { Readable } from "node:stream";

/** A local file to stream from, e.g. `{ file: "out/model.pt" }`. */
export interface LocalFileSource {
  readonly file: string;
}

/** Bytes held in memory, a stream, or a local file: stored exactly as given. */
export type ByteSource = Uint8Array | Readable | AsyncIterable<Uint8Array> | LocalFileSource;

// ---- json ------------------------------------------------------------------------------------------------------

export interface JsonSaveOptions {
  /** Spaces per nesting level; compact (one line) when absent or 0. */
  readonly indent?: number;
}

// ---- csv -------------------------------------------------------------------------------------------------------

export type CsvCell = string | number | boolean | null | undefined | Date;
export type CsvRowObject = Readonly<Record<string, CsvCell>>;
export type CsvRowArray = readonly CsvCell[];
/** Rows as objects (the header is the union of their keys, first seen first) or as arrays. */
export type CsvInput = readonly CsvRowObject[] | readonly CsvRowArray[];

export interface CsvSaveOptions {
  /** Column names written first, for rows given as arrays. */
  readonly header?: readonly string[];
}

export interface CsvLoadOptions {
  /** `false`: every line (the first too) as an array of strings. Default `true`: row objects, numbers typed. */
  readonly header?: boolean;
}

/** A loaded row: numbers typed, empty fields `null`, everything else the text as written. */
export type CsvRecord = Record<string, string | number | null>;

// ---- image / gif / video ---------------------------------------------------------------------------------------

/** Interleaved 8-bit pixels, row by row: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA channels. */
export interface RawImage {
  readonly data: Uint8Array | Uint8ClampedArray;
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 2 | 3 | 4;
}

/** What image and gif loads return: like RawImage, with a plain Uint8Array. */
export interface LoadedImage extends RawImage {
  readonly data: Uint8Array;
}

/** The part of a `sharp` instance the image handler uses (so the sharp types are not part of ours). */
export interface SharpLike {
  clone(): unknown;
  toBuffer(): Promise<Buffer>;
  metadata(): Promise<unknown>;
}

/** Encoded image bytes, raw pixels, SVG markup, or a sharp instance. */
export type ImageInput = Uint8Array | RawImage | string | SharpLike;

export interface ImageSaveOptions {
  /** 1-100: JPEG's quality (the encoder's default when absent); WebP and AVIF are lossless without it and lossy at this quality with it. PNG, TIFF and GIF ignore it. */
  readonly quality?: number;
}

export interface ImageLoadOptions {
  /** "encoded": the stored bytes; "raw" (default): decoded pixels. */
  readonly as?: "raw" | "encoded";
}

export interface GifSaveOptions {
  /** Delay after each frame in milliseconds (one number for all, or one per frame). Default 100. */
  readonly delayMs?: number | readonly number[];
  /** Times to play the animation; 0 (default) loops forever. */
  readonly loop?: number;
}

/** Frames encoded by ffmpeg, or bytes, a stream or a local file stored as given. */
export type VideoInput = ByteSource | readonly RawImage[];

export interface VideoSaveOptions {
  /** Frames per second, for raw frames. Default 30. */
  readonly fps?: number;
}

// ---- audio -----------------------------------------------------------------------------------------------------

/**
 * Audio for `.wav`. `data` is interleaved samples (Int16Array → 16-bit PCM, Float32Array → 32-bit IEEE float,
 * `channels` samples per frame, default 1) or one Float32Array per channel.
 */
export interface WavAudio {
  readonly data: Int16Array | Float32Array | readonly Float32Array[];
  readonly sampleRate: number;
  readonly channels?: number;
}

/** A decoded `.wav`: one Float32Array per channel with samples in [-1, 1), and the length in seconds. */
export interface LoadedAudio {
  readonly channels: Float32Array[];
  readonly sampleRate: number;
  readonly duration: number;
}

export type AudioInput = WavAudio | ByteSource;

// ---- checkpoint ------------------------------------------------------------------------------------------------

/** safetensors element types. F16, BF16 and F8 load as their raw bits (Uint16Array / Uint8Array); BOOL as Uint8Array. */
export type TensorDtype =
  | "F64"
  | "F32"
  | "F16"
  | "BF16"
  | "F8_E4M3"
  | "F8_E5M2"
  | "I64"
  | "I32"
  | "I16"
  | "I8"
  | "U64"
  | "U32"
  | "U16"
  | "U8"
  | "BOOL";

export type TensorArray =
  | Float64Array
  | Float32Array
  | BigInt64Array
  | BigUint64Array
  | Int32Array
  | Uint32Array
  | Int16Array
  | Uint16Array
  | Int8Array
  | Uint8Array;

/** A tensor: row-major little-endian elements. On save `data` may also be the raw bytes as a Uint8Array. */
export interface Tensor {
  readonly dtype: TensorDtype;
  readonly shape: readonly number[];
  readonly data: TensorArray;
}

export type CheckpointScalar = string | number | boolean | null;

export type CheckpointValue = Tensor | CheckpointScalar | readonly CheckpointScalar[] | CheckpointTree;

/** A nested object whose leaves are tensors or JSON scalars (and arrays of scalars). */
export interface CheckpointTree {
  readonly [key: string]: CheckpointValue;
}

/** `.safetensors`: a tree (or bytes / a stream stored as given); other extensions: bytes, a stream or a file. */
export type CheckpointInput = CheckpointTree | ByteSource;

export interface CheckpointLoadOptions {
  /**
   * `.safetensors` only: load just these entries: flat tensor names as stored in the file, or "."-joined paths
   * in the nested object (a path to a group loads everything below it). Only those tensors' bytes are fetched.
   */
  readonly keys?: readonly string[];
}

/** What a `.safetensors` load returns, or the bytes for other extensions. */
export type CheckpointOutput = CheckpointTree | Uint8Array;

// ---- precise load results, for typing call sites ---------------------------------------------------------------

/** What image `load(options)` returns: bytes for `{ as: "encoded" }`, pixels otherwise. */
export type ImageLoadResult<Options> = Options extends { readonly as: "encoded" } ? Uint8Array : LoadedImage;

/** What csv `load(options)` returns: string arrays for `{ header: false }`, row objects otherwise. */
export type CsvLoadResult<Options> = Options extends { readonly header: false } ? string[][] : CsvRecord[];

/** What audio load returns for an artifact name: decoded for "*.wav", bytes for other literal names. */
export type AudioLoadResult<Name extends string> = string extends Name
  ? LoadedAudio | Uint8Array
  : Lowercase<Name> extends `${string}.wav`
    ? LoadedAudio
    : Uint8Array;

/** What checkpoint load returns for an artifact name: the tree for "*.safetensors", bytes for other literal names. */
export type CheckpointLoadResult<Name extends string> = string extends Name
  ? CheckpointOutput
  : Lowercase<Name> extends `${string}.safetensors`
    ? CheckpointTree
    : Uint8Array;
