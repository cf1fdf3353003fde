/**
 * The one place that parses roots and locations: local paths, file://, s3://, gs:// and memory:// URIs, and splits
 * them into segments. Snapshot selectors (@latest, @3, @tag) are parsed in src/snapshot/snapshot-uri.ts on top of
 * this. Anything that looks like a URI but is malformed is refused here, never taken for a local path.
 */
import { fileURLToPath } from "node:url";
import { InvalidArgumentError } from "./errors.ts";
import { validateKey } from "./backends/keys.ts";

export type Location =
  /** A local folder or file path, as the user wrote it (relative paths stay relative). */
  | { readonly scheme: "file"; readonly path: string }
  /** A bucket plus a key prefix ("" or "a/b", never with leading or trailing "/"). */
  | { readonly scheme: "s3" | "gs"; readonly bucket: string; readonly prefix: string }
  /** An in-process store and a prefix inside it. */
  | { readonly scheme: "memory"; readonly name: string; readonly prefix: string };

/** Every scheme a location may have ("file" also stands for plain local paths). */
export const LOCATION_SCHEMES = ["file", "s3", "gs", "memory"] as const;

const SCHEME = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//;
/** "s3:/b", "xyz:/b": a scheme with one slash. */
const SCHEME_ONE_SLASH = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/(?!\/)/;
/** Scheme names that are never a local folder's first segment: "gs:b/x", "s3//b", "file:x". */
const KNOWN_SCHEMES = "s3|s3a|s3n|gs|gcs|file|memory|http|https";
const KNOWN_SCHEME_NO_SLASHES = new RegExp(`^(${KNOWN_SCHEMES}):(?!//)`, "i");
const KNOWN_SCHEME_NO_COLON = new RegExp(`^(${KNOWN_SCHEMES})//`, "i");
const S3_BUCKET = /^(?=.{3,63}$)[a-z0-9][a-z0-9.-]*[a-z0-9]$/;
const GCS_BUCKET = /^(?=.{3,222}$)[a-z0-9][a-z0-9._-]*[a-z0-9]$/;
const DOTTED_DECIMAL = /^\d{1,3}(\.\d{1,3}){3}$/;
/** `user:secret@` or `user@` after the scheme. The secret may hold "/" (AWS and HMAC secret keys do), so a
 * `user:` is masked through the first "@" wherever it is. */
const USER_INFO = /^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)(?:[^/@]*@|[^/@:]*:[^@]*@)/;

/** Parses a root, folder or object location. Throws InvalidArgumentError naming the input when malformed. */
export function parseLocation(input: string): Location {
  if (typeof input !== "string" || input.trim() === "") {
    throw new InvalidArgumentError(`A location must be a non-empty path or URI, got ${JSON.stringify(input)}.`);
  }
  const trimmed = input.trim();
  if (trimmed !== input && (SCHEME.test(trimmed) || malformedUriScheme(trimmed) !== undefined)) {
    // " s3://b/x" would be a local folder " s3:", and "s3://b/x " the prefix "x ".
    const shown = redactPadded(input);
    throw new InvalidArgumentError(
      `Malformed location ${JSON.stringify(shown)}: a URI must not start or end with white space.`,
      { path: shown },
    );
  }
  const match = SCHEME.exec(input);
  if (match === null) {
    checkNotAMalformedUri(input);
    if (input.includes("\0")) throw holdsNul(input);
    return { scheme: "file", path: input };
  }
  const scheme = (match[1] ?? "").toLowerCase();
  switch (scheme) {
    case "file":
      return { scheme: "file", path: parseFileUri(input) };
    case "s3":
    case "gs":
      return parseBucketUri(scheme, input);
    case "memory": {
      const { host, prefix } = splitAuthority(input, "memory");
      if (host === "") throw malformed(input, "memory:// needs a store name, as in memory://name/prefix");
      return { scheme: "memory", name: host, prefix };
    }
    default:
      throw new InvalidArgumentError(
        `Unsupported location scheme "${scheme}://" in ${redact(input)}: use a local path or ${LOCATION_SCHEMES.map((known) => `${known}://`).join(", ")}.`,
        { path: redact(input) },
      );
  }
}

/**
 * The parent location and last segment of a path or URI (trailing "/" ignored); undefined when there is no segment
 * past the root (a bucket, a store name, "/"). A bare relative name's parent is ".".
 */
export function splitLastSegment(input: string): { readonly parent: string; readonly last: string } | undefined {
  const schemeEnd = schemeLength(input);
  const trimmed = input.length > schemeEnd + 1 ? input.replace(/\/+$/, "") : input;
  const slash = trimmed.lastIndexOf("/");
  if (schemeEnd > 0) {
    const authorityEnd = trimmed.indexOf("/", schemeEnd);
    if (authorityEnd === -1 || slash < authorityEnd) return undefined;
    return { parent: trimmed.slice(0, slash), last: trimmed.slice(slash + 1) };
  }
  if (slash === -1) return trimmed === "" ? undefined : { parent: ".", last: trimmed };
  return { parent: slash === 0 ? "/" : trimmed.slice(0, slash), last: trimmed.slice(slash + 1) };
}

/** The length of the "scheme://" an input starts with; 0 for a local path. */
export function schemeLength(input: string): number {
  const match = SCHEME.exec(input);
  return match === null ? 0 : match[0].length;
}

