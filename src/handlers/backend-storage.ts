/** ArtifactStorage over a StorageBackend: one artifact path, and the objects below it for folder-like handlers. */
import { randomUUID } from "node:crypto";
import { createReadStream } from "node:fs";
import { realpath, stat } from "node:fs/promises";
import { basename, dirname } from "node:path";
import type { Readable } from "node:stream";
import type { StorageBackend } from "../backends/backend.ts";
import { toLocalError } from "../backends/local/errors.ts";
import { makeFolders } from "../backends/local/make-folders.ts";
import { joinKey, validateKey } from "../backends/keys.ts";
import { hasObjectsUnder, objectExists } from "../backends/presence.ts";
import { InvalidArgumentError, isOpenCrateError, ReadOnlyError } from "../errors.ts";
import { bookkeepingSegment } from "../snapshot/bookkeeping.ts";
import { downloadToFile } from "../transfer/download-file.ts";
import { SafeFolder } from "../transfer/safe-folder.ts";
import type { ArtifactObjectInfo, ArtifactStorage, RangeReadOptions } from "./types.ts";

export interface BackendArtifactStorageOptions {
  readonly backend: StorageBackend;
  /** The artifact's key on the backend. */
  readonly key: string;
  readonly readOnly?: boolean;
  /** Throws when nothing may be written any more (a snapshot's run whose version was deleted under it). */
  readonly checkWritable?: () => void;
  /** The artifact's name, the end of `key` ("a/b.json"): the folders in it are checked for files of their name. */
  readonly name?: string;
  /**
   * Whether the path may be a folder of objects (custom handlers; the default): then `exists()` of the artifact
   * itself also counts objects below it. Built-in types store one object, so only that object counts.
   */
  readonly folderLike?: boolean;
  /**
   * Refuse writes below the path whose relative path has a segment of opencrate's bookkeeping (a snapshot's
   * artifacts: the listings leave such paths out). Default false.
   */
  readonly refuseBookkeeping?: boolean;
}

export class BackendArtifactStorage implements ArtifactStorage {
  readonly backend: StorageBackend;
  readonly key: string;
  readonly readOnly: boolean;
  /** Where the artifact's name starts in `key`. */
  readonly #nameStart: number;
  readonly #folderLike: boolean;
  readonly #refuseBookkeeping: boolean;
  readonly #checkWritable: () => void;

  constructor(options: BackendArtifactStorageOptions) {
    this.backend = options.backend;
    this.key = validateKey(options.key, options.backend.describe(""));
    this.readOnly = options.readOnly ?? false;
    this.#checkWritable = options.checkWritable ?? (() => {});
    this.#folderLike = options.folderLike ?? true;
    this.#refuseBookkeeping = options.refuseBookkeeping ?? false;
    const name = options.name ?? "";
    this.#nameStart = name !== "" && this.key.endsWith(`/${name}`) ? this.key.length - name.length : this.key.length;
  }

  get path(): string {
    return this.backend.describe(this.key);
  }

