/** Which preview a file gets, by its extension. */
import { extensionOf } from "./files.ts";

export type PreviewKind = "image" | "audio" | "video" | "json" | "yaml" | "csv" | "safetensors" | "log" | "text" | "binary";

const BY_EXTENSION: Readonly<Record<string, PreviewKind>> = {
  png: "image", jpg: "image", jpeg: "image", gif: "image", webp: "image", bmp: "image", svg: "image", avif: "image",
  wav: "audio", mp3: "audio", ogg: "audio", oga: "audio", flac: "audio", m4a: "audio", aac: "audio", opus: "audio",
  mp4: "video", m4v: "video", webm: "video", mov: "video", mkv: "video",
  json: "json", yaml: "yaml", yml: "yaml", csv: "csv", safetensors: "safetensors", log: "log",
  txt: "text", md: "text", tsv: "text", py: "text", ts: "text", js: "text", toml: "text", ini: "text", cfg: "text", sh: "text",
};

export function previewKind(path: string): PreviewKind {
  return BY_EXTENSION[extensionOf(path)] ?? "binary";
}

/** Kinds whose two versions can be shown side by side as lines. */
export function diffable(path: string): boolean {
  return ["json", "yaml", "csv", "text", "log"].includes(previewKind(path));
}
