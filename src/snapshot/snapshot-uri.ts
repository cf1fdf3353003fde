/**
 * Snapshot URIs: `<root>/<name>/v3`, `<root>/<name>/v3:baseline`, `<root>/<name>/dev[:<tag>]`,
 * `<root>/<name>@latest`, `<root>/<name>@3`, `<root>/<name>@baseline`, for local paths and every URI scheme.
 * A selector never holds "@" (tags cannot), so `<name>@<selector>` splits at its last "@": a name may hold "@"
 * (`x@y@latest` is the name `x@y`). In a URI with a scheme the name is %-decoded, as the root's path is, so
 * `s3://b/runs/run%231@latest` is the name `run#1`; a local path is taken as written.
 */
import { InvalidArgumentError } from "../errors.ts";
import { parseLocation, redact, schemeLength, splitLastSegment } from "../uri.ts";
import { parseFolderName, type DEV_VERSION } from "./layout.ts";
import { isSnapshotName, validateSnapshotName, validateTag } from "./names.ts";

export type SnapshotSelector =
  | { readonly kind: "folder"; readonly version: number | typeof DEV_VERSION; readonly tag: string | undefined }
  | { readonly kind: "latest" }
  | { readonly kind: "number"; readonly version: number }
  | { readonly kind: "tag"; readonly tag: string };

export interface SnapshotAddress {
  /** The root the snapshot's name lives in (a path or URI). */
  readonly root: string;
  readonly name: string;
  readonly selector: SnapshotSelector;
}

export function parseSnapshotUri(uri: string): SnapshotAddress {
  if (typeof uri !== "string" || uri.trim() === "") {
    throw new InvalidArgumentError(`A snapshot URI must be a non-empty string, got ${JSON.stringify(uri)}.`);
  }
  parseLocation(uri); // a malformed URI is reported as such, not as a bad snapshot address
  const split = splitLastSegment(uri);
  if (split !== undefined) {
    const at = split.last.lastIndexOf("@");
    if (at !== -1) {
      const name = checkName(split.last.slice(0, at), uri);
      return { root: split.parent, name, selector: parseSelector(split.last.slice(at + 1), uri) };
    }
    const folder = parseFolderName(split.last);
    const named = split.parent === "." ? undefined : splitLastSegment(split.parent);
    if (folder !== undefined && named !== undefined) {
      const name = checkName(named.last, uri);
      return { root: named.parent, name, selector: { kind: "folder", version: folder.version, tag: folder.tag } };
    }
  }
  throw new InvalidArgumentError(
    `${redact(uri)} is not a snapshot URI: expected <root>/<name>/v<N>[:<tag>], <root>/<name>/dev[:<tag>] or ` +
      `<root>/<name>@latest|@<N>|@<tag>${latestHint(uri, split?.last)}.`,
    { path: redact(uri) },
  );
}

/** For a URI that ends in a name (`train`, `runs/train`): how to name its latest version. */
function latestHint(uri: string, last: string | undefined): string {
  if (last === undefined || parseFolderName(last) !== undefined) return "";
  let name: string;
  try {
    name = nameInUri(uri, last);
  } catch {
    return "";
  }
  if (!isSnapshotName(name)) return "";
  return ` (for the latest version of '${name}': ${redact(uri.replace(/\/+$/, ""))}@latest)`;
}

function parseSelector(selector: string, uri: string): SnapshotSelector {
  if (selector === "latest") return { kind: "latest" };
  if (/^\d{1,15}$/.test(selector)) return { kind: "number", version: Number(selector) };
  try {
    const tag = validateTag(selector);
    if (tag !== undefined) return { kind: "tag", tag };
  } catch {
    // reported below with the whole URI
  }
  throw new InvalidArgumentError(
    `Invalid selector "@${selector}" in ${redact(uri)}: use @latest, @<number> or @<tag> (a name holding "@" is ` +
      `written with its selector, as in <root>/x@y@latest).`,
    { path: redact(uri) },
  );
}

/** The snapshot name a URI's segment spells: %-decoded in a URI with a scheme, as written in a local path. */
export function nameInUri(uri: string, segment: string): string {
  if (schemeLength(uri) === 0) return segment;
  try {
    return decodeURIComponent(segment);
  } catch (error) {
    throw new InvalidArgumentError(`Invalid snapshot name "${segment}" in ${redact(uri)}: it has a malformed %-escape.`, {
      path: redact(uri),
      cause: error,
    });
  }
}

function checkName(segment: string, uri: string): string {
  const name = nameInUri(uri, segment);
  try {
    return validateSnapshotName(name);
  } catch (error) {
    throw new InvalidArgumentError(`${(error as Error).message.replace(/\.$/, "")}, in ${redact(uri)}.`, { path: redact(uri), cause: error });
  }
}