/** The location as a canonical string (URIs without a trailing "/"). */
export function formatLocation(location: Location): string {
  switch (location.scheme) {
    case "file":
      return location.path;
    case "memory":
      return `memory://${location.name}${location.prefix === "" ? "" : `/${location.prefix}`}`;
    default:
      return `${location.scheme}://${location.bucket}${location.prefix === "" ? "" : `/${location.prefix}`}`;
  }
}

/** Removes credentials (user:secret@) from a URI so it can appear in messages. */
export function redact(input: string): string {
  return input.replace(USER_INFO, "$1***@");
}

/** `redact` for an input with white space around it, which is kept as it is. */
export function redactPadded(input: string): string {
  const trimmed = input.trim();
  const start = input.indexOf(trimmed);
  return `${input.slice(0, start)}${redact(trimmed)}${input.slice(start + trimmed.length)}`;
}

function malformedUriScheme(input: string): string | undefined {
  const oneSlash = SCHEME_ONE_SLASH.exec(input);
  const noSlashes = KNOWN_SCHEME_NO_SLASHES.exec(input);
  const noColon = KNOWN_SCHEME_NO_COLON.exec(input);
  return (oneSlash ?? noSlashes ?? noColon)?.[1];
}

/** Throws InvalidArgumentError for a local-looking input that is really a mistyped URI. */
function checkNotAMalformedUri(input: string): void {
  const scheme = malformedUriScheme(input);
  if (scheme === undefined) return;
  throw malformed(input, `it looks like a URI, but a scheme is written "${scheme.toLowerCase()}://" (use ./${input} for a local folder)`);
}

function parseFileUri(input: string): string {
  // fileURLToPath takes "file://" and "file://localhost" for "/": a truncated URI must not mean the file-system root.
  if (!(input.slice("file://".length).split(/[?#]/)[0] ?? "").includes("/")) {
    throw malformed(input, "a file:// URI needs an absolute path, as in file:///data/runs");
  }
  let path: string;
  try {
    path = fileURLToPath(input);
  } catch (error) {
    throw malformed(input, "a file:// URI must be absolute, as in file:///data/runs", error);
  }
  if (path.includes("\0")) throw holdsNul(input);
  return path;
}

function parseBucketUri(scheme: "s3" | "gs", input: string): Location {
  const { host: bucket, prefix } = splitAuthority(input, scheme);
  if (bucket === "") throw malformed(input, `${scheme}:// needs a bucket, as in ${scheme}://bucket/prefix`);
  const valid = scheme === "s3" ? S3_BUCKET.test(bucket) && !bucket.includes("..") : isGcsBucket(bucket);
  if (!valid) {
    const rule =
      scheme === "s3"
        ? '3-63 characters: lower-case letters, digits, "-" and "."'
        : '3-63 characters, or up to 222 in dot-separated parts of at most 63: lower-case letters, digits, "-", "_" and "."; not an IP address';
    throw malformed(input, `"${bucket}" is not a valid bucket name (${rule}; starting and ending with a letter or digit)`);
  }
  return { scheme, bucket, prefix };
}

/** GCS bucket naming: https://cloud.google.com/storage/docs/buckets#naming */
function isGcsBucket(bucket: string): boolean {
  const parts = bucket.split(".");
  return (
    GCS_BUCKET.test(bucket) &&
    (parts.length > 1 || bucket.length <= 63) &&
    parts.every((part) => part.length > 0 && part.length <= 63) &&
    !DOTTED_DECIMAL.test(bucket)
  );
}

function splitAuthority(input: string, scheme: string): { host: string; prefix: string } {
  const rest = input.slice(`${scheme}://`.length);
  if (/[?#]/.test(rest)) {
    throw malformed(input, 'query strings and fragments are not supported (a "?" or "#" in a name is written %3F or %23)');
  }
  const slash = rest.indexOf("/");
  const host = slash === -1 ? rest : rest.slice(0, slash);
  // A bucket or store name never holds "@" or ":"; with an "@" later on, a "user:secret/…@" was meant.
  if (host.includes("@") || (host.includes(":") && rest.includes("@"))) {
    throw malformed(input, "credentials do not belong in the URI; use the SDK's standard credential chain");
  }
  const rawPrefix = slash === -1 ? "" : rest.slice(slash + 1).replace(/\/+$/, "");
  let prefix = rawPrefix;
  try {
    prefix = decodeURIComponent(rawPrefix);
  } catch (error) {
    throw malformed(input, "the path has a malformed %-escape", error);
  }
  if (prefix !== "") {
    try {
      validateKey(prefix);
    } catch (error) {
      throw malformed(input, (error as Error).message, error);
    }
  }
  return { host, prefix };
}

/** Quoted, so the NUL shows in the message as \u0000. */
function holdsNul(input: string): InvalidArgumentError {
  return new InvalidArgumentError(`Malformed location ${JSON.stringify(redact(input))}: a path cannot hold a NUL byte.`, {
    path: redact(input),
  });
}

function malformed(input: string, why: string, cause?: unknown): InvalidArgumentError {
  return new InvalidArgumentError(`Malformed location ${redact(input)}: ${why}.`, {
    path: redact(input),
    ...(cause === undefined ? {} : { cause }),
  });
}