  describe(relative = ""): string {
    return this.backend.describe(this.#keyOf(relative));
  }

  read(relative = ""): Promise<Uint8Array> {
    return this.backend.get(this.#keyOf(relative));
  }

  async readText(relative = ""): Promise<string> {
    return Buffer.from(await this.read(relative)).toString("utf8");
  }

  readRange(offset: number, length: number, relative = "", options: RangeReadOptions = {}): Promise<Uint8Array> {
    const range = { offset, length };
    const ifRevision = options.ifRevision;
    return this.backend.get(this.#keyOf(relative), ifRevision === undefined ? { range } : { range, ifRevision });
  }

  openRead(relative = ""): Promise<Readable> {
    return this.backend.getStream(this.#keyOf(relative));
  }

  async write(data: Uint8Array | string, relative = ""): Promise<void> {
    const key = await this.#keyToWrite(relative);
    await this.backend.put(key, data);
  }

  async writeStream(
    body: Readable | AsyncIterable<Uint8Array>,
    relative = "",
    options: { size?: number } = {},
  ): Promise<void> {
    const key = await this.#keyToWrite(relative);
    await this.backend.putStream(key, body, options.size === undefined ? {} : { size: options.size });
  }

  async writeFile(localPath: string, relative = ""): Promise<void> {
    const key = await this.#keyToWrite(relative);
    let size: number;
    try {
      size = (await stat(localPath)).size;
    } catch (error) {
      throw new InvalidArgumentError(`Cannot read local file ${localPath}: ${(error as Error).message}`, {
        path: localPath,
        cause: error,
      });
    }
    if (this.backend.putFile !== undefined) await this.backend.putFile(key, localPath, { size });
    else await this.backend.putStream(key, createReadStream(localPath, { highWaterMark: 1024 * 1024 }), { size });
  }

  /** Downloads into a partial file next to `localPath`, checked, then renamed into place (transfer/download-file.ts). */
  async downloadTo(localPath: string, relative = ""): Promise<void> {
    const key = this.#keyOf(relative);
    const info = await this.backend.head(key);
    const name = basename(localPath);
    if (name === "" || name === "." || name === ".." || /[\\/]$/.test(localPath)) {
      throw new InvalidArgumentError(`Cannot download ${this.backend.describe(key)} to ${localPath}: it names a folder, not a file.`, {
        path: localPath,
      });
    }
    try {
      await makeFolders(dirname(localPath));
    } catch (error) {
      throw toLocalError(error, localPath, "write");
    }
    const folder = await SafeFolder.open(await realpath(dirname(localPath)));
    try {
      await downloadToFile({
        backend: this.backend,
        key,
        info,
        folder,
        name,
        partialName: `${name}.~oc-partial-${randomUUID().slice(0, 8)}`,
        resume: false,
      });
    } finally {
      await folder.close();
    }
  }

  async exists(relative = ""): Promise<boolean> {
    const key = this.#keyOf(relative);
    if (await objectExists(this.backend, key)) return true;
    if (relative === "" && !this.#folderLike) return false;
    return hasObjectsUnder(this.backend, `${key}/`);
  }

  async size(relative = ""): Promise<number> {
    return (await this.backend.head(this.#keyOf(relative))).size;
  }

  async info(relative = ""): Promise<ArtifactObjectInfo> {
    const { size, revision } = await this.backend.head(this.#keyOf(relative));
    return { size, revision };
  }

  async list(relative = ""): Promise<string[]> {
    const base = `${this.#keyOf(relative)}/`;
    const names: string[] = [];
    for await (const info of this.backend.list(base)) names.push(info.key.slice(base.length));
    return names.sort();
  }

  async delete(relative = "", options: { recursive?: boolean } = {}): Promise<void> {
    const key = this.#writableKey(relative);
    await this.backend.delete(key);
    if (options.recursive === true) {
      const below = this.backend.list(`${key}/`);
      await this.backend.deleteMany(
        (async function* () {
          for await (const info of below) yield info.key;
        })(),
      );
    }
  }

  #keyOf(relative: string): string {
    if (relative === "") return this.key;
    const key = joinKey(this.key, relative);
    try {
      return validateKey(key);
    } catch (error) {
      throw new InvalidArgumentError(
        `${JSON.stringify(relative)} is not a valid path below the artifact ${this.path}.`,
        { path: relative, cause: error },
      );
    }
  }

  /**
   * The key a write goes to, once no file and folder would share a name: a local disk cannot hold both, so it is
   * refused on every backend (before anything is written; two writers racing on such names are not caught).
   */
  async #keyToWrite(relative: string): Promise<string> {
    const key = this.#writableKey(relative);
    const hidden = this.#refuseBookkeeping && relative !== "" ? bookkeepingSegment(relative) : undefined;
    if (hidden !== undefined) {
      throw new InvalidArgumentError(
        `Cannot save ${this.backend.describe(key)}: ${JSON.stringify(hidden.segment)} is a name opencrate keeps for itself ` +
          `(${hidden.reason}), which ls, pull and the viewer leave out; pick another name.`,
        { path: this.backend.describe(key) },
      );
    }
    const segments = key.slice(this.#nameStart).split("/");
    for (let depth = 1; depth < segments.length; depth++) {
      const folder = key.slice(0, this.#nameStart) + segments.slice(0, depth).join("/");
      if (await objectExists(this.backend, folder)) {
        throw new InvalidArgumentError(
          `Cannot save ${this.backend.describe(key)}: ${this.backend.describe(folder)} is a file, so nothing can be saved below it.`,
          { path: this.backend.describe(key) },
        );
      }
    }
    if (await hasObjectsUnder(this.backend, `${key}/`)) {
      throw new InvalidArgumentError(
        `Cannot save ${this.backend.describe(key)}: it is a folder holding other files, so a file cannot take its name.`,
        { path: this.backend.describe(key) },
      );
    }
    return key;
  }

  #writableKey(relative: string): string {
    const key = this.#keyOf(relative);
    if (this.readOnly) {
      throw new ReadOnlyError(`Cannot write ${this.backend.describe(key)}: the snapshot is open read-only.`, {
        path: this.backend.describe(key),
      });
    }
    this.#checkWritable();
    return key;
  }
}
