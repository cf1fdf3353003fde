/**
 * From a root or location string to a backend, behind the checking layer (layers/checked.ts). Backends are cached
 * per canonical root so repeated calls reuse one client. Cloud SDKs still load lazily: constructing
 * S3Backend/GcsBackend touches no SDK.
 */
import { dirname, basename } from "node:path";
import type { StorageBackend } from "./backend.ts";
import { GcsBackend } from "./gcs/index.ts";
import { LocalBackend } from "./local/index.ts";
import { CheckedBackend } from "./layers/checked.ts";
import { PrefixedBackend } from "./layers/prefixed.ts";
import { MemoryBackend } from "./memory.ts";
import { S3Backend } from "./s3/index.ts";
import { formatLocation, parseLocation, type Location } from "../uri.ts";
import { InvalidArgumentError } from "../errors.ts";

const cache = new Map<string, CheckedBackend>();

/** A backend rooted at `uri` (a local path, file://, s3://, gs:// or memory://). */
export function backendFromUri(uri: string): StorageBackend {
  return backendFor(parseLocation(uri));
}

export function backendFor(location: Location): StorageBackend {
  return checkedFor(location);
}

function checkedFor(location: Location): CheckedBackend {
  const canonical = location.scheme === "file" ? `file:${location.path}` : formatLocation(location);
  let backend = cache.get(canonical);
  if (backend === undefined) {
    backend = new CheckedBackend(createBackend(location));
    cache.set(canonical, backend);
  }
  return backend;
}

/**
 * Splits an object location (a file path or URI) into a backend and a key. Local paths are rooted at their parent
 * folder (so "../x/y.txt" works); bucket URIs at the bucket.
 */
export function objectLocation(pathOrUri: string): { backend: StorageBackend; key: string } {
  const location = parseLocation(pathOrUri);
  switch (location.scheme) {
    case "file": {
      const name = basename(location.path);
      if (name === "" || name === "." || name === ".." || location.path.endsWith("/")) {
        throw new InvalidArgumentError(`${pathOrUri} names a folder, not a file.`, { path: pathOrUri });
      }
      return { backend: backendFor({ scheme: "file", path: dirname(location.path) }), key: name };
    }
    case "memory":
    case "s3":
    case "gs": {
      if (location.prefix === "") {
        throw new InvalidArgumentError(`${pathOrUri} names a bucket or store, not an object.`, { path: pathOrUri });
      }
      return { backend: backendFor({ ...location, prefix: "" }), key: location.prefix };
    }
  }
}

function createBackend(location: Location): StorageBackend {
  switch (location.scheme) {
    case "file":
      return new LocalBackend({ root: location.path });
    case "memory":
      return location.prefix === ""
        ? new MemoryBackend({ name: location.name })
        : new PrefixedBackend(checkedFor({ ...location, prefix: "" }).inner, location.prefix);
    case "s3":
      return new S3Backend({ bucket: location.bucket, prefix: location.prefix });
    case "gs":
      return new GcsBackend({ bucket: location.bucket, prefix: location.prefix });
  }
}
