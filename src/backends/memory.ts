/**
 * The reference backend: objects in a Map, every write atomic, create-only and compare-and-swap exact.
 * For fast tests of the upper layers and `memory://name` roots. Stores with the same name share their objects
 * within one process.
 */
import type { Readable } from "node:stream";
import { Readable as NodeReadable } from "node:stream";
import { AlreadyExistsError, NotFoundError, PreconditionFailedError } from "../errors.ts";
import type * as api from "./backend.ts";
import { FULL_CAPABILITIES } from "./backend.ts";
import { spanOf } from "./byte-range.ts";
import { CallerBody } from "./caller-body.ts";
import { RetryPolicy, type RetryOptions } from "./retry-policy.ts";
import { collectBytes, toBytes } from "./streams.ts";

interface StoredObject {
  readonly bytes: Uint8Array;
  readonly info: api.ObjectInfo;
}

const namedStores = new Map<string, Map<string, StoredObject>>();
let revisionCounter = 0;

export interface MemoryBackendOptions {
  /** Stores created with the same name share their objects (as `memory://name` roots do). */
  readonly name?: string;
  /** The policy lent to version claims and log appends (see RetryOptions); this backend itself never waits. */
  readonly retry?: RetryOptions;
}

export class MemoryBackend implements api.StorageBackend {
  readonly kind = "memory";
  readonly capabilities: api.BackendCapabilities = { ...FULL_CAPABILITIES, settlesConditionalWrites: true, conditionalDelete: true };
  readonly name: string;
  readonly retryPolicy: RetryPolicy;
  readonly #objects: Map<string, StoredObject>;

  constructor(options: MemoryBackendOptions = {}) {
    this.name = options.name ?? `anonymous-${++revisionCounter}`;
    this.retryPolicy = new RetryPolicy(options.retry);
    let objects = namedStores.get(this.name);
    if (objects === undefined) {
      objects = new Map();
      if (options.name !== undefined) namedStores.set(this.name, objects);
    }
    this.#objects = objects;
  }

  describe(key: string): string {
    return key === "" ? `memory://${this.name}` : `memory://${this.name}/${key}`;
  }

  async head(key: string): Promise<api.ObjectInfo> {
    return this.#require(key).info;
  }

  async get(key: string, options: api.ReadOptions = {}): Promise<Uint8Array> {
    const { bytes } = this.#require(key);
    if (options.ifRevision !== undefined) this.#checkRevision(key, options.ifRevision);
    const { start, end } = spanOf(options.range, bytes.byteLength);
    return copyOf(bytes.subarray(start, end));
  }

  async getStream(key: string, options: api.ReadOptions = {}): Promise<Readable> {
    const bytes = await this.get(key, options);
    return NodeReadable.from([Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)]);
  }

  async put(key: string, body: Uint8Array | string, options: api.WriteOptions = {}): Promise<api.ObjectInfo> {
    return this.#commit(key, copyOf(toBytes(body)), options.mode, options.metadata);
  }

  async putStream(
    key: string,
    body: Readable | AsyncIterable<Uint8Array>,
    options: api.StreamWriteOptions = {},
  ): Promise<api.ObjectInfo> {
    const bytes = await collectBytes(new CallerBody(body, this.describe(key), options.onProgress));
    options.signal?.throwIfAborted();
    return this.#commit(key, bytes, options.mode, options.metadata);
  }

  async append(key: string, bytes: Uint8Array, options: api.AppendOptions = {}): Promise<api.ObjectInfo> {
    const current = this.#require(key);
    const revision = options.ifRevision ?? current.info.revision;
    this.#checkRevision(key, revision);
    if (bytes.byteLength === 0) return current.info;
    const appended = new Uint8Array(current.bytes.byteLength + bytes.byteLength);
    appended.set(current.bytes);
    appended.set(bytes, current.bytes.byteLength);
    return this.#commit(key, appended, { kind: "replace", revision }, options.metadata ?? current.info.metadata);
  }

  async *list(prefix: string, options: api.ListOptions = {}): AsyncIterable<api.ObjectInfo> {
    const keys = [...this.#objects.keys()]
      .filter((key) => key.startsWith(prefix) && (options.startAfter === undefined || key > options.startAfter))
      .sort();
    for (const key of keys) {
      const stored = this.#objects.get(key);
      if (stored !== undefined) yield stored.info;
    }
  }

  async listPage(prefix: string, options: api.ListPageOptions = {}): Promise<api.ListPage> {
    const entries = new Map<string, api.ObjectInfo | undefined>();
    for (const [key, stored] of this.#objects) {
      if (!key.startsWith(prefix)) continue;
      const rest = key.slice(prefix.length);
      const slash = rest.indexOf("/");
      if (slash === -1) entries.set(key, stored.info);
      else entries.set(prefix + rest.slice(0, slash + 1), undefined);
    }
    const names = [...entries.keys()].sort().filter((name) => options.pageToken === undefined || name > options.pageToken);
    const pageSize = options.pageSize ?? 1000;
    const page = names.slice(0, pageSize);
    const objects: api.ObjectInfo[] = [];
    const prefixes: string[] = [];
    for (const name of page) {
      const info = entries.get(name);
      if (info === undefined) prefixes.push(name);
      else objects.push(info);
    }
    const last = page.at(-1);
    return names.length > pageSize && last !== undefined ? { objects, prefixes, nextPageToken: last } : { objects, prefixes };
  }

  async delete(key: string, options: api.DeleteOptions = {}): Promise<void> {
    options.signal?.throwIfAborted();
    if (options.ifRevision !== undefined && this.#objects.has(key)) this.#checkRevision(key, options.ifRevision);
    this.#objects.delete(key);
  }

  async deleteMany(keys: Iterable<string> | AsyncIterable<string>): Promise<void> {
    for await (const key of keys) await this.delete(key);
  }

  async copy(from: string, to: string, options: api.CopyOptions = {}): Promise<api.ObjectInfo> {
    const source = this.#require(from);
    return this.#commit(to, copyOf(source.bytes), options.mode, source.info.metadata);
  }

  async close(): Promise<void> {}

  #require(key: string): StoredObject {
    const stored = this.#objects.get(key);
    if (stored === undefined) throw new NotFoundError(`No object at ${this.describe(key)}.`, { path: this.describe(key) });
    return stored;
  }

  #checkRevision(key: string, revision: string): void {
    const current = this.#objects.get(key);
    if (current?.info.revision !== revision) {
      throw new PreconditionFailedError(
        `${this.describe(key)} changed since revision ${revision} (now ${current?.info.revision ?? "absent"}).`,
        { path: this.describe(key) },
      );
    }
  }

  #commit(
    key: string,
    bytes: Uint8Array,
    mode: api.WriteMode = { kind: "overwrite" },
    metadata?: Readonly<Record<string, string>>,
  ): api.ObjectInfo {
    const current = this.#objects.get(key);
    if (mode.kind === "create" && current !== undefined) {
      throw new AlreadyExistsError(`${this.describe(key)} already exists.`, { path: this.describe(key) });
    }
    if (mode.kind === "replace") this.#checkRevision(key, mode.revision);
    const info: api.ObjectInfo = {
      key,
      size: bytes.byteLength,
      lastModified: new Date(),
      revision: String(++revisionCounter),
      ...(metadata === undefined ? {} : { metadata: { ...metadata } }),
    };
    this.#objects.set(key, { bytes, info });
    return info;
  }
}

/** A copy that shares no memory with `bytes` (Buffer#slice returns a view, so it cannot be used for this). */
function copyOf(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}
