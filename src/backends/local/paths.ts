/** How keys map to files under a local root, and which file names belong to the backend itself. */
import { createHash } from "node:crypto";
import { basename, dirname, join, resolve } from "node:path";
import { InvalidArgumentError } from "../../errors.ts";
import { RESERVED_NAME_PREFIX, validateKey, validatePrefix } from "../keys.ts";
import { tempName } from "../temp-names.ts";

/**
 * A fresh, unique temp file path in the same folder as `finalPath` (so a rename or link onto it is atomic), named
 * with this process as its writer (see temp-names.ts).
 */
export function tempPathBeside(finalPath: string): string {
  return join(dirname(finalPath), tempName());
}

export interface LockPaths {
  /** The lock held while a compare-and-swap compares and renames. */
  readonly lock: string;
  /** Held for the instant it takes to remove a stale lock, so two processes never both remove one. */
  readonly breaker: string;
}

/** The lock files guarding `finalPath`. A hash keeps them short however long the file name is. */
export function lockPathsFor(finalPath: string): LockPaths {
  const id = createHash("sha256").update(basename(finalPath)).digest("hex").slice(0, 32);
  return lockPathsWithId(dirname(finalPath), id);
}

/** The lock files a lock or breaker file found at `path` belongs to, given the id its name ends with. */
export function lockPathsOfLeftover(path: string, id: string): LockPaths {
  return lockPathsWithId(dirname(path), id);
}

function lockPathsWithId(folder: string, id: string): LockPaths {
  return {
    lock: join(folder, `${RESERVED_NAME_PREFIX}lock-${id}`),
    breaker: join(folder, `${RESERVED_NAME_PREFIX}break-${id}`),
  };
}

/** Where a listing prefix points on disk: the deepest folder it names fully, and the start of the names in it. */
export interface PrefixLocation {
  readonly folderPath: string;
  /** The key prefix of everything in that folder ("" or ending in "/"). */
  readonly folderKey: string;
  /** Names in the folder must start with this to match. */
  readonly namePrefix: string;
}

export class LocalLayout {
  /** The root as an absolute path, resolved once (a later `process.chdir` does not move the backend). */
  readonly rootPath: string;
  /** The root as the user wrote it, without trailing separators. */
  readonly #rootDisplay: string;

  constructor(root: string) {
    if (typeof root !== "string" || root === "") {
      throw new InvalidArgumentError("A local root must be a non-empty folder path.", { path: String(root) });
    }
    if (root.includes("\0")) {
      throw new InvalidArgumentError(`A local root cannot hold a NUL byte: ${JSON.stringify(root)}.`, { path: root });
    }
    if (root.trim() !== root) {
      // " snapshots" would be a folder named with a space, beside the "snapshots" meant; URIs are refused alike.
      throw new InvalidArgumentError(
        `Malformed local root ${JSON.stringify(root)}: a local path must not start or end with white space.`,
        { path: root },
      );
    }
    this.rootPath = resolve(root);
    this.#rootDisplay = root.length > 1 ? root.replace(/[/\\]+$/, "") || root.slice(0, 1) : root;
  }

  /** The root joined with `key` in the user's form: "snapshots" + "a/b" → "snapshots/a/b". */
  describe(key: string): string {
    if (key === "") return this.#rootDisplay;
    return this.#rootDisplay.endsWith("/") ? `${this.#rootDisplay}${key}` : `${this.#rootDisplay}/${key}`;
  }

  /** The absolute file path of a key, after validating it. */
  pathOfKey(key: string): string {
    validateKey(key, this.describe(""));
    return join(this.rootPath, ...key.split("/"));
  }

  /**
   * Where a plain string prefix starts on disk, after validating it: "a/b" is the names starting with "b" in
   * folder "a"; "a/b/" is everything in folder "a/b".
   */
  locatePrefix(prefix: string): PrefixLocation {
    if (prefix !== "") validatePrefix(prefix.endsWith("/") ? prefix : `${prefix}/`, this.describe(""));
    const slash = prefix.lastIndexOf("/");
    const folderKey = prefix.slice(0, slash + 1);
    const folderPath = folderKey === "" ? this.rootPath : join(this.rootPath, ...folderKey.slice(0, -1).split("/"));
    return { folderPath, folderKey, namePrefix: prefix.slice(slash + 1) };
  }
}
