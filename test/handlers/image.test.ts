import assert from "node:assert/strict";
import { it } from "node:test";
import sharp from "sharp";
import type { LoadedImage, RawImage } from "../../src/handlers/data-types.ts";
import { imageHandler } from "../../src/handlers/image.ts";
import { assertNothingStored, describeOverBackends, rejectsWith } from "./support.ts";

function gradient(width: number, height: number, channels: 1 | 2 | 3 | 4): RawImage {
  const data = new Uint8Array(width * height * channels);
  for (let index = 0; index < data.length; index++) data[index] = (index * 37 + (index >> 3)) % 256;
  return { data, width, height, channels };
}

/**
 * An uncompressed one-band little-endian TIFF of `width` × `height` samples, as PIL writes modes "F" (float, sample
 * format 3), "I" (signed, 2) and "I;16" (unsigned, 1).
 */
function tiff(width: number, height: number, bits: 16 | 32, sampleFormat: 1 | 2 | 3, samples: Uint8Array): Uint8Array {
  const tags: [number, number, number][] = [
    // [tag, type (3 SHORT, 4 LONG), value]
    [256, 4, width],
    [257, 4, height],
    [258, 3, bits],
    [259, 3, 1], // no compression
    [262, 3, 1], // black is zero
    [273, 4, 0], // strip offset, set below
    [277, 3, 1],
    [278, 4, height],
    [279, 4, samples.byteLength],
    [339, 3, sampleFormat],
  ];
  const ifdSize = 2 + tags.length * 12 + 4;
  const dataAt = 8 + ifdSize;
  const bytes = new Uint8Array(dataAt + samples.byteLength);
  const view = new DataView(bytes.buffer);
  bytes.set([0x49, 0x49, 42, 0], 0);
  view.setUint32(4, 8, true);
  view.setUint16(8, tags.length, true);
  tags.forEach(([tag, type, value], index) => {
    const at = 10 + index * 12;
    view.setUint16(at, tag, true);
    view.setUint16(at + 2, type, true);
    view.setUint32(at + 4, 1, true);
    const shown = tag === 273 ? dataAt : value;
    if (type === 3) view.setUint16(at + 8, shown, true);
    else view.setUint32(at + 8, shown, true);
  });
  bytes.set(samples, dataAt);
  return bytes;
}

const SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="30"><rect width="40" height="30" fill="#ff0000"/></svg>';

