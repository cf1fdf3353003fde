/**
 * Encoding raw frames with an ffmpeg binary: `OPENCRATE_FFMPEG` (a path) or `ffmpeg` on PATH. Frames go to its
 * stdin as raw video, the container comes back on stdout and streams straight into storage, so memory stays at
 * about one frame. A non-zero exit fails the stream before the write commits, so nothing partial is stored.
 */
import { spawn } from "node:child_process";
import { constants } from "node:fs";
import { access, stat } from "node:fs/promises";
import { delimiter, join } from "node:path";
import { PassThrough, type Writable } from "node:stream";
import { NotSupportedError } from "../errors.ts";
import type { RawImage } from "./data-types.ts";
import { messageOf } from "./failures.ts";
import type { ArtifactStorage } from "./types.ts";

export const FFMPEG_ENV = "OPENCRATE_FFMPEG";

/** Muxer and extra output flags per extension. MP4/MOV need fragmenting to be written to a pipe. */
const CONTAINERS: Readonly<Record<string, readonly string[]>> = {
  ".mp4": ["-movflags", "frag_keyframe+empty_moov", "-f", "mp4"],
  ".m4v": ["-movflags", "frag_keyframe+empty_moov", "-f", "mp4"],
  ".mov": ["-movflags", "frag_keyframe+empty_moov", "-f", "mov"],
  ".mkv": ["-f", "matroska"],
  ".webm": ["-f", "webm"],
  ".avi": ["-f", "avi"],
};
export const FRAME_VIDEO_EXTENSIONS: readonly string[] = Object.keys(CONTAINERS);

/** ffmpeg's output flags for a video extension, or undefined when frames cannot be encoded into it. */
export function containerArgs(extension: string): readonly string[] | undefined {
  return CONTAINERS[extension];
}

const PIXEL_FORMATS = { 1: "gray", 2: "ya8", 3: "rgb24", 4: "rgba" } as const;
const STDERR_TAIL = 4000;

/** The ffmpeg to run, or NotSupportedError when there is none. */
export async function findFfmpeg(storage: ArtifactStorage): Promise<string> {
  const configured = process.env[FFMPEG_ENV];
  if (configured !== undefined && configured !== "") {
    if (await isExecutable(configured)) return configured;
    throw new NotSupportedError(
      `Cannot encode frames into ${storage.path}: ${FFMPEG_ENV} is ${configured}, which is not an executable file.`,
      { path: storage.path },
    );
  }
  const names = process.platform === "win32" ? ["ffmpeg.exe", "ffmpeg"] : ["ffmpeg"];
  for (const folder of (process.env.PATH ?? "").split(delimiter)) {
    if (folder === "") continue;
    for (const name of names) {
      const candidate = join(folder, name);
      if (await isExecutable(candidate)) return candidate;
    }
  }
  throw new NotSupportedError(
    `Cannot encode frames into ${storage.path}: encoding raw frames needs ffmpeg on PATH (or ${FFMPEG_ENV} set to its path). ` +
      "Save encoded bytes, a stream or { file } instead.",
    { path: storage.path },
  );
}

/** Runs ffmpeg over the frames and streams its output into the artifact. */
export async function encodeFrames(
  ffmpeg: string,
  frames: readonly RawImage[],
  fps: number,
  container: readonly string[],
  storage: ArtifactStorage,
): Promise<void> {
  const first = frames[0] as RawImage;
  const args = [
    "-hide_banner",
    "-loglevel",
    "error",
    "-f",
    "rawvideo",
    "-pix_fmt",
    PIXEL_FORMATS[first.channels],
    "-s",
    `${first.width}x${first.height}`,
    "-r",
    String(fps),
    "-i",
    "pipe:0",
    "-vf",
    "pad=ceil(iw/2)*2:ceil(ih/2)*2",
    "-pix_fmt",
    "yuv420p",
    ...container,
    "pipe:1",
  ];
  const child = spawn(ffmpeg, args, { stdio: ["pipe", "pipe", "pipe"] });
  // An early exit makes stdin fail with EPIPE; the exit status reports the failure instead.
  child.stdin.on("error", () => {});
  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (text: string) => {
    stderr = (stderr + text).slice(-STDERR_TAIL);
  });
  const exited = new Promise<number | string>((resolve) => {
    child.once("error", (error) => resolve(messageOf(error)));
    child.once("close", (code, signal) => resolve(code ?? `killed by ${signal ?? "a signal"}`));
  });
  // Take stdout over at once: Node drains (discards) a child's unread stdout when the child exits, and ffmpeg can
  // finish before the backend starts pulling. The PassThrough buffers it with backpressure instead.
  const stdout = child.stdout.pipe(new PassThrough());
  const fed = feedFrames(child.stdin, frames);
  const failure = (reason: string): NotSupportedError =>
    new NotSupportedError(`ffmpeg (${ffmpeg}) could not encode the frames into ${storage.path}: ${reason}`, { path: storage.path });

  async function* output(): AsyncGenerator<Uint8Array> {
    for await (const chunk of stdout) yield chunk as Uint8Array;
    const status = await exited;
    await fed;
    if (status !== 0) throw failure(`${typeof status === "number" ? `exit code ${status}` : status}. ${stderr.trim()}`.trim());
  }

  try {
    await storage.writeStream(output());
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
}

/**
 * Writes the frames to ffmpeg's stdin, waiting whenever the pipe is full. Never rejects: when ffmpeg stops reading
 * (it failed), writing ends and its exit status tells what happened.
 */
async function feedFrames(stdin: Writable, frames: readonly RawImage[]): Promise<void> {
  try {
    for (const frame of frames) {
      if (stdin.destroyed) return;
      const bytes = Buffer.from(frame.data.buffer, frame.data.byteOffset, frame.data.byteLength);
      if (!stdin.write(bytes)) await writable(stdin);
    }
  } finally {
    if (!stdin.destroyed) stdin.end();
  }
}

/** Resolves once the stream drains, fails or closes. */
function writable(stream: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off("drain", done).off("close", done).off("error", done);
      resolve();
    };
    stream.once("drain", done).once("close", done).once("error", done);
  });
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    if (!(await stat(path)).isFile()) return false;
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
