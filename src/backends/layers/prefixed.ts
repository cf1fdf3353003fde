/** A view of a backend below a key prefix: every key is `prefix/key` on the inner backend. Arguments are checked
 * by the checking layer in front of it (checked.ts). */
import type { Readable } from "node:stream";
import type * as api from "../backend.ts";
import { keyBytesLimit, keyBytesUnder, validateKey } from "../keys.ts";
import type { RetryPolicy } from "../retry-policy.ts";

export class PrefixedBackend implements api.StorageBackend {
  readonly kind: string;
  readonly capabilities: api.BackendCapabilities;
  readonly retryPolicy: RetryPolicy | undefined;
  readonly maxKeyBytes: number;
  readonly inner: api.StorageBackend;
  readonly prefix: string;

  /** Present when the inner backend has them. */
  readonly append?: (key: string, bytes: Uint8Array, options?: api.AppendOptions) => Promise<api.ObjectInfo>;
  readonly putFile?: (key: string, localPath: string, options?: api.StreamWriteOptions) => Promise<api.ObjectInfo>;
  readonly readRangeInto?: (key: string, options: api.RangeIntoOptions, sink: api.BodySink) => Promise<number | undefined>;
  readonly checkDeletable?: (prefix: string) => Promise<void>;
  readonly removeLeftovers?: (prefix: string, options?: api.LeftoverOptions) => Promise<void>;
  readonly deleteTemps?: (keys: readonly string[]) => Promise<void>;
  readonly storeNow?: () => Date;

  constructor(inner: api.StorageBackend, prefix: string) {
    this.inner = inner;
    this.prefix = prefix === "" ? "" : validateKey(prefix);
    this.kind = inner.kind;
    this.capabilities = inner.capabilities;
    this.retryPolicy = inner.retryPolicy;
    this.maxKeyBytes = keyBytesUnder(this.prefix, keyBytesLimit(inner));
    if (inner.append !== undefined) {
      const append = inner.append.bind(inner);
      this.append = async (key, bytes, options) => this.#strip(await append(this.#outer(key), bytes, options));
    }
    if (inner.readRangeInto !== undefined) {
      const readRangeInto = inner.readRangeInto.bind(inner);
      this.readRangeInto = async (key, options, sink) => readRangeInto(this.#outer(key), options, sink);
    }
    if (inner.checkDeletable !== undefined) {
      const checkDeletable = inner.checkDeletable.bind(inner);
      this.checkDeletable = async (prefix) => checkDeletable(this.#outerFolder(prefix));
    }
    if (inner.removeLeftovers !== undefined) {
      const removeLeftovers = inner.removeLeftovers.bind(inner);
      this.removeLeftovers = async (prefix, options) => removeLeftovers(this.#outerFolder(prefix), options);
    }
    if (inner.deleteTemps !== undefined) {
      const deleteTemps = inner.deleteTemps.bind(inner);
      this.deleteTemps = async (keys) => deleteTemps(keys.map((key) => this.#outer(key)));
    }
    if (inner.putFile !== undefined) {
      const putFile = inner.putFile.bind(inner);
      this.putFile = async (key, localPath, options) => this.#strip(await putFile(this.#outer(key), localPath, options));
    }
    if (inner.storeNow !== undefined) this.storeNow = inner.storeNow.bind(inner);
  }

  describe(key: string): string {
    return this.inner.describe(this.#outer(key));
  }

  async head(key: string, options?: { readonly signal?: AbortSignal }): Promise<api.ObjectInfo> {
    return this.inner.head(this.#outer(key), options).then((info) => this.#strip(info));
  }

  async get(key: string, options?: api.ReadOptions): Promise<Uint8Array> {
    return this.inner.get(this.#outer(key), options);
  }

  async getStream(key: string, options?: api.ReadOptions): Promise<Readable> {
    return this.inner.getStream(this.#outer(key), options);
  }

  async put(key: string, body: Uint8Array | string, options?: api.WriteOptions): Promise<api.ObjectInfo> {
    return this.inner.put(this.#outer(key), body, options).then((info) => this.#strip(info));
  }

  async putStream(key: string, body: Readable | AsyncIterable<Uint8Array>, options?: api.StreamWriteOptions): Promise<api.ObjectInfo> {
    return this.inner.putStream(this.#outer(key), body, options).then((info) => this.#strip(info));
  }

  async *list(prefix: string, options: api.ListOptions = {}): AsyncIterable<api.ObjectInfo> {
    const startAfter = options.startAfter === undefined ? undefined : this.#outer(options.startAfter);
    const report = options.onUnlistable;
    const cut = this.prefix === "" ? 0 : this.prefix.length + 1;
    const inner = this.inner.list(this.#outer(prefix) + (prefix === "" && this.prefix !== "" ? "/" : ""), {
      ...options,
      ...(startAfter === undefined ? {} : { startAfter }),
      ...(report === undefined ? {} : { onUnlistable: (entry: api.UnlistableEntry) => report({ ...entry, key: entry.key.slice(cut) }) }),
    });
    for await (const info of inner) yield this.#strip(info);
  }

  async listPage(prefix: string, options: api.ListPageOptions = {}): Promise<api.ListPage> {
    const report = options.onUnlistable;
    const cut = this.prefix === "" ? 0 : this.prefix.length + 1;
    const page = await this.inner.listPage(this.#outerFolder(prefix), {
      ...options,
      ...(report === undefined ? {} : { onUnlistable: (entry: api.UnlistableEntry) => report({ ...entry, key: entry.key.slice(cut) }) }),
    });
    return {
      objects: page.objects.map((info) => this.#strip(info)),
      prefixes: page.prefixes.map((folder) => folder.slice(cut)),
      ...(page.nextPageToken === undefined ? {} : { nextPageToken: page.nextPageToken }),
    };
  }

  async delete(key: string, options?: api.DeleteOptions): Promise<void> {
    return options === undefined ? this.inner.delete(this.#outer(key)) : this.inner.delete(this.#outer(key), options);
  }

  async deleteMany(keys: Iterable<string> | AsyncIterable<string>): Promise<void> {
    const outer = (key: string): string => this.#outer(key);
    await this.inner.deleteMany(
      (async function* () {
        for await (const key of keys) yield outer(key);
      })(),
    );
  }

  async copy(from: string, to: string, options?: api.CopyOptions): Promise<api.ObjectInfo> {
    return this.inner.copy(this.#outer(from), this.#outer(to), options).then((info) => this.#strip(info));
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  #outer(key: string): string {
    if (this.prefix === "") return key;
    return key === "" ? this.prefix : `${this.prefix}/${key}`;
  }

  /** A folder prefix ("" or ending in "/") on the inner backend. */
  #outerFolder(prefix: string): string {
    return this.prefix === "" ? prefix : `${this.prefix}/${prefix}`;
  }

  #strip(info: api.ObjectInfo): api.ObjectInfo {
    if (this.prefix === "") return info;
    return { ...info, key: info.key.slice(this.prefix.length + 1) };
  }
}