describeOverBackends("image handler", imageHandler, (h) => {
  it("round-trips raw pixels through PNG losslessly for 1 to 4 channels", async () => {
    for (const channels of [1, 2, 3, 4] as const) {
      const image = gradient(17, 9, channels);
      await h.save(`exact-${channels}.png`, image);
      const loaded = (await h.load(`exact-${channels}.png`)) as LoadedImage;
      assert.deepEqual(
        { width: loaded.width, height: loaded.height, channels: loaded.channels },
        { width: 17, height: 9, channels },
      );
      assert.equal(loaded.data.constructor, Uint8Array);
      assert.deepEqual(loaded.data, image.data);
    }
  });

  it("round-trips raw pixels through TIFF exactly for 1 to 4 channels, alpha and grey kept", async () => {
    for (const name of ["exact.tiff", "exact.tif"]) {
      for (const channels of [1, 2, 3, 4] as const) {
        const image = gradient(17, 9, channels);
        await h.save(name, image);
        const loaded = (await h.load(name)) as LoadedImage;
        assert.deepEqual([loaded.width, loaded.height, loaded.channels], [17, 9, channels], `${name} ${channels}`);
        assert.deepEqual(loaded.data, image.data, `${name} ${channels}`);
      }
    }
    // Encoded bytes of another format are re-encoded the same way.
    const png = await sharp(Buffer.from(gradient(8, 8, 4).data), { raw: { width: 8, height: 8, channels: 4 } }).png().toBuffer();
    await h.save("from-png.tiff", new Uint8Array(png));
    assert.deepEqual(((await h.load("from-png.tiff")) as LoadedImage).data, gradient(8, 8, 4).data);
  });

  it("writes WebP and AVIF lossy, at the quality asked for (grey as RGB)", async () => {
    for (const name of ["photo.webp", "photo.avif"]) {
      for (const channels of [1, 2, 3, 4] as const) {
        await h.save(name, gradient(17, 9, channels));
        const loaded = (await h.load(name)) as LoadedImage;
        // Neither format stores grey: grey loads as RGB (grey and alpha as RGBA).
        const expected = channels === 1 ? 3 : channels === 2 ? 4 : channels;
        assert.deepEqual([loaded.width, loaded.height, loaded.channels], [17, 9, expected], `${name} ${channels}`);
      }
      const image = gradient(64, 48, 3);
      const small = await h.save(name, image, { quality: 10 });
      const smallBytes = (await small.read()).byteLength;
      const large = await h.save(name, image, { quality: 95 });
      assert.ok((await large.read()).byteLength > smallBytes, `${name}: quality 95 is larger than quality 10`);
    }
  });

  it("accepts a Uint8ClampedArray", async () => {
    const image = gradient(4, 4, 4);
    await h.save("clamped.png", { ...image, data: new Uint8ClampedArray(image.data) });
    assert.deepEqual(((await h.load("clamped.png")) as LoadedImage).data, image.data);
  });

  it("encodes JPEG with the right dimensions and a JPEG signature", async () => {
    const storage = await h.save("photo.jpg", gradient(64, 48, 3), { quality: 90 });
    const bytes = await storage.read();
    assert.deepEqual([...bytes.subarray(0, 3)], [0xff, 0xd8, 0xff]);
    const loaded = (await h.load("photo.jpg")) as LoadedImage;
    assert.deepEqual([loaded.width, loaded.height, loaded.channels, loaded.data.length], [64, 48, 3, 64 * 48 * 3]);
  });

  it("encodes every supported extension in its own format", async () => {
    const expected: Record<string, string> = {
      "a.png": "png",
      "a.jpeg": "jpeg",
      "a.webp": "webp",
      "a.tiff": "tiff",
      "a.tif": "tiff",
      "a.avif": "heif",
      "a.gif": "gif",
    };
    for (const [name, format] of Object.entries(expected)) {
      const storage = await h.save(name, gradient(16, 8, 3));
      const metadata = await sharp(await storage.read()).metadata();
      assert.equal(metadata.format, format, name);
      const loaded = (await h.load(name)) as LoadedImage;
      assert.deepEqual([loaded.width, loaded.height], [16, 8], name);
    }
  });

  it("stores encoded bytes byte for byte when the format matches, and re-encodes when it does not", async () => {
    const png = await sharp(Buffer.from(gradient(10, 10, 3).data), { raw: { width: 10, height: 10, channels: 3 } }).png().toBuffer();
    const same = await h.save("same.png", new Uint8Array(png));
    assert.deepEqual(Buffer.from(await same.read()), png);
    const converted = await h.save("converted.webp", new Uint8Array(png));
    assert.equal((await sharp(await converted.read()).metadata()).format, "webp");
  });

  it("keeps SVG markup as text in .svg, rasterises it elsewhere", async () => {
    const svg = await h.save("plot.svg", SVG);
    assert.equal(await svg.readText(), SVG);
    const raster = (await h.load("plot.svg")) as LoadedImage;
    assert.deepEqual([raster.width, raster.height], [40, 30]);
    await h.save("plot.png", SVG);
    const loaded = (await h.load("plot.png")) as LoadedImage;
    assert.deepEqual([loaded.width, loaded.height, loaded.channels], [40, 30, 4]);
    assert.deepEqual([...loaded.data.subarray(0, 4)], [255, 0, 0, 255]);
  });

  it("refuses SVG markup with a lone surrogate, which UTF-8 cannot store", async () => {
    const markup = SVG.replace("</svg>", "<!-- \uD800 --></svg>");
    for (const name of ["lone.svg", "lone.png"]) {
      await rejectsWith(h.save(name, markup), "INVALID_ARGUMENT", name, "lone surrogate", `index ${markup.indexOf("\uD800")}`);
      await assertNothingStored((await h.at(name)).storage);
    }
  });

  it("encodes a sharp instance without changing it", async () => {
    const instance = sharp({ create: { width: 12, height: 7, channels: 3, background: { r: 0, g: 128, b: 255 } } });
    await h.save("made.png", instance);
    const loaded = (await h.load("made.png")) as LoadedImage;
    assert.deepEqual([loaded.width, loaded.height, loaded.channels], [12, 7, 3]);
    assert.deepEqual([...loaded.data.subarray(0, 3)], [0, 128, 255]);
    assert.equal((await instance.png().toBuffer({ resolveWithObject: true })).info.width, 12);
  });

  it("returns the stored bytes with { as: 'encoded' }", async () => {
    const storage = await h.save("enc.png", gradient(5, 5, 3));
    const bytes = await h.load("enc.png", { as: "encoded" });
    assert.ok(bytes instanceof Uint8Array);
    assert.deepEqual(Buffer.from(bytes as Uint8Array), Buffer.from(await storage.read()));
  });

  it("rejects bad input before writing", async () => {
    const cases: [unknown, string][] = [
      [{ data: new Uint8Array(10), width: 2, height: 2, channels: 3 }, "needs 12"],
      [{ data: new Uint8Array(10), width: 2, height: 5, channels: 5 }, "channels must be 1, 2, 3 or 4"],
      [{ data: new Uint8Array(0), width: 0, height: 1, channels: 1 }, "width must be a positive integer"],
      [{ data: [1, 2, 3], width: 1, height: 1, channels: 3 }, "Uint8Array"],
      [new Uint8Array([1, 2, 3, 4]), "not an image"],
      ["hello", "SVG markup"],
      [42, "image artifacts take"],
    ];
    for (const [value, part] of cases) {
      await rejectsWith(h.save("bad.png", value as RawImage), "INVALID_ARGUMENT", "bad.png", part);
    }
    await rejectsWith(h.save("bad.png", gradient(2, 2, 3), { quality: 0 }), "INVALID_ARGUMENT", "quality");
    await assertNothingStored((await h.at("bad.png")).storage);
    await rejectsWith(h.save("raster.svg", gradient(2, 2, 3)), "NOT_SUPPORTED", "raster.svg", "SVG");
    await rejectsWith(h.save("picture.bmp", gradient(2, 2, 3)), "NOT_SUPPORTED", "picture.bmp", ".png", ".avif");
    await rejectsWith(h.load("enc.png", { as: "pixels" as "raw" }), "INVALID_ARGUMENT", "as");
  });

  it("a TIFF of 32-bit float or integer samples is NOT_SUPPORTED naming them, never cast to 8 bits; 16-bit is scaled", async () => {
    const floats = new Float32Array([0, 0.25, 0.5, 0.75, 1, 0.1]);
    await h.plant("depth.tif", tiff(3, 2, 32, 3, new Uint8Array(floats.buffer)));
    await rejectsWith(h.load("depth.tif"), "NOT_SUPPORTED", "depth.tif", "32-bit float", 'as: "encoded"');
    assert.deepEqual(await h.load("depth.tif", { as: "encoded" }), tiff(3, 2, 32, 3, new Uint8Array(floats.buffer)));
    const ints = new Int32Array([0, 200, 400, 600, 800, 1000]);
    await h.plant("counts.tif", tiff(3, 2, 32, 2, new Uint8Array(ints.buffer)));
    await rejectsWith(h.load("counts.tif"), "NOT_SUPPORTED", "counts.tif", "32-bit signed integer");
    const words = new Uint16Array([0, 256, 512, 65535, 32768, 1024]);
    await h.plant("words.tif", tiff(3, 2, 16, 1, new Uint8Array(words.buffer)));
    const loaded = (await h.load("words.tif")) as LoadedImage;
    assert.deepEqual([loaded.width, loaded.height, loaded.channels], [3, 2, 1]);
    assert.deepEqual([...loaded.data], [0, 1, 2, 255, 128, 4]);
  });

  it("reports bytes that do not decode as CORRUPT_DATA naming the path", async () => {
    await h.plant("garbage.png", "definitely not a PNG");
    await rejectsWith(h.load("garbage.png"), "CORRUPT_DATA", "garbage.png");
    const png = await sharp(Buffer.from(gradient(32, 32, 3).data), { raw: { width: 32, height: 32, channels: 3 } }).png().toBuffer();
    await h.plant("truncated.png", png.subarray(0, png.length - 40));
    await rejectsWith(h.load("truncated.png"), "CORRUPT_DATA", "truncated.png");
  });
});
