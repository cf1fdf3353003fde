/** The one place that decides what a storage key may look like. */
import { InvalidArgumentError } from "../errors.ts";

export const MAX_KEY_BYTES = 1024;

/**
 * The longest key `backend` takes, in UTF-8 bytes: 1024, less the root prefix on S3 and GCS, whose 1024-byte limit
 * counts the whole object name.
 */
export function keyBytesLimit(backend: { readonly maxKeyBytes?: number | undefined }): number {
  const limit = backend.maxKeyBytes;
  return typeof limit === "number" && Number.isFinite(limit) ? Math.min(limit, MAX_KEY_BYTES) : MAX_KEY_BYTES;
}

/** What is left of `limit` for the keys below `prefix` ("" or "a/b", joined to them with "/"). */
export function keyBytesUnder(prefix: string, limit: number = MAX_KEY_BYTES): number {
  return prefix === "" ? limit : limit - Buffer.byteLength(prefix, "utf8") - 1;
}

/** Names the library gives its own temp, lock and partial files start with; no key segment may. */
export const RESERVED_NAME_PREFIX = ".~oc-";

export function isReservedName(name: string): boolean {
  return name.startsWith(RESERVED_NAME_PREFIX);
}

/** The names of temps of writes in progress (see temp-names.ts), reserved like every `.~oc-` name. */
export const TEMP_NAME_PREFIX = `${RESERVED_NAME_PREFIX}tmp-`;

/**
 * True for a "folder marker": a zero-byte object whose key ends in "/", as the S3 and GCS consoles make to show an
 * empty folder. No listing on any backend gives one. An object ending in "/" that holds bytes is listed like any
 * other (no file can have its name, so `pull` refuses it by name rather than it going unseen).
 */
export function isFolderMarker(info: { readonly key: string; readonly size: number }): boolean {
  return info.key.endsWith("/") && info.size === 0;
}

/** C0 controls and DEL: a name holding one cannot be shown, typed or pulled to every file system. */
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;

/**
 * Throws InvalidArgumentError unless `key` is a valid object key: non-empty, "/"-separated, no leading "/", no
 * empty, "." or ".." segment, no segment starting with ".~oc-", no control character or backslash, at most 1024
 * UTF-8 bytes. The same rule holds on every backend. `where` names the location in the
 * message (for example the backend's `describe("")`).
 */
export function validateKey(key: string, where?: string): string {
  const problem = keyProblem(key, false);
  if (problem !== undefined) {
    const at = where === undefined ? "" : ` under ${where}`;
    throw new InvalidArgumentError(`Invalid storage key ${JSON.stringify(key)}${at}: ${problem}.`, { path: key });
  }
  return key;
}

/**
 * Throws InvalidArgumentError unless `key` is a valid key whose last segment is a temp's name (`.~oc-tmp-…`): the
 * keys `deleteTemps` takes, and no other method.
 */
export function validateTempKey(key: string, where?: string): string {
  const name = typeof key === "string" ? key.slice(key.lastIndexOf("/") + 1) : "";
  const problem = name.startsWith(TEMP_NAME_PREFIX) ? keyProblem(key, true) : `'${name}' is not a temp's name`;
  if (problem !== undefined) {
    const at = where === undefined ? "" : ` under ${where}`;
    throw new InvalidArgumentError(`Invalid temp key ${JSON.stringify(key)}${at}: ${problem}.`, { path: key });
  }
  return key;
}

/** Like validateKey, but also accepts "" (the root) and a trailing "/" (a folder prefix). */
export function validatePrefix(prefix: string, where?: string): string {
  if (typeof prefix !== "string") return validateKey(prefix, where);
  if (prefix === "") return prefix;
  const body = prefix.endsWith("/") ? prefix.slice(0, -1) : prefix;
  if (body === "") {
    throw new InvalidArgumentError(`Invalid storage prefix "/"${where === undefined ? "" : ` under ${where}`}.`, {
      path: prefix,
    });
  }
  validateKey(body, where);
  return prefix;
}

/**
 * Why `name` is not one segment of a valid key, or undefined when it is: validateKey's rule (not empty, not "." or
 * "..", no control character or backslash, not starting with ".~oc-"), and no "/". The rule for a name read from a
 * store that stands for one folder (a snapshot's name), as artifact reads take any valid key.
 */
export function keySegmentProblem(name: string): string | undefined {
  if (typeof name === "string" && name.includes("/")) return "a name must be one path segment, without '/'";
  return keyProblem(name, false);
}

function keyProblem(key: string, tempNameLast: boolean): string | undefined {
  if (typeof key !== "string") return "a key must be a string";
  if (key.length === 0) return "a key must not be empty";
  if (key.startsWith("/")) return "a key must not start with '/'";
  if (key.includes("\\")) return "a key must not contain '\\'";
  if (CONTROL_CHARACTER.test(key)) return "a key must not contain control characters";
  if (Buffer.byteLength(key, "utf8") > MAX_KEY_BYTES) return `a key must be at most ${MAX_KEY_BYTES} UTF-8 bytes`;
  const segments = key.split("/");
  for (const [index, segment] of segments.entries()) {
    if (segment === "") return "a key must not contain an empty segment ('//' or a trailing '/')";
    if (segment === "." || segment === "..") return `a key must not contain a '${segment}' segment`;
    if (tempNameLast && index === segments.length - 1 && segment.startsWith(TEMP_NAME_PREFIX)) continue;
    if (isReservedName(segment)) return `names starting with '${RESERVED_NAME_PREFIX}' are reserved for opencrate's temp and lock files`;
  }
  return undefined;
}

/** Joins key segments with "/", ignoring empty ones. Does not validate. */
export function joinKey(...parts: readonly string[]): string {
  return parts.filter((part) => part !== "").join("/");
}
