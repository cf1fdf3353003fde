/**
 * video: encoded bytes, a stream or `{ file }` are stored as given (streams and files in constant memory); raw
 * frames of one size are encoded by ffmpeg (see ffmpeg.ts) into .mp4 .m4v .mov .mkv .webm or .avi, and fail with
 * NotSupportedError where ffmpeg is missing. Load returns the bytes.
 */
import { isByteSource, readBytes, writeByteSource } from "./byte-sources.ts";
import type { VideoInput, VideoSaveOptions } from "./data-types.ts";
import { describeValue, invalidInput, unsupportedExtension } from "./failures.ts";
import { containerArgs, encodeFrames, findFfmpeg, FRAME_VIDEO_EXTENSIONS } from "./ffmpeg.ts";
import { checkFrames } from "./pixels.ts";
import type { ArtifactHandler } from "./types.ts";

const DEFAULT_FPS = 30;

export const videoHandler: ArtifactHandler<VideoInput, Uint8Array, VideoSaveOptions> = {
  type: "video",

  async save(data, storage, options, context) {
    if (isByteSource(data)) return writeByteSource(data, storage);
    if (!Array.isArray(data)) {
      throw invalidInput(storage, `video artifacts take encoded bytes, a stream, { file } or an array of raw frames, got ${describeValue(data)}.`);
    }
    const frames = checkFrames(data, storage, "video");
    const fps = options?.fps ?? DEFAULT_FPS;
    if (typeof fps !== "number" || !Number.isFinite(fps) || fps <= 0 || fps > 1000) {
      throw invalidInput(storage, `fps must be a number above 0 and at most 1000, got ${String(fps)}.`);
    }
    const container = containerArgs(context.extension);
    if (container === undefined) throw unsupportedExtension(storage, "video frames", context.extension, FRAME_VIDEO_EXTENSIONS);
    const ffmpeg = await findFfmpeg(storage);
    await encodeFrames(ffmpeg, frames, fps, container, storage);
  },

  load(storage) {
    return readBytes(storage);
  },
};
