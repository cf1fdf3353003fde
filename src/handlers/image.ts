/**
 * image: one still image, format from the extension (.png .jpg .jpeg .webp .tiff .tif .avif .gif .svg), via sharp.
 *
 * Save accepts encoded bytes (kept byte for byte when already in the extension's format, re-encoded otherwise),
 * raw pixels, SVG markup (kept as text in a .svg, rasterised otherwise) or a sharp instance. What it encodes is
 * lossless for PNG and TIFF; JPEG, WebP and AVIF are lossy and GIF keeps 256 colours (see encode).
 * Load returns 8-bit raw pixels with the stored channel count (grey stays 1 or 2 channels; 16-bit images are
 * reduced to 8 bits; animated images give their first frame), or with `{ as: "encoded" }` the stored bytes. Other
 * sample types (a TIFF of 32-bit floats or integers) are NOT_SUPPORTED rather than cast to 8 bits.
 */
import { NotSupportedError } from "../errors.ts";
import { plainBytes } from "./byte-sources.ts";
import type { ImageInput, ImageLoadOptions, ImageSaveOptions, LoadedImage, RawImage } from "./data-types.ts";
import { corruptData, describeValue, invalidInput, invalidLoad, messageOf, unsupportedData, unsupportedExtension } from "./failures.ts";
import { loadSharp, type Sharp } from "./lazy-modules.ts";
import { asChannels, checkRawImage, isRawImageShaped, keepGreyBands, pixelBuffer } from "./pixels.ts";
import type { ArtifactHandler, ArtifactStorage, HandlerContext } from "./types.ts";
import { notUtf8Encodable } from "./utf8.ts";

export type ImageFormat = "png" | "jpeg" | "webp" | "tiff" | "avif" | "gif" | "svg";
type SharpInstance = ReturnType<Sharp>;
type SharpMetadata = Awaited<ReturnType<SharpInstance["metadata"]>>;

const FORMAT_BY_EXTENSION: Readonly<Record<string, ImageFormat>> = {
  ".png": "png",
  ".jpg": "jpeg",
  ".jpeg": "jpeg",
  ".webp": "webp",
  ".tiff": "tiff",
  ".tif": "tiff",
  ".avif": "avif",
  ".gif": "gif",
  ".svg": "svg",
};
export const IMAGE_EXTENSIONS: readonly string[] = Object.keys(FORMAT_BY_EXTENSION);

export const imageHandler: ArtifactHandler<ImageInput, LoadedImage | Uint8Array, ImageSaveOptions, ImageLoadOptions> = {
  type: "image",

  async save(data, storage, options, context) {
    const format = imageFormatOf(storage, context);
    const quality = checkQuality(options?.quality, storage);
    if (typeof data === "string") return saveSvgMarkup(data, format, quality, storage);
    if (data instanceof Uint8Array) return saveEncoded(data, format, quality, storage);
    if (isRawImageShaped(data)) return saveRaw(checkRawImage(data, storage, "the image"), format, quality, storage);
    if (isSharpInstance(data)) return saveSharp(data, format, quality, storage);
    throw invalidInput(
      storage,
      `image artifacts take encoded bytes, raw pixels { data, width, height, channels }, SVG markup or a sharp instance, got ${describeValue(data)}.`,
    );
  },

  async load(storage, options) {
    const as = options?.as ?? "raw";
    if (as !== "raw" && as !== "encoded") throw invalidLoad(storage, `the 'as' option must be "raw" or "encoded", got ${String(as)}.`);
    const bytes = plainBytes(await storage.read());
    if (as === "encoded") return bytes;
    return decodeImage(bytes, storage);
  },
};

export function imageFormatOf(storage: ArtifactStorage, context: HandlerContext): ImageFormat {
  const format = FORMAT_BY_EXTENSION[context.extension];
  if (format === undefined) throw unsupportedExtension(storage, "an image", context.extension, IMAGE_EXTENSIONS);
  return format;
}

async function saveSvgMarkup(markup: string, format: ImageFormat, quality: number | undefined, storage: ArtifactStorage): Promise<void> {
  if (!/^\uFEFF?\s*<(svg[\s>]|\?xml|!--|!DOCTYPE svg)/i.test(markup)) {
    throw invalidInput(storage, "a string given to an image artifact must be SVG markup (starting with <svg or <?xml).");
  }
  const problem = notUtf8Encodable(markup, "the SVG markup");
  if (problem !== undefined) throw invalidInput(storage, problem);
  const bytes = Buffer.from(markup, "utf8");
  const sharp = await loadSharp(storage.path);
  const metadata = await inputMetadata(sharp, bytes, storage, "the SVG markup");
  if (metadata.format !== "svg") throw invalidInput(storage, `the markup is not SVG (it decodes as ${metadata.format}).`);
  if (format === "svg") {
    await storage.write(markup);
    return;
  }
  await storage.write(await encode(sharp(bytes), format, quality, storage));
}

async function saveEncoded(bytes: Uint8Array, format: ImageFormat, quality: number | undefined, storage: ArtifactStorage): Promise<void> {
  const sharp = await loadSharp(storage.path);
  const input = pixelBuffer(bytes);
  const metadata = await inputMetadata(sharp, input, storage, "the bytes");
  if (isAlreadyFormat(metadata, format)) {
    await storage.write(bytes);
    return;
  }
  if (format === "svg") throw rasterToSvg(storage);
  await storage.write(await encode(sharp(input), format, quality, storage));
}

