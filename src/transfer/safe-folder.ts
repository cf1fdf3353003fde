/**
 * A local folder that downloads write into without ever following a link planted by someone else, even while they
 * race the download (rename a folder away and put a symbolic link in its place).
 *
 * On Linux each folder is held open (O_DIRECTORY | O_NOFOLLOW) and every file operation names its entry through
 * `/proc/self/fd/<fd>/<name>`: the kernel starts from the folder the handle holds, not from a path walked again,
 * so a swap of any folder above cannot redirect a write, and the final name is opened with O_NOFOLLOW or renamed
 * over (which replaces a link, never follows it). `verify()` then tells whether the folder still sits at the path it
 * was opened at (the kernel's own answer for the handle), so a swap is reported instead of passing unnoticed.
 *
 * Elsewhere (macOS, Windows, or a Linux without /proc) entries are named by path and `verify()` checks, with
 * lstat, that no folder from the root down was replaced or turned into a link; a swap between that check and the
 * next operation is not caught there (docs/guarantees.md says so).
 */
import { constants, existsSync } from "node:fs";
import { lstat, mkdir, open, readdir, readlink, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { InvalidArgumentError, PreconditionFailedError } from "../errors.ts";

/** A path that will not be written: a link, or a file where a folder belongs. */
export class RefusedPathError extends InvalidArgumentError {}

/** A folder being written into was moved or replaced by someone else meanwhile. */
export class FolderSwappedError extends PreconditionFailedError {}

const FD_PATHS = process.platform === "linux" && existsSync("/proc/self/fd");
const DIRECTORY_FLAGS = (constants.O_RDONLY | (constants.O_DIRECTORY ?? 0) | (constants.O_NOFOLLOW ?? 0)) >>> 0;

export class SafeFolder {
  /** The folder's real path (for messages, and what verify() expects). */
  readonly path: string;
  readonly #parent: SafeFolder | undefined;
  readonly #handle: FileHandle | undefined;
  readonly #identity: { readonly dev: number; readonly ino: number };
  /** Whether this folder was created by the download (so it held nothing before). */
  readonly created: boolean;
  readonly #children = new Map<string, Promise<SafeFolder>>();
  readonly #recheckAfterMs: number;
  /** When verify() last found the folder in place (performance.now()). */
  #verifiedAt = Number.NEGATIVE_INFINITY;
  /** The check under way, which verify() calls made meanwhile wait for. */
  #checking: Promise<void> | undefined;

  private constructor(
    path: string,
    parent: SafeFolder | undefined,
    handle: FileHandle | undefined,
    identity: { dev: number; ino: number },
    created: boolean,
    recheckAfterMs: number,
  ) {
    this.path = path;
    this.#parent = parent;
    this.#handle = handle;
    this.#identity = identity;
    this.created = created;
    this.#recheckAfterMs = recheckAfterMs;
  }

  /**
   * Opens an existing folder given by its real path (see realpath); RefusedPathError when it is none. With
   * `recheckAfterMs`, verify() trusts a check that recent (on Linux writes go through the handle whatever happens
   * to the path, so the check only reports a swap; many small files then cost one check per interval, and
   * verifyAll() at the end catches a swap after the last one).
   */
  static async open(realPath: string, options: { readonly recheckAfterMs?: number } = {}): Promise<SafeFolder> {
    return SafeFolder.#openAt(realPath, realPath, undefined, false, options.recheckAfterMs ?? 0);
  }

  /** The path to hand to fs calls for the entry `name` of this folder. */
  entry(name: string): string {
    return this.#handle === undefined ? join(this.path, name) : `/proc/self/fd/${this.#handle.fd}/${name}`;
  }

  /** The names this folder holds now. */
  async names(): Promise<Set<string>> {
    return new Set(await readdir(this.#handle === undefined ? this.path : `/proc/self/fd/${this.#handle.fd}`));
  }

  /** The sub-folder `name`, made when absent; RefusedPathError when a link or a file is there. Opened once. */
  child(name: string): Promise<SafeFolder> {
    let child = this.#children.get(name);
    if (child === undefined) {
      child = this.#makeChild(name);
      child.catch(() => {}); // awaited by every caller; a refusal must not count as unhandled meanwhile
      this.#children.set(name, child);
    }
    return child;
  }

  /** The folder `segments` below this one, each made when absent. */
  async descend(segments: readonly string[]): Promise<SafeFolder> {
    let folder: SafeFolder = this;
    for (const segment of segments) folder = await folder.child(segment);
    return folder;
  }

  /** FolderSwappedError naming the folder when it (or one above it, up to the root) is no longer where it was. */
  async verify(): Promise<void> {
    if (this.#handle !== undefined && performance.now() - this.#verifiedAt < this.#recheckAfterMs) return;
    const started = performance.now();
    if (this.#recheckAfterMs === 0) {
      await this.#check();
    } else {
      // Within the trusted interval, downloads finishing at once share one check rather than each making its own.
      this.#checking ??= this.#check().finally(() => {
        this.#checking = undefined;
      });
      await this.#checking;
    }
    this.#verifiedAt = Math.max(this.#verifiedAt, started);
  }

  /** verify() on this folder and every sub-folder opened below it, none trusted from before. */
  async verifyAll(): Promise<void> {
    await this.#check();
    for (const child of await Promise.allSettled(this.#children.values())) {
      if (child.status === "fulfilled") await child.value.verifyAll();
    }
  }

  async #check(): Promise<void> {
    if (this.#handle !== undefined) {
      const now = await readlink(`/proc/self/fd/${this.#handle.fd}`).catch(() => "(unknown)");
      if (now !== this.path) throw this.#swapped(now.endsWith(" (deleted)") ? "it was deleted" : `it is now at ${now}`);
      return;
    }
    if (this.#parent !== undefined) await this.#parent.#check();
    const info = await lstat(this.path).catch(() => undefined);
    if (info === undefined) throw this.#swapped("it is gone");
    if (!info.isDirectory() || info.dev !== this.#identity.dev || info.ino !== this.#identity.ino) {
      throw this.#swapped(info.isSymbolicLink() ? "a symbolic link took its place" : "something else took its place");
    }
  }

  /** Closes this folder's handle and every sub-folder's. */
  async close(): Promise<void> {
    const children = await Promise.allSettled(this.#children.values());
    for (const child of children) if (child.status === "fulfilled") await child.value.close();
    await this.#handle?.close().catch(() => {});
  }

  #swapped(how: string): FolderSwappedError {
    return new FolderSwappedError(
      `${this.path} was moved or replaced while files were being written into it (${how}); nothing was written ` +
        "through the change. Someone else can write into this folder: download into a folder only you can write to.",
      { path: this.path },
    );
  }

  async #makeChild(name: string): Promise<SafeFolder> {
    const where = this.entry(name);
    let created = false;
    try {
      await mkdir(where);
      created = true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    return SafeFolder.#openAt(join(this.path, name), where, this, created, this.#recheckAfterMs);
  }

  static async #openAt(path: string, where: string, parent: SafeFolder | undefined, created: boolean, recheckAfterMs: number): Promise<SafeFolder> {
    if (!FD_PATHS) {
      const info = await lstat(where);
      if (info.isSymbolicLink()) throw linkRefused(path);
      if (!info.isDirectory()) throw notAFolder(path);
      return new SafeFolder(path, parent, undefined, { dev: info.dev, ino: info.ino }, created, recheckAfterMs);
    }
    let handle: FileHandle;
    try {
      handle = await open(where, DIRECTORY_FLAGS);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ELOOP") throw linkRefused(path);
      if (code === "ENOTDIR") throw (await lstat(where).catch(() => undefined))?.isSymbolicLink() === true ? linkRefused(path) : notAFolder(path);
      throw error;
    }
    const info = await handle.stat();
    return new SafeFolder(path, parent, handle, { dev: info.dev, ino: info.ino }, created, recheckAfterMs);
  }
}

function linkRefused(path: string): RefusedPathError {
  return new RefusedPathError(`${path} is a symbolic link; downloads do not write through links`, { path });
}

function notAFolder(path: string): RefusedPathError {
  return new RefusedPathError(`${path} exists and is not a folder`, { path });
}
