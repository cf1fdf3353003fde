/**
 * Creates the folders of pulled files one segment at a time below the destination, never through a symbolic link:
 * `mkdir -p` would follow a link planted in the destination and create folders outside it.
 */
import { lstat, mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";
import { InvalidArgumentError } from "../../errors.ts";

/** A path pull will not write (caught per file and reported as refused). */
export class RefusedPathError extends InvalidArgumentError {}

export class FolderMaker {
  readonly #root: string;
  /** Folders known to be real folders below the root (shared by concurrent downloads): true when this maker
   * created the folder, so it held nothing before the pull. */
  readonly #ready = new Map<string, Promise<boolean>>();
  /** The names each folder held when the pull first looked at it. */
  readonly #entries = new Map<string, Promise<ReadonlySet<string>>>();

  /** `root` must already exist and be resolved (realpath). */
  constructor(root: string) {
    this.#root = root;
  }

  /** Makes `<root>/<segments…>` a real folder; RefusedPathError when a segment is a link or a file. */
  async ensure(segments: readonly string[]): Promise<string> {
    let path = this.#root;
    for (const segment of segments) {
      path = join(path, segment);
      let ready = this.#ready.get(path);
      if (ready === undefined) {
        ready = makeOne(path);
        this.#ready.set(path, ready);
      }
      await ready;
    }
    return path;
  }

  /**
   * The names in `folder` (a path ensure() returned, or the root) before this pull wrote to it: a folder this maker
   * created is known to be empty, any other is read once. Lets a pull of many files skip a stat per file for
   * targets and partial files that cannot exist.
   */
  async entriesBefore(folder: string): Promise<ReadonlySet<string>> {
    let entries = this.#entries.get(folder);
    if (entries === undefined) {
      entries = (async () => ((await this.#ready.get(folder)) === true ? new Set<string>() : new Set(await readdir(folder))))();
      this.#entries.set(folder, entries);
    }
    return entries;
  }
}

/** Makes one folder; true when it was created, false when a real folder was already there. */
async function makeOne(path: string): Promise<boolean> {
  try {
    await mkdir(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  const info = await lstat(path);
  if (info.isSymbolicLink()) throw new RefusedPathError(`${path} is a symbolic link; pull does not write through links`, { path });
  if (!info.isDirectory()) throw new RefusedPathError(`${path} exists and is not a folder`, { path });
  return false;
}
