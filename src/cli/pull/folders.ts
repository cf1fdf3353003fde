/**
 * Creates the folders of pulled files one segment at a time below the destination, never through a symbolic link:
 * `mkdir -p` would follow a link planted in the destination and create folders outside it.
 */
import { lstat, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { InvalidArgumentError } from "../../errors.ts";

/** A path pull will not write (caught per file and reported as refused). */
export class RefusedPathError extends InvalidArgumentError {}

export class FolderMaker {
  readonly #root: string;
  /** Folders known to be real folders below the root (shared by concurrent downloads). */
  readonly #ready = new Map<string, Promise<void>>();

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
}

async function makeOne(path: string): Promise<void> {
  try {
    await mkdir(path);
    return;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  const info = await lstat(path);
  if (info.isSymbolicLink()) throw new RefusedPathError(`${path} is a symbolic link; pull does not write through links`, { path });
  if (!info.isDirectory()) throw new RefusedPathError(`${path} exists and is not a folder`, { path });
}
