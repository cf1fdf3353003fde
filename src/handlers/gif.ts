/**
 * gif: an animation from raw frames of one size (sharp stacks them into one tall image with a page height and
 * writes an animated GIF). GIF keeps at most 256 colours per frame, so frames with more are quantised.
 * Load returns every frame: RGB (3 channels) when every pixel of every frame is opaque, RGBA (4) otherwise.
 */
import type { GifSaveOptions, LoadedImage, RawImage } from "./data-types.ts";
import { corruptData, invalidInput, messageOf } from "./failures.ts";
import { loadSharp } from "./lazy-modules.ts";
import { checkFrames, pixelBuffer } from "./pixels.ts";
import type { ArtifactHandler, ArtifactStorage } from "./types.ts";

const DEFAULT_DELAY_MS = 100;
const MAX_UINT16 = 65535;

export const gifHandler: ArtifactHandler<readonly RawImage[], LoadedImage[], GifSaveOptions> = {
  type: "gif",

  async save(data, storage, options) {
    const frames = checkFrames(data, storage, "gif");
    const delays = checkDelays(options?.delayMs, frames.length, storage);
    const loop = options?.loop ?? 0;
    if (!Number.isInteger(loop) || loop < 0 || loop > MAX_UINT16) {
      throw invalidInput(storage, `loop must be an integer from 0 to ${MAX_UINT16} (0 loops forever), got ${String(loop)}.`);
    }
    const first = frames[0] as RawImage;
    const { width, height, channels } = first;
    const strip = Buffer.concat(frames.map((frame) => pixelBuffer(frame.data)));
    const sharp = await loadSharp(storage.path);
    let pipeline = sharp(strip, { raw: { width, height: height * frames.length, channels, pageHeight: height } });
    if (channels <= 2) pipeline = pipeline.toColourspace("b-w");
    let encoded: Buffer;
    try {
      encoded = await pipeline.gif({ delay: delays, loop, keepDuplicateFrames: true }).toBuffer();
    } catch (error) {
      throw invalidInput(storage, `the frames could not be encoded as GIF: ${messageOf(error)}`, error);
    }
    await storage.write(encoded);
  },

  async load(storage) {
    const bytes = await storage.read();
    const sharp = await loadSharp(storage.path);
    let decoded: { data: Buffer; info: { width: number; height: number; channels: number; pageHeight?: number } };
    try {
      decoded = await sharp(pixelBuffer(bytes), { pages: -1 }).ensureAlpha().raw({ depth: "uchar" }).toBuffer({ resolveWithObject: true });
    } catch (error) {
      throw corruptData(storage, "GIF", messageOf(error), error);
    }
    const { data, info } = decoded;
    const frameHeight = info.pageHeight ?? info.height;
    if (info.channels !== 4 || frameHeight < 1 || info.height % frameHeight !== 0) {
      throw corruptData(storage, "GIF", `unexpected decoded layout (${info.width}×${info.height}, page height ${frameHeight}).`);
    }
    const opaque = everyAlphaOpaque(data);
    const frameBytes = info.width * frameHeight * 4;
    const frames: LoadedImage[] = [];
    for (let offset = 0; offset < data.byteLength; offset += frameBytes) {
      const rgba = data.subarray(offset, offset + frameBytes);
      frames.push({
        data: opaque ? dropAlpha(rgba) : new Uint8Array(rgba),
        width: info.width,
        height: frameHeight,
        channels: opaque ? 3 : 4,
      });
    }
    return frames;
  },
};

function checkDelays(delayMs: unknown, count: number, storage: ArtifactStorage): number[] {
  const delays = delayMs === undefined ? DEFAULT_DELAY_MS : delayMs;
  const list: unknown[] = Array.isArray(delays) ? delays : new Array<unknown>(count).fill(delays);
  if (list.length !== count) throw invalidInput(storage, `delayMs has ${list.length} entries for ${count} frames.`);
  return list.map((delay) => {
    if (typeof delay !== "number" || !Number.isInteger(delay) || delay < 0 || delay > MAX_UINT16) {
      throw invalidInput(storage, `delayMs must be integers from 0 to ${MAX_UINT16} milliseconds, got ${String(delay)}.`);
    }
    return delay;
  });
}

function everyAlphaOpaque(rgba: Uint8Array): boolean {
  for (let index = 3; index < rgba.length; index += 4) if (rgba[index] !== 255) return false;
  return true;
}

function dropAlpha(rgba: Uint8Array): Uint8Array {
  const pixels = rgba.length / 4;
  const rgb = new Uint8Array(pixels * 3);
  for (let pixel = 0; pixel < pixels; pixel++) {
    rgb[pixel * 3] = rgba[pixel * 4] ?? 0;
    rgb[pixel * 3 + 1] = rgba[pixel * 4 + 1] ?? 0;
    rgb[pixel * 3 + 2] = rgba[pixel * 4 + 2] ?? 0;
  }
  return rgb;
}
