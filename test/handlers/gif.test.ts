import assert from "node:assert/strict";
import { it } from "node:test";
import sharp from "sharp";
import type { RawImage } from "../../src/handlers/data-types.ts";
import { gifHandler } from "../../src/handlers/gif.ts";
import { assertNothingStored, describeOverBackends, rejectsWith } from "./support.ts";

/** A frame filled with one colour (GIF keeps few colours exactly). */
function solid(width: number, height: number, rgb: readonly number[], channels: 3 | 4 = 3, alpha = 255): RawImage {
  const data = new Uint8Array(width * height * channels);
  for (let pixel = 0; pixel < width * height; pixel++) {
    data.set(rgb, pixel * channels);
    if (channels === 4) data[pixel * 4 + 3] = alpha;
  }
  return { data, width, height, channels };
}

/** Left half one colour, right half another. */
function split(width: number, height: number, left: readonly number[], right: readonly number[]): RawImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set(x < width / 2 ? left : right, (y * width + x) * 3);
  return { data, width, height, channels: 3 };
}

describeOverBackends("gif handler", gifHandler, (h) => {
  it("round-trips frame count, size and pixel values, duplicate frames kept", async () => {
    const frames = [
      solid(6, 4, [255, 0, 0]),
      split(6, 4, [0, 255, 0], [0, 0, 255]),
      split(6, 4, [0, 255, 0], [0, 0, 255]),
      solid(6, 4, [10, 20, 30]),
    ];
    const storage = await h.save("anim.gif", frames, { delayMs: 80, loop: 2 });
    const metadata = await sharp(await storage.read()).metadata();
    assert.deepEqual([metadata.format, metadata.pages, metadata.loop], ["gif", 4, 2]);
    assert.deepEqual(metadata.delay, [80, 80, 80, 80]);
    const loaded = await h.load("anim.gif");
    assert.equal(loaded.length, 4);
    loaded.forEach((frame, index) => {
      assert.deepEqual([frame.width, frame.height, frame.channels], [6, 4, 3]);
      assert.deepEqual(frame.data, frames[index]?.data, `frame ${index}`);
    });
  });

  it("takes one delay per frame and loops forever by default", async () => {
    const storage = await h.save("delays.gif", [solid(2, 2, [1, 2, 3]), solid(2, 2, [200, 100, 50])], { delayMs: [40, 500] });
    const metadata = await sharp(await storage.read()).metadata();
    assert.deepEqual([metadata.delay, metadata.loop], [[40, 500], 0]);
  });

  it("returns RGBA frames when some pixel is transparent", async () => {
    const frames = [solid(3, 3, [255, 255, 255], 4, 0), solid(3, 3, [0, 0, 0], 4, 255)];
    await h.save("alpha.gif", frames);
    const loaded = await h.load("alpha.gif");
    assert.deepEqual(loaded.map((frame) => frame.channels), [4, 4]);
    assert.equal(loaded[0]?.data[3], 0);
    assert.deepEqual([...(loaded[1]?.data.subarray(0, 4) ?? [])], [0, 0, 0, 255]);
  });

  it("encodes grey frames", async () => {
    const grey = (value: number): RawImage => ({ data: new Uint8Array(8).fill(value), width: 4, height: 2, channels: 1 });
    await h.save("grey.gif", [grey(0), grey(255)]);
    const loaded = await h.load("grey.gif");
    assert.deepEqual([...(loaded[1]?.data.subarray(0, 3) ?? [])], [255, 255, 255]);
  });

  it("loads a single-frame GIF as one frame", async () => {
    const gif = await sharp(Buffer.from(solid(5, 3, [9, 9, 9]).data), { raw: { width: 5, height: 3, channels: 3 } }).gif().toBuffer();
    await h.plant("still.gif", gif);
    const loaded = await h.load("still.gif");
    assert.deepEqual(loaded.map((frame) => [frame.width, frame.height]), [[5, 3]]);
  });

  it("rejects bad frames and options before writing", async () => {
    const cases: [unknown, object | undefined, string][] = [
      [[], undefined, "at least one frame"],
      [solid(2, 2, [0, 0, 0]), undefined, "array of raw frames"],
      [[solid(2, 2, [0, 0, 0]), solid(3, 2, [0, 0, 0])], undefined, "frame 1 is 3×2×3"],
      [[{ data: new Uint8Array(3), width: 2, height: 2, channels: 3 }], undefined, "frame 0.data has 3 bytes"],
      [[solid(2, 2, [0, 0, 0])], { delayMs: -1 }, "delayMs"],
      [[solid(2, 2, [0, 0, 0])], { delayMs: [10, 20] }, "2 entries for 1 frames"],
      [[solid(2, 2, [0, 0, 0])], { loop: 1.5 }, "loop"],
    ];
    for (const [frames, options, part] of cases) {
      await rejectsWith(h.save("bad.gif", frames as RawImage[], options), "INVALID_ARGUMENT", "bad.gif", part);
    }
    await assertNothingStored((await h.at("bad.gif")).storage);
  });

  it("reports bytes that are not a GIF as CORRUPT_DATA", async () => {
    await h.plant("broken.gif", "GIF89a but not really");
    await rejectsWith(h.load("broken.gif"), "CORRUPT_DATA", "broken.gif");
  });
});
