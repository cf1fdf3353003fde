/**
 * A self-contained WAV (RIFF/WAVE) codec.
 *
 * Writes 16-bit PCM (from Int16Array) or 32-bit IEEE float (from Float32Array, lossless; format 3 with the
 * 18-byte fmt chunk and a fact chunk as the RIFF spec asks for non-PCM data).
 * Reads PCM 8 (unsigned), 16, 24 and 32 bits, IEEE float 32 and 64, plain or WAVE_FORMAT_EXTENSIBLE; skips
 * chunks it does not know. Integer samples are scaled to [-1, 1) by 2^(bits-1). A valid WAV in another encoding
 * (μ-law, A-law, ADPCM …) or container (RF64, BW64, big-endian RIFX) is WavNotSupported, not a broken file.
 */

export const PCM = 1;
export const IEEE_FLOAT = 3;
export const EXTENSIBLE = 0xfffe;
const RIFF_MAX = 0xffffffff;
const U16_MAX = 0xffff;
const U32_MAX = 0xffffffff;

export interface WavLayout {
  readonly formatTag: typeof PCM | typeof IEEE_FLOAT;
  readonly channels: number;
  readonly sampleRate: number;
  readonly bitsPerSample: number;
  /** Sample frames (one sample per channel each). */
  readonly frames: number;
}

/**
 * Why the layout cannot be written as a WAV header, or undefined when it can: the fmt chunk's block align (bytes
 * per sample frame) is a 16-bit field and its byte rate a 32-bit one, and the samples must fit the RIFF size field
 * (4 GiB). A value that does not fit would wrap and the file would not load.
 */
export function wavLayoutProblem(layout: WavLayout): string | undefined {
  const bytesPerSample = layout.bitsPerSample / 8;
  const blockAlign = layout.channels * bytesPerSample;
  if (blockAlign > U16_MAX) {
    const most = Math.floor(U16_MAX / bytesPerSample);
    return `${layout.channels} channels of ${layout.bitsPerSample}-bit samples make ${blockAlign} bytes per sample frame, more than the 65535 a WAV header can hold (at most ${most} channels at this sample size).`;
  }
  const byteRate = layout.sampleRate * blockAlign;
  if (byteRate > U32_MAX) {
    return `a sample rate of ${layout.sampleRate} with ${blockAlign} bytes per sample frame makes ${byteRate} bytes per second, more than the 4294967295 a WAV header can hold.`;
  }
  if (layout.frames * blockAlign + 64 > RIFF_MAX) return "the samples exceed the 4 GiB a WAV file can hold.";
  return undefined;
}

/** The bytes before the samples (callers check wavLayoutProblem first): RIFF header, fmt chunk, fact chunk (float only) and the data chunk header. */
export function wavHeader(layout: WavLayout): Uint8Array {
  const { formatTag, channels, sampleRate, bitsPerSample, frames } = layout;
  const blockAlign = channels * (bitsPerSample / 8);
  const dataSize = frames * blockAlign;
  const float = formatTag === IEEE_FLOAT;
  const fmtSize = float ? 18 : 16;
  const factChunk = float ? 12 : 0;
  const headerSize = 12 + 8 + fmtSize + factChunk + 8;
  const riffSize = headerSize - 8 + dataSize + (dataSize % 2);
  const header = new Uint8Array(headerSize);
  const view = new DataView(header.buffer);
  let at = 0;
  const tag = (text: string): void => {
    for (let index = 0; index < 4; index++) header[at + index] = text.charCodeAt(index);
    at += 4;
  };
  const u32 = (value: number): void => {
    view.setUint32(at, value, true);
    at += 4;
  };
  const u16 = (value: number): void => {
    view.setUint16(at, value, true);
    at += 2;
  };
  tag("RIFF");
  u32(riffSize);
  tag("WAVE");
  tag("fmt ");
  u32(fmtSize);
  u16(formatTag);
  u16(channels);
  u32(sampleRate);
  u32(sampleRate * blockAlign);
  u16(blockAlign);
  u16(bitsPerSample);
  if (float) {
    u16(0);
    tag("fact");
    u32(4);
    u32(frames);
  }
  tag("data");
  u32(dataSize);
  return header;
}

export interface DecodedWav {
  readonly channels: Float32Array[];
  readonly sampleRate: number;
}

/** Thrown for bytes that are not a WAV file this codec reads; the handler turns it into CorruptDataError. */
export class WavFormatProblem extends Error {}

/** Thrown for a WAV file in a container or encoding this codec does not read; the handler turns it into NotSupportedError. */
export class WavNotSupported extends Error {}

/** The containers other than RIFF that hold a WAVE form: the 64-bit ones for files over 4 GiB, and big-endian RIFF. */
const OTHER_CONTAINERS: Readonly<Record<string, string>> = {
  RF64: "RF64 (WAV with 64-bit sizes)",
  BW64: "BW64 (broadcast WAV with 64-bit sizes)",
  RIFX: "RIFX (big-endian WAV)",
};

