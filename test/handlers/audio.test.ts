import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { it } from "node:test";
import { audioHandler } from "../../src/handlers/audio.ts";
import type { LoadedAudio, WavAudio } from "../../src/handlers/data-types.ts";
import { assertNothingStored, describeOverBackends, rejectsWith } from "./support.ts";

/** Little-endian byte builders for hand-made WAV files. */
const ascii = (text: string): number[] => [...text].map((char) => char.charCodeAt(0));
const u16 = (value: number): number[] => [value & 0xff, (value >> 8) & 0xff];
const u32 = (value: number): number[] => [value & 0xff, (value >> 8) & 0xff, (value >> 16) & 0xff, (value >>> 24) & 0xff];
function chunk(id: string, body: number[]): number[] {
  return [...ascii(id), ...u32(body.length), ...body, ...(body.length % 2 === 1 ? [0] : [])];
}
function riff(...chunks: number[][]): Uint8Array {
  const body = [...ascii("WAVE"), ...chunks.flat()];
  return new Uint8Array([...ascii("RIFF"), ...u32(body.length), ...body]);
}
function fmt(tag: number, channels: number, rate: number, bits: number): number[] {
  const align = channels * (bits / 8);
  return chunk("fmt ", [...u16(tag), ...u16(channels), ...u32(rate), ...u32(rate * align), ...u16(align), ...u16(bits)]);
}
function floatBytes(values: number[], size: 4 | 8): number[] {
  const view = new DataView(new ArrayBuffer(values.length * size));
  values.forEach((value, index) => (size === 4 ? view.setFloat32(index * 4, value, true) : view.setFloat64(index * 8, value, true)));
  return [...new Uint8Array(view.buffer)];
}

