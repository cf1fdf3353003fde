/** ArtifactStorage over a StorageBackend: one artifact path, and the objects below it for folder-like handlers. */
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rename, rm, stat } from "node:fs/promises";
import { dirname } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { StorageBackend } from "../backends/backend.ts";
import { joinKey, validateKey } from "../backends/keys.ts";
import { hasObjectsUnder, objectExists } from "../backends/presence.ts";
import { InvalidArgumentError, isOpenCrateError, ReadOnlyError } from "../errors.ts";
import type { ArtifactStorage } from "./types.ts";

export interface BackendArtifactStorageOptions {
  readonly backend: StorageBackend;
  /** The artifact's key on the backend. */
  readonly key: string;
  readonly readOnly?: boolean;
}

export class BackendArtifactStorage implements ArtifactStorage {
  readonly backend: StorageBackend;
  readonly key: string;
  readonly readOnly: boolean;

  constructor(options: BackendArtifactStorageOptions) {
    this.backend = options.backend;
    this.key = validateKey(options.key, options.backend.describe(""));
    this.readOnly = options.readOnly ?? false;
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

  readRange(offset: number, length: number, relative = ""): Promise<Uint8Array> {
    return this.backend.get(this.#keyOf(relative), { range: { offset, length } });
  }

  openRead(relative = ""): Promise<Readable> {
    return this.backend.getStream(this.#keyOf(relative));
  }

  async write(data: Uint8Array | string, relative = ""): Promise<void> {
    const key = this.#writableKey(relative);
    await this.backend.put(key, data);
  }

  async writeStream(
    body: Readable | AsyncIterable<Uint8Array>,
    relative = "",
    options: { size?: number } = {},
  ): Promise<void> {
    const key = this.#writableKey(relative);
    await this.backend.putStream(key, body, options.size === undefined ? {} : { size: options.size });
  }

  async writeFile(localPath: string, relative = ""): Promise<void> {
    const key = this.#writableKey(relative);
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

  /** Streams to a temporary file next to `localPath`, then renames it into place. */
  async downloadTo(localPath: string, relative = ""): Promise<void> {
    const source = await this.openRead(relative);
    await mkdir(dirname(localPath), { recursive: true });
    const partial = `${localPath}.~oc-partial-${process.pid}`;
    try {
      await pipeline(source, createWriteStream(partial, { highWaterMark: 1024 * 1024 }));
      await rename(partial, localPath);
    } catch (error) {
      await rm(partial, { force: true });
      throw error;
    }
  }

  async exists(relative = ""): Promise<boolean> {
    const key = this.#keyOf(relative);
    return (await objectExists(this.backend, key)) || (await hasObjectsUnder(this.backend, `${key}/`));
  }

  async size(relative = ""): Promise<number> {
    return (await this.backend.head(this.#keyOf(relative))).size;
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

  #writableKey(relative: string): string {
    const key = this.#keyOf(relative);
    if (this.readOnly) {
      throw new ReadOnlyError(`Cannot write ${this.backend.describe(key)}: the snapshot is open read-only.`, {
        path: this.backend.describe(key),
      });
    }
    return key;
  }
}