/** Names of the common WAV format tags this codec does not decode, for the message. */
const FORMAT_NAMES: Readonly<Record<number, string>> = {
  0x2: "Microsoft ADPCM",
  0x6: "A-law",
  0x7: "μ-law",
  0x11: "IMA ADPCM",
  0x31: "GSM 6.10",
  0x50: "MPEG",
  0x55: "MPEG Layer 3",
};

const READ = "this reader decodes PCM 8/16/24/32-bit and float 32/64-bit WAV";

export function decodeWav(bytes: Uint8Array): DecodedWav {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const ascii = (at: number): string => String.fromCharCode(...bytes.subarray(at, at + 4));
  const container = bytes.byteLength >= 12 && ascii(8) === "WAVE" ? OTHER_CONTAINERS[ascii(0)] : undefined;
  if (container !== undefined) throw new WavNotSupported(`it is ${container}, which is not supported: ${READ} in a RIFF container.`);
  if (bytes.byteLength < 12 || ascii(0) !== "RIFF" || ascii(8) !== "WAVE") {
    throw new WavFormatProblem("it does not start with a RIFF/WAVE header.");
  }
  let format: { tag: number; channels: number; sampleRate: number; blockAlign: number; bits: number } | undefined;
  let data: Uint8Array | undefined;
  for (let at = 12; at + 8 <= bytes.byteLength; ) {
    const id = ascii(at);
    const size = view.getUint32(at + 4, true);
    const body = at + 8;
    if (body + size > bytes.byteLength) {
      throw new WavFormatProblem(`the '${id}' chunk at byte ${at} claims ${size} bytes but only ${bytes.byteLength - body} remain (truncated file).`);
    }
    if (id === "fmt ") format = readFormat(view, body, size);
    else if (id === "data" && data === undefined) data = bytes.subarray(body, body + size);
    at = body + size + (size % 2);
  }
  if (format === undefined) throw new WavFormatProblem("it has no 'fmt ' chunk.");
  if (data === undefined) throw new WavFormatProblem("it has no 'data' chunk.");
  return { channels: decodeSamples(data, format), sampleRate: format.sampleRate };
}

function readFormat(view: DataView, at: number, size: number) {
  if (size < 16) throw new WavFormatProblem(`its 'fmt ' chunk has ${size} bytes, fewer than 16.`);
  let tag = view.getUint16(at, true);
  const channels = view.getUint16(at + 2, true);
  const sampleRate = view.getUint32(at + 4, true);
  const blockAlign = view.getUint16(at + 12, true);
  const bits = view.getUint16(at + 14, true);
  if (tag === EXTENSIBLE) {
    if (size < 40) throw new WavFormatProblem(`its WAVE_FORMAT_EXTENSIBLE 'fmt ' chunk has ${size} bytes, fewer than 40.`);
    tag = view.getUint16(at + 24, true);
  }
  const supported = (tag === PCM && [8, 16, 24, 32].includes(bits)) || (tag === IEEE_FLOAT && (bits === 32 || bits === 64));
  if (!supported) {
    const known = tag === PCM ? "PCM" : tag === IEEE_FLOAT ? "float" : FORMAT_NAMES[tag];
    const format = known === undefined ? `format 0x${tag.toString(16).padStart(4, "0")}` : `${known} (format ${tag})`;
    throw new WavNotSupported(`its samples are ${format} with ${bits} bits per sample, which is not supported: ${READ}.`);
  }
  if (channels < 1) throw new WavFormatProblem("it declares 0 channels.");
  if (sampleRate < 1) throw new WavFormatProblem("it declares a sample rate of 0.");
  if (blockAlign !== channels * (bits / 8)) {
    throw new WavFormatProblem(`its block align ${blockAlign} does not match ${channels} channels of ${bits} bits.`);
  }
  return { tag, channels, sampleRate, blockAlign, bits };
}

function decodeSamples(data: Uint8Array, format: { tag: number; channels: number; blockAlign: number; bits: number }): Float32Array[] {
  const frames = Math.floor(data.byteLength / format.blockAlign);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const bytesPerSample = format.bits / 8;
  const read = sampleReader(view, format.tag, format.bits);
  const channels = Array.from({ length: format.channels }, () => new Float32Array(frames));
  for (let frame = 0; frame < frames; frame++) {
    const base = frame * format.blockAlign;
    for (let channel = 0; channel < format.channels; channel++) {
      (channels[channel] as Float32Array)[frame] = read(base + channel * bytesPerSample);
    }
  }
  return channels;
}

function sampleReader(view: DataView, tag: number, bits: number): (at: number) => number {
  if (tag === IEEE_FLOAT) return bits === 32 ? (at) => view.getFloat32(at, true) : (at) => view.getFloat64(at, true);
  switch (bits) {
    case 8:
      return (at) => (view.getUint8(at) - 128) / 128;
    case 16:
      return (at) => view.getInt16(at, true) / 32768;
    case 24:
      return (at) => ((view.getUint8(at) | (view.getUint8(at + 1) << 8) | (view.getInt8(at + 2) << 16)) / 8388608);
    default:
      return (at) => view.getInt32(at, true) / 2147483648;
  }
}