describeOverBackends("audio handler", audioHandler, (h) => {
  it("writes a 16-bit PCM WAV whose header is right byte for byte", async () => {
    const storage = await h.save("tiny.wav", { data: new Int16Array([0, 1, -1, 32767]), sampleRate: 8000 });
    const expected = [
      ...ascii("RIFF"), ...u32(44), ...ascii("WAVE"),
      ...ascii("fmt "), ...u32(16), ...u16(1), ...u16(1), ...u32(8000), ...u32(16000), ...u16(2), ...u16(16),
      ...ascii("data"), ...u32(8), 0x00, 0x00, 0x01, 0x00, 0xff, 0xff, 0xff, 0x7f,
    ];
    assert.deepEqual([...(await storage.read())], expected);
    const loaded = (await h.load("tiny.wav")) as LoadedAudio;
    assert.equal(loaded.sampleRate, 8000);
    assert.equal(loaded.duration, 4 / 8000);
    assert.deepEqual([...(loaded.channels[0] ?? [])], [0, 1 / 32768, -1 / 32768, 32767 / 32768]);
  });

  it("writes 32-bit float with the 18-byte fmt chunk and a fact chunk, losslessly", async () => {
    const data = new Float32Array([0.5, -0.25, 1.5, -1]);
    const storage = await h.save("float.wav", { data, sampleRate: 48000, channels: 2 });
    const expected = [
      ...ascii("RIFF"), ...u32(4 + 26 + 12 + 8 + 16), ...ascii("WAVE"),
      ...ascii("fmt "), ...u32(18), ...u16(3), ...u16(2), ...u32(48000), ...u32(48000 * 8), ...u16(8), ...u16(32), ...u16(0),
      ...ascii("fact"), ...u32(4), ...u32(2),
      ...ascii("data"), ...u32(16), ...floatBytes([0.5, -0.25, 1.5, -1], 4),
    ];
    assert.deepEqual([...(await storage.read())], expected);
    const loaded = (await h.load("float.wav")) as LoadedAudio;
    assert.deepEqual(loaded.channels.map((channel) => [...channel]), [[0.5, 1.5], [-0.25, -1]]);
    assert.equal(loaded.duration, 2 / 48000);
  });

  it("interleaves one Float32Array per channel", async () => {
    const left = new Float32Array([0.1, 0.2, 0.3]);
    const right = new Float32Array([-0.1, -0.2, -0.3]);
    await h.save("stereo.wav", { data: [left, right], sampleRate: 44100 });
    const loaded = (await h.load("stereo.wav")) as LoadedAudio;
    assert.deepEqual(loaded.channels, [left, right]);
    assert.equal(loaded.sampleRate, 44100);
  });

  it("round-trips a second of 16-bit sine within one quantisation step", async () => {
    const rate = 16000;
    const samples = new Int16Array(rate);
    for (let index = 0; index < rate; index++) samples[index] = Math.round(0.3 * 32767 * Math.sin((2 * Math.PI * 220 * index) / rate));
    await h.save("sine.wav", { data: samples, sampleRate: rate });
    const loaded = (await h.load("sine.wav")) as LoadedAudio;
    assert.equal(loaded.duration, 1);
    const channel = loaded.channels[0] as Float32Array;
    for (let index = 0; index < rate; index += 97) assert.equal(Math.round(channel[index]! * 32768), samples[index]);
  });

  it("reads PCM 8, 24 and 32 bits and float 64", async () => {
    await h.plant("u8.wav", riff(fmt(1, 1, 100, 8), chunk("data", [0, 128, 255])));
    assert.deepEqual([...((await h.load("u8.wav")) as LoadedAudio).channels[0]!], [-1, 0, 127 / 128]);
    await h.plant("s24.wav", riff(fmt(1, 1, 100, 24), chunk("data", [0x00, 0x00, 0x80, 0xff, 0xff, 0x7f, 0x00, 0x00, 0x40])));
    assert.deepEqual([...((await h.load("s24.wav")) as LoadedAudio).channels[0]!], [-1, 8388607 / 8388608, 0.5]);
    await h.plant("s32.wav", riff(fmt(1, 1, 100, 32), chunk("data", [...u32(0x80000000), ...u32(0x40000000)])));
    assert.deepEqual([...((await h.load("s32.wav")) as LoadedAudio).channels[0]!], [-1, 0.5]);
    await h.plant("f64.wav", riff(fmt(3, 2, 100, 64), chunk("data", floatBytes([0.25, -0.75], 8))));
    const f64 = (await h.load("f64.wav")) as LoadedAudio;
    assert.deepEqual(f64.channels.map((channel) => [...channel]), [[0.25], [-0.75]]);
  });

  it("reads WAVE_FORMAT_EXTENSIBLE and skips unknown chunks, odd-sized ones included", async () => {
    const guidTail = [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71];
    const extensible = chunk("fmt ", [
      ...u16(0xfffe), ...u16(1), ...u32(22050), ...u32(22050 * 2), ...u16(2), ...u16(16),
      ...u16(22), ...u16(16), ...u32(4), ...u16(1), ...guidTail,
    ]);
    const file = riff(chunk("JUNK", [1, 2, 3]), extensible, chunk("LIST", [9, 9, 9, 9, 9]), chunk("data", [...u16(16384), ...u16(0xc000)]));
    await h.plant("ext.wav", file);
    const loaded = (await h.load("ext.wav")) as LoadedAudio;
    assert.equal(loaded.sampleRate, 22050);
    assert.deepEqual([...loaded.channels[0]!], [0.5, -0.5]);
  });

  it("reports broken WAV files as CORRUPT_DATA naming the path", async () => {
    const cases: [Uint8Array, string][] = [
      [new Uint8Array(ascii("RIFF1234AVI ")), "RIFF/WAVE"],
      [new Uint8Array(ascii("RIFF")), "RIFF/WAVE"],
      [riff(fmt(1, 1, 100, 16), [...ascii("data"), ...u32(1000), 1, 2, 3, 4]), "truncated"],
      [riff(chunk("data", [0, 0])), "no 'fmt '"],
      [riff(fmt(1, 1, 100, 16)), "no 'data'"],
      [riff(chunk("fmt ", [1, 0, 1, 0]), chunk("data", [])), "fewer than 16"],
      [riff(chunk("fmt ", [...u16(1), ...u16(2), ...u32(100), ...u32(400), ...u16(3), ...u16(16)]), chunk("data", [])), "block align"],
    ];
    for (const [bytes, part] of cases) {
      await h.plant("broken.wav", bytes);
      await rejectsWith(h.load("broken.wav"), "CORRUPT_DATA", "broken.wav", part);
    }
  });

  it("reports a valid WAV in an encoding or container it does not decode as NOT_SUPPORTED naming it", async () => {
    // As soundfile writes μ-law and A-law: an 18-byte fmt chunk and a fact chunk.
    const companded = (tag: number): Uint8Array =>
      riff(
        chunk("fmt ", [...u16(tag), ...u16(1), ...u32(8000), ...u32(8000), ...u16(1), ...u16(8), ...u16(0)]),
        chunk("fact", u32(4)),
        chunk("data", [0xff, 0xc4, 0xb5, 0xac]),
      );
    const guidTail = [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71];
    const extensibleMulaw = riff(
      chunk("fmt ", [...u16(0xfffe), ...u16(1), ...u32(8000), ...u32(8000), ...u16(1), ...u16(8), ...u16(22), ...u16(8), ...u32(4), ...u16(7), ...guidTail]),
      chunk("data", [0xff, 0x7f]),
    );
    // RF64 as soundfile writes it: sizes 0xFFFFFFFF in the header, the real ones in a ds64 chunk.
    const ds64 = chunk("ds64", [...u32(100), ...u32(0), ...u32(4), ...u32(0), ...u32(2), ...u32(0), ...u32(0)]);
    const sixtyFour = (container: string): Uint8Array =>
      new Uint8Array([...ascii(container), ...u32(0xffffffff), ...ascii("WAVE"), ...ds64, ...fmt(1, 1, 8000, 16), ...ascii("data"), ...u32(0xffffffff), 0, 0, 1, 0]);
    const bigEndian = new Uint8Array([...ascii("RIFX"), 0, 0, 0, 40, ...ascii("WAVE"), ...ascii("fmt "), 0, 0, 0, 16, 0, 1, 0, 1]);
    const cases: [Uint8Array, ...string[]][] = [
      [companded(7), "μ-law (format 7)", "8 bits"],
      [companded(6), "A-law (format 6)"],
      [extensibleMulaw, "μ-law (format 7)"],
      [riff(fmt(0x11, 1, 8000, 4), chunk("data", [0, 0])), "IMA ADPCM (format 17)"],
      [riff(fmt(0x1234, 1, 8000, 16), chunk("data", [0, 0])), "format 0x1234"],
      [riff(fmt(1, 1, 100, 12), chunk("data", [])), "PCM (format 1) with 12 bits"],
      [riff(fmt(3, 1, 100, 16), chunk("data", [0, 0])), "float (format 3) with 16 bits"],
      [sixtyFour("RF64"), "RF64"],
      [sixtyFour("BW64"), "BW64"],
      [bigEndian, "RIFX", "big-endian"],
    ];
    for (const [bytes, ...parts] of cases) {
      await h.plant("other.wav", bytes);
      await rejectsWith(h.load("other.wav"), "NOT_SUPPORTED", "other.wav", ...parts, "PCM 8/16/24/32-bit", "openRead()");
    }
  });

  it("stores other formats as bytes, from bytes or a stream", async () => {
    const mp3 = new Uint8Array([0x49, 0x44, 0x33, 4, 0, 0, 1, 2]);
    await h.save("song.mp3", mp3);
    assert.deepEqual(await h.load("song.mp3"), mp3);
    await h.save("song.flac", Readable.from([Buffer.from("fLaC"), Buffer.from([1, 2])]));
    assert.deepEqual(Buffer.from((await h.load("song.flac")) as Uint8Array), Buffer.from([0x66, 0x4c, 0x61, 0x43, 1, 2]));
    const wavBytes = riff(fmt(1, 1, 100, 16), chunk("data", [0, 0]));
    await h.save("given.wav", wavBytes);
    assert.equal(((await h.load("given.wav")) as LoadedAudio).channels[0]?.length, 1);
  });

  it("rejects bad audio before writing", async () => {
    const cases: [string, unknown, string][] = [
      ["bad.wav", { data: new Int16Array(3), sampleRate: 8000, channels: 2 }, "do not divide into 2 channels"],
      ["bad.wav", { data: new Int16Array(2), sampleRate: 0 }, "sampleRate"],
      ["bad.wav", { data: new Float64Array(2), sampleRate: 8000 }, "Int16Array"],
      ["bad.wav", { data: [new Float32Array(2), new Float32Array(3)], sampleRate: 8000 }, "same length"],
      ["bad.wav", { data: [new Float32Array(2)], sampleRate: 8000, channels: 2 }, "channels is 2"],
      ["bad.wav", { data: [new Int16Array(2)], sampleRate: 8000 }, "data[0] must be a Float32Array"],
      ["bad.wav", "noise", "sampleRate"],
      ["bad.mp3", { data: new Int16Array(2), sampleRate: 8000 }, "only .wav"],
    ];
    for (const [name, audio, part] of cases) {
      await rejectsWith(h.save(name, audio as WavAudio), "INVALID_ARGUMENT", name, part);
    }
    await assertNothingStored((await h.at("bad.wav")).storage);
  });

  it("refuses channel counts and sample rates whose header fields would wrap, and writes those at the limits", async () => {
    const cases: [WavAudio, string][] = [
      // block align (bytes per sample frame) is a 16-bit field
      [{ data: new Float32Array(16384), sampleRate: 8000, channels: 16384 }, "65536 bytes per sample frame"],
      [{ data: new Int16Array(32768), sampleRate: 8000, channels: 32768 }, "at most 32767 channels"],
      [{ data: Array.from({ length: 16384 }, () => new Float32Array(1)), sampleRate: 8000 }, "at most 16383 channels"],
      // byte rate is a 32-bit field
      [{ data: new Float32Array(2), sampleRate: 2 ** 31, channels: 2 }, "bytes per second"],
      [{ data: new Int16Array(1), sampleRate: 2 ** 31 }, "4294967296 bytes per second"],
    ];
    for (const [audio, part] of cases) {
      await rejectsWith(h.save("wide.wav", audio), "INVALID_ARGUMENT", "wide.wav", part);
    }
    await assertNothingStored((await h.at("wide.wav")).storage);

    const widest = new Float32Array(16383).map((_, index) => index / 16383);
    await h.save("widest.wav", { data: widest, sampleRate: 8000, channels: 16383 });
    const loadedWide = (await h.load("widest.wav")) as LoadedAudio;
    assert.equal(loadedWide.channels.length, 16383);
    assert.equal(loadedWide.channels[16382]?.[0], widest[16382]);
    await h.save("fastest.wav", { data: new Int16Array([5, -5]), sampleRate: 2 ** 31 - 1 });
    const loadedFast = (await h.load("fastest.wav")) as LoadedAudio;
    assert.equal(loadedFast.sampleRate, 2 ** 31 - 1);
    assert.deepEqual([...(loadedFast.channels[0] ?? [])], [5 / 32768, -5 / 32768]);
  });
});
