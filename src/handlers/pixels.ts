/** Raw 8-bit pixel buffers shared by the image, gif and video handlers. */
import type { LoadedImage, RawImage } from "./data-types.ts";
import { describeValue, invalidInput } from "./failures.ts";
import type { ArtifactStorage } from "./types.ts";

export type Channels = RawImage["channels"];

/** Looks like `{ data, width, height, channels }` (validated separately by checkRawImage). */
export function isRawImageShaped(value: unknown): value is RawImage {
  if (typeof value !== "object" || value === null) return false;
  const candidate = value as Partial<Record<keyof RawImage, unknown>>;
  return "data" in candidate && "width" in candidate && "height" in candidate && "channels" in candidate;
}

/** Throws InvalidArgumentError unless `value` is a consistent RawImage; `what` names it ("frame 3"). */
export function checkRawImage(value: unknown, storage: ArtifactStorage, what: string): RawImage {
  if (!isRawImageShaped(value)) {
    throw invalidInput(storage, `${what} must be raw pixels { data, width, height, channels }, got ${describeValue(value)}.`);
  }
  const { data, width, height, channels } = value;
  if (!(data instanceof Uint8Array || data instanceof Uint8ClampedArray)) {
    throw invalidInput(storage, `${what}.data must be a Uint8Array or Uint8ClampedArray, got ${describeValue(data)}.`);
  }
  for (const [name, size] of [["width", width], ["height", height]] as const) {
    if (!Number.isInteger(size) || size < 1) throw invalidInput(storage, `${what}.${name} must be a positive integer, got ${String(size)}.`);
  }
  if (![1, 2, 3, 4].includes(channels)) {
    throw invalidInput(storage, `${what}.channels must be 1, 2, 3 or 4, got ${String(channels)}.`);
  }
  const expected = width * height * channels;
  if (data.byteLength !== expected) {
    throw invalidInput(
      storage,
      `${what}.data has ${data.byteLength} bytes but ${width} × ${height} × ${channels} channels needs ${expected}.`,
    );
  }
  return value;
}

/** Throws InvalidArgumentError unless `data` is a non-empty array of valid raw frames of one size. */
export function checkFrames(data: unknown, storage: ArtifactStorage, type: string): RawImage[] {
  if (!Array.isArray(data)) throw invalidInput(storage, `${type} artifacts take an array of raw frames, got ${describeValue(data)}.`);
  if (data.length === 0) throw invalidInput(storage, `${type} artifacts need at least one frame.`);
  const frames = data.map((frame: unknown, index) => checkRawImage(frame, storage, `frame ${index}`));
  const first = frames[0] as RawImage;
  frames.forEach((frame, index) => {
    if (frame.width !== first.width || frame.height !== first.height || frame.channels !== first.channels) {
      throw invalidInput(
        storage,
        `frame ${index} is ${frame.width}×${frame.height}×${frame.channels} but frame 0 is ${first.width}×${first.height}×${first.channels}; all frames must match.`,
      );
    }
  });
  return frames;
}

/** The pixel bytes as a Buffer view (what sharp wants), without copying. */
export function pixelBuffer(data: Uint8Array | Uint8ClampedArray): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Keeps the bands of a grey image that sharp decoded to sRGB(A): grey is the first band, alpha the last. sharp
 * converts grey to sRGB by copying the band, so this is exact.
 */
export function keepGreyBands(image: LoadedImage, channels: 1 | 2): LoadedImage {
  const pixels = image.width * image.height;
  const data = new Uint8Array(pixels * channels);
  const from = image.channels;
  for (let pixel = 0; pixel < pixels; pixel++) {
    data[pixel * channels] = image.data[pixel * from] ?? 0;
    if (channels === 2) data[pixel * 2 + 1] = from === 4 ? (image.data[pixel * 4 + 3] ?? 255) : 255;
  }
  return { data, width: image.width, height: image.height, channels };
}

/** The channel count as our union, or undefined when sharp reports something else. */
export function asChannels(value: number): Channels | undefined {
  return value === 1 || value === 2 || value === 3 || value === 4 ? value : undefined;
}
