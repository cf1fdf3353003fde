/**
 * audio: `.wav` is encoded and decoded here (see wav.ts); every other extension (.mp3 .flac .ogg .m4a …) is
 * stored and returned as bytes. Bytes, a stream or `{ file }` are stored as given for any extension.
 */
import { isByteSource, readBytes, writeByteSource } from "./byte-sources.ts";
import type { AudioInput, LoadedAudio, WavAudio } from "./data-types.ts";
import { requireLittleEndianHost } from "./endian.ts";
import { corruptData, describeValue, invalidInput, unsupportedData } from "./failures.ts";
import type { ArtifactHandler, ArtifactStorage } from "./types.ts";
import { decodeWav, IEEE_FLOAT, PCM, WavFormatProblem, WavNotSupported, wavHeader, wavLayoutProblem, type WavLayout } from "./wav.ts";

export const audioHandler: ArtifactHandler<AudioInput, LoadedAudio | Uint8Array> = {
  type: "audio",

  async save(data, storage, _options, context) {
    if (isByteSource(data)) return writeByteSource(data, storage);
    if (context.extension !== ".wav") {
      throw invalidInput(
        storage,
        `only .wav audio is encoded from samples; for '${context.extension || "no extension"}' give the encoded bytes, a stream or { file }.`,
      );
    }
    requireLittleEndianHost(storage, "WAV");
    const { layout, samples } = interleave(data, storage);
    const header = wavHeader(layout);
    const body = new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength);
    await storage.writeStream(
      (async function* () {
        yield header;
        yield body;
      })(),
      "",
      { size: header.byteLength + body.byteLength },
    );
  },

  async load(storage, _options, context) {
    const bytes = await readBytes(storage);
    if (context.extension !== ".wav") return bytes;
    try {
      const { channels, sampleRate } = decodeWav(bytes);
      return { channels, sampleRate, duration: (channels[0]?.length ?? 0) / sampleRate };
    } catch (error) {
      if (error instanceof WavFormatProblem) throw corruptData(storage, "WAV", error.message, error);
      if (error instanceof WavNotSupported) throw unsupportedData(storage, `${error.message} Read its bytes with openRead() or downloadTo().`, error);
      throw error;
    }
  },
};

/** Checks a WavAudio and returns its samples interleaved, ready to follow the header. */
function interleave(audio: unknown, storage: ArtifactStorage): { layout: WavLayout; samples: Int16Array | Float32Array } {
  if (typeof audio !== "object" || audio === null || !("data" in audio) || !("sampleRate" in audio)) {
    throw invalidInput(storage, `.wav audio takes { data, sampleRate, channels? } or encoded bytes, got ${describeValue(audio)}.`);
  }
  const { data, sampleRate, channels } = audio as WavAudio;
  if (!Number.isInteger(sampleRate) || sampleRate < 1 || sampleRate > 0xffffffff) {
    throw invalidInput(storage, `sampleRate must be a positive integer, got ${String(sampleRate)}.`);
  }
  let samples: Int16Array | Float32Array;
  let channelCount: number;
  if (Array.isArray(data)) {
    ({ samples, channelCount } = interleaveChannels(data as unknown[], channels, storage));
  } else if (data instanceof Int16Array || data instanceof Float32Array) {
    channelCount = channels ?? 1;
    if (!Number.isInteger(channelCount) || channelCount < 1 || channelCount > 65535) {
      throw invalidInput(storage, `channels must be an integer from 1 to 65535, got ${String(channels)}.`);
    }
    if (data.length % channelCount !== 0) {
      throw invalidInput(storage, `${data.length} interleaved samples do not divide into ${channelCount} channels.`);
    }
    samples = data;
  } else {
    throw invalidInput(storage, `data must be an Int16Array, a Float32Array or an array of Float32Array (one per channel), got ${describeValue(data)}.`);
  }
  const layout: WavLayout = {
    formatTag: samples instanceof Int16Array ? PCM : IEEE_FLOAT,
    channels: channelCount,
    sampleRate,
    bitsPerSample: samples instanceof Int16Array ? 16 : 32,
    frames: samples.length / channelCount,
  };
  const problem = wavLayoutProblem(layout);
  if (problem !== undefined) throw invalidInput(storage, problem);
  return { layout, samples };
}

function interleaveChannels(
  data: readonly unknown[],
  channels: number | undefined,
  storage: ArtifactStorage,
): { samples: Float32Array; channelCount: number } {
  if (data.length < 1 || data.length > 65535) throw invalidInput(storage, `data must hold 1 to 65535 channels, got ${data.length}.`);
  if (channels !== undefined && channels !== data.length) {
    throw invalidInput(storage, `channels is ${String(channels)} but data holds ${data.length} channel arrays.`);
  }
  const arrays = data.map((channel, index) => {
    if (!(channel instanceof Float32Array)) throw invalidInput(storage, `data[${index}] must be a Float32Array, got ${describeValue(channel)}.`);
    return channel;
  });
  const frames = arrays[0]?.length ?? 0;
  const uneven = arrays.findIndex((channel) => channel.length !== frames);
  if (uneven !== -1) {
    throw invalidInput(storage, `data[${uneven}] has ${arrays[uneven]?.length} samples but data[0] has ${frames}; channels must be the same length.`);
  }
  const count = arrays.length;
  const samples = new Float32Array(frames * count);
  arrays.forEach((channel, index) => {
    for (let frame = 0; frame < frames; frame++) samples[frame * count + index] = channel[frame] as number;
  });
  return { samples, channelCount: count };
}
