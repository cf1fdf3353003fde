/**
 * Which object paths `pull` may write, and where. A path comes from the store, so it is untrusted: it must be a
 * plain relative path whose every segment is a portable file name, and it must resolve inside the destination.
 */
import { isAbsolute, join, relative, sep } from "node:path";

export type PathCheck = { readonly ok: true; readonly segments: readonly string[] } | { readonly ok: false; readonly problem: string };

/** The longest file name most file systems take, in bytes. */
const MAX_SEGMENT_BYTES = 255;
const WINDOWS_FORBIDDEN = /[<>:"|?*]/;
const WINDOWS_DEVICE = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$/i;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
/** Code points macOS (HFS+) ignores in names, so that ".g\u200cit" is ".git" there (git refuses these too). */
const HFS_IGNORED = /[\u200c-\u200f\u202a-\u202e\u206a-\u206f\ufeff]/g;

/** Checks a "/"-separated path relative to the version folder. */
export function checkPullPath(path: string, platform: NodeJS.Platform = process.platform): PathCheck {
  if (path === "") return refuse("the path is empty");
  if (path.includes("\0")) return refuse("the path contains NUL");
  if (path.includes("\\")) return refuse("the path contains a backslash");
  if (path.startsWith("/")) return refuse("the path is absolute");
  if (/^[A-Za-z]:/.test(path)) return refuse("the path starts with a drive letter");
  if (CONTROL.test(path)) return refuse("the path contains a control character");
  const segments = path.split("/");
  for (const segment of segments) {
    if (segment === "") return refuse("the path has an empty segment");
    if (segment === "." || segment === "..") return refuse(`the path has a '${segment}' segment`);
    if (isGitFolderName(segment)) {
      return refuse(`the path has a ${JSON.stringify(segment)} segment: a file there could change a git repository's configuration (git refuses such paths too)`);
    }
    if (Buffer.byteLength(segment, "utf8") > MAX_SEGMENT_BYTES) return refuse(`a name is longer than ${MAX_SEGMENT_BYTES} bytes`);
    if (platform === "win32") {
      if (WINDOWS_FORBIDDEN.test(segment)) return refuse(`"${segment}" has a character Windows does not allow in names`);
      if (WINDOWS_DEVICE.test(segment)) return refuse(`"${segment}" is a reserved device name on Windows`);
      if (/[. ]$/.test(segment)) return refuse(`"${segment}" ends with a dot or space, which Windows drops`);
    }
  }
  return { ok: true, segments };
}

/**
 * Whether a name is, on some file system, the folder `.git`: compared without case (macOS, Windows), without the
 * trailing dots and spaces Windows drops, without the code points HFS+ ignores, and as its Windows short name
 * `git~1`, as git itself does.
 */
function isGitFolderName(segment: string): boolean {
  const name = segment.replace(HFS_IGNORED, "").replace(/[. ]+$/, "").toLowerCase();
  return name === ".git" || name === "git~1";
}

/** The file path for checked segments under `destRoot`, or undefined if it would land outside (a last guard). */
export function pathInside(destRoot: string, segments: readonly string[]): string | undefined {
  const target = join(destRoot, ...segments);
  return isInside(destRoot, target) ? target : undefined;
}

/** True when `path` is `root` itself or below it (both absolute, already resolved). */
export function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === "" || (rel.split(sep)[0] !== ".." && !isAbsolute(rel));
}

function refuse(problem: string): PathCheck {
  return { ok: false, problem };
}
