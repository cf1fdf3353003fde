import assert from "node:assert/strict";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, afterEach, before, beforeEach, it } from "node:test";
import type { RawImage } from "../../src/handlers/data-types.ts";
import { FFMPEG_ENV } from "../../src/handlers/ffmpeg.ts";
import { videoHandler } from "../../src/handlers/video.ts";
import { assertNothingStored, describeOverBackends, rejectsWith } from "./support.ts";

function frame(value: number, width = 4, height = 2): RawImage {
  return { data: new Uint8Array(width * height * 3).fill(value), width, height, channels: 3 };
}

let scratch: string;
let savedEnv: { path: string | undefined; ffmpeg: string | undefined };

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), "opencrate-video-"));
});
after(async () => {
  await rm(scratch, { recursive: true, force: true });
});
beforeEach(() => {
  savedEnv = { path: process.env.PATH, ffmpeg: process.env[FFMPEG_ENV] };
});
afterEach(() => {
  process.env.PATH = savedEnv.path;
  if (savedEnv.ffmpeg === undefined) delete process.env[FFMPEG_ENV];
  else process.env[FFMPEG_ENV] = savedEnv.ffmpeg;
});

/** A stand-in ffmpeg (a shell script) so the spawn, stdin and stdout plumbing is exercised without ffmpeg. */
async function fakeFfmpeg(name: string, body: string): Promise<string> {
  const path = join(scratch, name);
  await writeFile(path, `#!/bin/sh\n${body}\n`);
  await chmod(path, 0o755);
  return path;
}

describeOverBackends("video handler", videoHandler, (h) => {
  it("stores encoded bytes as given and loads them back", async () => {
    const bytes = new Uint8Array([0, 0, 0, 0x18, 0x66, 0x74, 0x79, 0x70, 1, 2, 3]);
    await h.save("clip.mp4", bytes);
    const loaded = await h.load("clip.mp4");
    assert.equal(loaded.constructor, Uint8Array);
    assert.deepEqual(loaded, bytes);
  });

  it("streams a Readable, an async iterable and a local file", async () => {
    const chunks = [Buffer.alloc(70_000, 1), Buffer.alloc(70_000, 2)];
    await h.save("stream.webm", Readable.from(chunks));
    assert.deepEqual(Buffer.from(await h.load("stream.webm")), Buffer.concat(chunks));
    await h.save("iter.mkv", (async function* () {
      yield new Uint8Array([5, 6]);
      yield new Uint8Array([7]);
    })());
    assert.deepEqual([...(await h.load("iter.mkv"))], [5, 6, 7]);
    const file = join(scratch, "local.mov");
    await writeFile(file, Buffer.alloc(123_457, 9));
    await h.save("file.mov", { file });
    assert.deepEqual(Buffer.from(await h.load("file.mov")), await readFile(file));
  });

  it("fails with NOT_SUPPORTED naming ffmpeg when raw frames are given and ffmpeg is absent", async () => {
    delete process.env[FFMPEG_ENV];
    process.env.PATH = scratch;
    await rejectsWith(h.save("frames.mp4", [frame(0), frame(255)], { fps: 24 }), "NOT_SUPPORTED", "frames.mp4", "needs ffmpeg on PATH");
    await assertNothingStored((await h.at("frames.mp4")).storage);
    process.env[FFMPEG_ENV] = join(scratch, "no-such-ffmpeg");
    await rejectsWith(h.save("frames.mp4", [frame(0)]), "NOT_SUPPORTED", FFMPEG_ENV, "no-such-ffmpeg");
  });

  it("streams the frames through ffmpeg's stdin and stores its stdout (stand-in ffmpeg)", async () => {
    const argsFile = join(scratch, "args.txt");
    process.env[FFMPEG_ENV] = await fakeFfmpeg("cat-ffmpeg", `echo "$@" > ${argsFile}\ncat`);
    const frames = [frame(1, 64, 32), frame(2, 64, 32), frame(3, 64, 32)];
    await h.save("frames.mp4", frames, { fps: 12.5 });
    const stored = await h.load("frames.mp4");
    assert.deepEqual(Buffer.from(stored), Buffer.concat(frames.map((item) => Buffer.from(item.data))));
    const args = (await readFile(argsFile, "utf8")).trim();
    assert.match(args, /-f rawvideo -pix_fmt rgb24 -s 64x32 -r 12\.5 -i pipe:0 .*-movflags frag_keyframe\+empty_moov -f mp4 pipe:1$/);
  });

  it("stores nothing and reports ffmpeg's message when it fails", async () => {
    process.env[FFMPEG_ENV] = await fakeFfmpeg("failing-ffmpeg", 'head -c 10\necho "Unknown encoder libx264" >&2\nexit 1');
    const big = Array.from({ length: 8 }, (_, index) => frame(index, 512, 512));
    await rejectsWith(h.save("failed.webm", big), "NOT_SUPPORTED", "failed.webm", "exit code 1", "Unknown encoder libx264");
    await assertNothingStored((await h.at("failed.webm")).storage);
  });

  it("rejects bad frames, fps and extensions before looking for ffmpeg", async () => {
    process.env.PATH = scratch;
    await rejectsWith(h.save("bad.mp4", [frame(0), frame(0, 2, 2)]), "INVALID_ARGUMENT", "bad.mp4", "frame 1");
    await rejectsWith(h.save("bad.mp4", [frame(0)], { fps: 0 }), "INVALID_ARGUMENT", "fps");
    await rejectsWith(h.save("bad.mp4", "a string" as unknown as Uint8Array), "INVALID_ARGUMENT", "video artifacts take");
    await rejectsWith(h.save("bad.flv", [frame(0)]), "NOT_SUPPORTED", "bad.flv", ".mp4", ".webm");
    await assertNothingStored((await h.at("bad.mp4")).storage);
  });
});
