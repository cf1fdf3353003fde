/**
 * A third-party StorageBackend in one file: objects in a Map, as a store of your own would keep them in Azure Blob,
 * R2 or a company service. It implements only the protocol: opencrate's checking layer validates every argument
 * before a call arrives here, and `opencrate/testing` proves the whole contract (see conformance.test.ts).
 *
 * It declares `copyCreateOnly: false` and keeps no user metadata, so the suite skips the cases that need them and
 * checks that the checking layer refuses a create-only copy with NOT_SUPPORTED.
 */
import { Readable } from "node:stream";
import {
  AlreadyExistsError,
  NotFoundError,
  PreconditionFailedError,
  spanOf,
  type BackendCapabilities,
  type CopyOptions,
  type ListOptions,
  type ListPage,
  type ListPageOptions,
  type ObjectInfo,
  type ReadOptions,
  type StorageBackend,
  type StreamWriteOptions,
  type WriteMode,
  type WriteOptions,
} from "opencrate";

interface Stored {
  readonly bytes: Buffer;
  readonly info: ObjectInfo;
}

export class MapBackend implements StorageBackend {
  readonly kind = "map";
  readonly capabilities: BackendCapabilities = {
    createOnly: true,
    compareAndSwap: true,
    copyCreateOnly: false,
    serverSideCopy: true,
    userMetadata: false,
  };
  readonly #objects = new Map<string, Stored>();
  #revisions = 0;

  describe(key: string): string {
    return key === "" ? "map://" : `map://${key}`;
  }

  async head(key: string): Promise<ObjectInfo> {
    return this.#stored(key).info;
  }

  async get(key: string, options: ReadOptions = {}): Promise<Uint8Array> {
    const { bytes, info } = this.#stored(key);
    if (options.ifRevision !== undefined && info.revision !== options.ifRevision) {
      throw new PreconditionFailedError(`${this.describe(key)} is not at revision ${options.ifRevision}.`, { path: this.describe(key) });
    }
    const { start, end } = spanOf(options.range, bytes.length);
    return Buffer.from(bytes.subarray(start, end));
  }

  async getStream(key: string, options: ReadOptions = {}): Promise<Readable> {
    const bytes = await this.get(key, options);
    return Readable.from(bytes.byteLength === 0 ? [] : [bytes], { signal: options.signal });
  }

  async put(key: string, body: Uint8Array | string, options: WriteOptions = {}): Promise<ObjectInfo> {
    return this.#commit(key, Buffer.from(body), options.mode);
  }

  async putStream(key: string, body: AsyncIterable<Uint8Array>, options: StreamWriteOptions = {}): Promise<ObjectInfo> {
    const chunks: Buffer[] = [];
    for await (const chunk of body) chunks.push(Buffer.from(chunk));
    const bytes = Buffer.concat(chunks);
    options.signal?.throwIfAborted();
    options.onProgress?.(bytes.length);
    return this.#commit(key, bytes, options.mode);
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectInfo> {
    const after = options.startAfter;
    for (const key of [...this.#objects.keys()].sort()) {
      const stored = this.#objects.get(key);
      if (stored !== undefined && key.startsWith(prefix) && (after === undefined || key > after)) yield stored.info;
    }
  }

  async listPage(prefix: string, options: ListPageOptions = {}): Promise<ListPage> {
    const names = new Set<string>();
    for (const key of this.#objects.keys()) {
      if (!key.startsWith(prefix)) continue;
      const slash = key.indexOf("/", prefix.length);
      names.add(slash === -1 ? key : key.slice(0, slash + 1));
    }
    const sorted = [...names].sort().filter((name) => options.pageToken === undefined || name > options.pageToken);
    const page = sorted.slice(0, options.pageSize ?? 1000);
    const objects = page.flatMap((name) => this.#objects.get(name)?.info ?? []);
    const prefixes = page.filter((name) => name.endsWith("/"));
    const last = page.at(-1);
    return sorted.length > page.length && last !== undefined ? { objects, prefixes, nextPageToken: last } : { objects, prefixes };
  }

  async delete(key: string): Promise<void> {
    this.#objects.delete(key);
  }

  async deleteMany(keys: Iterable<string> | AsyncIterable<string>): Promise<void> {
    for await (const key of keys) this.#objects.delete(key);
  }

  async copy(from: string, to: string, options: CopyOptions = {}): Promise<ObjectInfo> {
    return this.#commit(to, this.#stored(from).bytes, options.mode);
  }

  async close(): Promise<void> {}

  #stored(key: string): Stored {
    const stored = this.#objects.get(key);
    if (stored === undefined) throw new NotFoundError(`No object at ${this.describe(key)}.`, { path: this.describe(key) });
    return stored;
  }

  #commit(key: string, bytes: Buffer, mode: WriteMode = { kind: "overwrite" }): ObjectInfo {
    const current = this.#objects.get(key);
    if (mode.kind === "create" && current !== undefined) {
      throw new AlreadyExistsError(`${this.describe(key)} already exists.`, { path: this.describe(key) });
    }
    if (mode.kind === "replace" && current?.info.revision !== mode.revision) {
      throw new PreconditionFailedError(`${this.describe(key)} is not at revision ${mode.revision}.`, { path: this.describe(key) });
    }
    const info: ObjectInfo = { key, size: bytes.length, lastModified: new Date(), revision: String(++this.#revisions) };
    this.#objects.set(key, { bytes, info });
    return info;
  }
}