async function saveRaw(image: RawImage, format: ImageFormat, quality: number | undefined, storage: ArtifactStorage): Promise<void> {
  if (format === "svg") throw rasterToSvg(storage);
  const sharp = await loadSharp(storage.path);
  const { width, height, channels } = image;
  let pipeline = sharp(pixelBuffer(image.data), { raw: { width, height, channels } });
  if (channels <= 2) pipeline = pipeline.toColourspace("b-w");
  await storage.write(await encode(pipeline, format, quality, storage));
}

async function saveSharp(instance: SharpInstance, format: ImageFormat, quality: number | undefined, storage: ArtifactStorage): Promise<void> {
  if (format === "svg") throw rasterToSvg(storage);
  // The caller's own sharp encodes it; clone() leaves their pipeline as it was.
  await storage.write(await encode(instance.clone(), format, quality, storage));
}

/**
 * Encodes PNG and TIFF (LZW) so that the pixels load back as they were. JPEG, WebP and AVIF are lossy, at the
 * encoder's default quality unless `quality` is given (their lossless modes make files tens of times larger and
 * slower to write, not what these formats are picked for); GIF keeps at most 256 colours.
 */
async function encode(pipeline: SharpInstance, format: Exclude<ImageFormat, "svg">, quality: number | undefined, storage: ArtifactStorage): Promise<Buffer> {
  const lossy = quality === undefined ? {} : { quality };
  try {
    switch (format) {
      case "png":
        return await pipeline.png().toBuffer();
      case "jpeg":
        return await pipeline.jpeg(lossy).toBuffer();
      case "webp":
        return await pipeline.webp(lossy).toBuffer();
      case "tiff":
        // sharp's default TIFF compression is JPEG: lossy, and it drops alpha.
        return await pipeline.tiff({ compression: "lzw" }).toBuffer();
      case "avif":
        return await pipeline.avif(lossy).toBuffer();
      case "gif":
        return await pipeline.gif().toBuffer();
    }
  } catch (error) {
    throw invalidInput(storage, `the image could not be encoded as ${format}: ${messageOf(error)}`, error);
  }
}

/**
 * The sample types load takes: 8-bit, and 16-bit (scaled down to 8). sharp would cast any other (a float TIFF's
 * 0..1 to 0 and 1, 32-bit integers clipped at 255), so those are refused rather than returned as other values.
 */
const LOADED_DEPTHS: Readonly<Record<string, true>> = { uchar: true, ushort: true };

/** What a refused sample type is, for the message. */
const DEPTH_NAMES: Readonly<Record<string, string>> = {
  char: "8-bit signed integer",
  short: "16-bit signed integer",
  int: "32-bit signed integer",
  uint: "32-bit unsigned integer",
  float: "32-bit float",
  double: "64-bit float",
  complex: "complex",
  dpcomplex: "double-precision complex",
};

async function decodeImage(bytes: Uint8Array, storage: ArtifactStorage): Promise<LoadedImage> {
  const sharp = await loadSharp(storage.path);
  const input = pixelBuffer(bytes);
  let metadata: SharpMetadata;
  try {
    metadata = await sharp(input).metadata();
  } catch (error) {
    throw corruptData(storage, "an image", messageOf(error), error);
  }
  if (LOADED_DEPTHS[metadata.depth ?? "uchar"] !== true) {
    const depth = metadata.depth ?? "";
    throw unsupportedData(
      storage,
      `its pixels are ${DEPTH_NAMES[depth] ?? depth} samples, and load returns 8-bit pixels (from 8- or 16-bit images); ` +
        `load it with { as: "encoded" } and decode it with a library that keeps that sample type.`,
    );
  }
  try {
    const { data, info } = await sharp(input).raw({ depth: "uchar" }).toBuffer({ resolveWithObject: true });
    const channels = asChannels(info.channels);
    if (channels === undefined) throw new Error(`the image decodes to ${info.channels} channels.`);
    const image: LoadedImage = { data: plainBytes(data), width: info.width, height: info.height, channels };
    const grey = metadata.space === "b-w" || metadata.space === "grey16";
    if (grey && (metadata.channels === 1 || metadata.channels === 2) && metadata.channels < channels) {
      return keepGreyBands(image, metadata.channels);
    }
    return image;
  } catch (error) {
    throw corruptData(storage, "an image", messageOf(error), error);
  }
}

async function inputMetadata(sharp: Sharp, input: Buffer, storage: ArtifactStorage, what: string): Promise<SharpMetadata> {
  try {
    return await sharp(input).metadata();
  } catch (error) {
    throw invalidInput(storage, `${what} are not an image sharp can read: ${messageOf(error)}`, error);
  }
}

function isAlreadyFormat(metadata: SharpMetadata, format: ImageFormat): boolean {
  if (format === "avif") return metadata.format === "heif" && metadata.compression === "av1";
  return metadata.format === format;
}

function isSharpInstance(value: unknown): value is SharpInstance {
  if (typeof value !== "object" || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return typeof candidate.toBuffer === "function" && typeof candidate.metadata === "function" && typeof candidate.clone === "function";
}

function checkQuality(quality: unknown, storage: ArtifactStorage): number | undefined {
  if (quality === undefined) return undefined;
  if (typeof quality !== "number" || !Number.isInteger(quality) || quality < 1 || quality > 100) {
    throw invalidInput(storage, `quality must be an integer from 1 to 100, got ${String(quality)}.`);
  }
  return quality;
}

function rasterToSvg(storage: ArtifactStorage): NotSupportedError {
  return new NotSupportedError(
    `Cannot save ${storage.path}: a raster image cannot be encoded as SVG; give SVG markup or use another extension.`,
    { path: storage.path },
  );
}
