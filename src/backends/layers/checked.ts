/**
 * The one front door of every backend the library hands out (backendFromUri, setup({ backend }), the CLI): each
 * call's arguments are checked here once, before the backend sees them, so every store gives the same answer to
 * the same bad input, and what `capabilities` rules out is NotSupportedError before any I/O. Backends keep only
 * their protocol and error mapping.
 *
 * The caller's AbortSignal is relayed: the backend gets a signal of this layer's whose reason is an AbortedError,
 * and any failure of a call whose signal fired leaves here as that AbortedError.
 */
import type { Readable } from "node:stream";
import { AbortedError, InvalidArgumentError, isOpenCrateError } from "../../errors.ts";
import type * as api from "../backend.ts";
import { checkBoundedRange, checkRange } from "../byte-range.ts";
import { CallerBody } from "../caller-body.ts";
import {
  checkBytes,
  checkCallback,
  checkCount,
  checkDeleteRevision,
  checkIfRevision,
  checkLocalPath,
  checkMetadata,
  checkMode,
  checkNotUtf8,
  checkSignal,
  checkSize,
  checkStreamBody,
  checkString,
  unsupported,
} from "../checks.ts";
import { validateKey, validatePrefix, validateTempKey } from "../keys.ts";
import type { RetryPolicy } from "../retry-policy.ts";
import { openUploadSource, readPieces } from "../upload-source.ts";

/** `backend` behind the checking layer (itself when it already is). */
export function checkedBackend(backend: api.StorageBackend): CheckedBackend {
  return backend instanceof CheckedBackend ? backend : new CheckedBackend(backend);
}

export class CheckedBackend implements api.StorageBackend {
  readonly inner: api.StorageBackend;
  readonly kind: string;
  readonly capabilities: api.BackendCapabilities;
  readonly retryPolicy: RetryPolicy | undefined;
  readonly maxKeyBytes: number | undefined;
  /** Present when the inner backend has it. */
  readonly append?: (key: string, bytes: Uint8Array, options?: api.AppendOptions) => Promise<api.ObjectInfo>;
  readonly readRangeInto?: (key: string, options: api.RangeIntoOptions, sink: api.BodySink) => Promise<number | undefined>;
  readonly checkDeletable?: (prefix: string) => Promise<void>;
  readonly removeLeftovers?: (prefix: string, options?: api.LeftoverOptions) => Promise<void>;
  readonly deleteTemps?: (keys: readonly string[]) => Promise<void>;
  readonly storeNow?: () => Date;

  constructor(inner: api.StorageBackend) {
    this.inner = inner;
    this.kind = inner.kind;
    this.capabilities = inner.capabilities;
    this.retryPolicy = inner.retryPolicy;
    this.maxKeyBytes = inner.maxKeyBytes;
    const append = inner.append?.bind(inner);
    if (append !== undefined) {
      this.append = async (key, bytes, options = {}) => {
        const location = this.#key(key);
        checkBytes(bytes, location, false);
        checkIfRevision(options.ifRevision, this.capabilities, location);
        checkMetadata(options.metadata, location);
        return this.#guard("append to", location, options.signal, (signal) => append(key, bytes, withSignal(options, signal)));
      };
    }
    const readRangeInto = inner.readRangeInto?.bind(inner);
    if (readRangeInto !== undefined) {
      this.readRangeInto = async (key, options, sink) => {
        const location = this.#key(key);
        checkBoundedRange(options.range, location);
        checkCallback("sink.write", sink.write, location);
        return this.#guard("read", location, options.signal, (signal) => readRangeInto(key, withSignal(options, signal), sink));
      };
    }
    const checkDeletable = inner.checkDeletable?.bind(inner);
    if (checkDeletable !== undefined) {
      this.checkDeletable = async (prefix) => {
        this.#prefix(prefix, "folder");
        return checkDeletable(prefix);
      };
    }
    const removeLeftovers = inner.removeLeftovers?.bind(inner);
    if (removeLeftovers !== undefined) {
      this.removeLeftovers = async (prefix, options) => {
        this.#prefix(prefix, "folder");
        return removeLeftovers(prefix, options);
      };
    }
    const deleteTemps = inner.deleteTemps?.bind(inner);
    if (deleteTemps !== undefined) {
      this.deleteTemps = async (keys) => {
        for (const key of keys) validateTempKey(key, this.inner.describe(""));
        if (keys.length > 0) await deleteTemps(keys);
      };
    }
    const storeNow = inner.storeNow?.bind(inner);
    if (storeNow !== undefined) this.storeNow = storeNow;
  }

  describe(key: string): string {
    return this.inner.describe(key);
  }

  async head(key: string, options: { readonly signal?: AbortSignal } = {}): Promise<api.ObjectInfo> {
    const location = this.#key(key);
    return this.#guard("metadata read", location, options.signal, (signal) => this.inner.head(key, withSignal(options, signal)));
  }

  async get(key: string, options: api.ReadOptions = {}): Promise<Uint8Array> {
    const location = this.#key(key);
    checkRange(options.range, location);
    return this.#guard("read", location, options.signal, (signal) => this.inner.get(key, withSignal(options, signal)));
  }

  async getStream(key: string, options: api.ReadOptions = {}): Promise<Readable> {
    const location = this.#key(key);
    checkRange(options.range, location);
    let stream: Readable | undefined;
    // A stream outlives the call: an abort while it flows destroys it with the AbortedError too.
    const relay = new SignalRelay("read", location, checkSignal(options.signal, location), (error) => stream?.destroy(error));
    try {
      stream = await this.inner.getStream(key, withSignal(options, relay.signal));
    } catch (error) {
      relay.dispose();
      throw relay.failure(error);
    }
    if (relay.aborted !== undefined) {
      // Never handed out, so nothing listens to it: an error it emitted (destroyed with one, or failing by itself as
      // its request is aborted) would be an uncaught exception. The caller gets the AbortedError from here instead.
      stream.on("error", () => {}).destroy();
      throw relay.aborted;
    }
    stream.once("close", () => relay.dispose());
    return stream;
  }

  async put(key: string, body: Uint8Array | string, options: api.WriteOptions = {}): Promise<api.ObjectInfo> {
    const location = this.#key(key);
    checkBytes(body, location, true);
    this.#writeOptions(options, location);
    return this.#guard("write", location, options.signal, (signal) => this.inner.put(key, body, withSignal(options, signal)));
  }

  async putStream(key: string, body: Readable | AsyncIterable<Uint8Array>, options: api.StreamWriteOptions = {}): Promise<api.ObjectInfo> {
    const location = this.#key(key);
    checkStreamBody(body, location);
    this.#streamOptions(options, location);
    // Progress is counted, and a failure of the caller's stream or callback becomes INVALID_ARGUMENT naming the
    // destination, here for every backend.
    const { onProgress, ...rest } = options;
    const callerBody = new CallerBody(body, location, onProgress);
    return this.#guard("write", location, options.signal, (signal) => this.inner.putStream(key, callerBody, withSignal(rest, signal)));
  }

  /** The inner backend's putFile, or putStream over the file where it has none. */
  async putFile(key: string, localPath: string, options: api.StreamWriteOptions = {}): Promise<api.ObjectInfo> {
    const location = this.#key(key);
    checkLocalPath(localPath, location);
    this.#streamOptions(options, location);
    return this.#guard("write", location, options.signal, async (signal) => {
      if (this.inner.putFile !== undefined) return this.inner.putFile(key, localPath, withSignal(options, signal));
      const source = await openUploadSource(localPath, location);
      try {
        return await this.inner.putStream(key, readPieces(source), { size: source.size, ...withSignal(options, signal) });
      } finally {
        await source.handle.close();
      }
    });
  }

  async *list(prefix: string, options: api.ListOptions = {}): AsyncIterable<api.ObjectInfo> {
    const location = this.#prefix(prefix, "plain");
    checkString("startAfter", options.startAfter, location);
    checkCount("pageSize", options.pageSize, location);
    checkNotUtf8(options.notUtf8, location);
    checkCallback("onUnlistable", options.onUnlistable, location);
    const relay = new SignalRelay("list", location, checkSignal(options.signal, location));
    try {
      yield* this.inner.list(prefix, withSignal(options, relay.signal));
    } catch (error) {
      throw relay.failure(error);
    } finally {
      relay.dispose();
    }
  }

  async listPage(prefix: string, options: api.ListPageOptions = {}): Promise<api.ListPage> {
    const location = this.#prefix(prefix, "folder");
    checkString("pageToken", options.pageToken, location);
    checkCount("pageSize", options.pageSize, location);
    checkNotUtf8(options.notUtf8, location);
    checkCallback("onUnlistable", options.onUnlistable, location);
    return this.#guard("list", location, options.signal, (signal) => this.inner.listPage(prefix, withSignal(options, signal)));
  }

  async delete(key: string, options: api.DeleteOptions = {}): Promise<void> {
    const location = this.#key(key);
    if (typeof options !== "object" || options === null) {
      throw new InvalidArgumentError(`The options of the delete of ${location} must be an object, got ${String(options)}.`, { path: location });
    }
    if (options.ifRevision === undefined && options.signal === undefined) return this.inner.delete(key);
    checkDeleteRevision(options.ifRevision, this.capabilities, location);
    return this.#guard("delete", location, options.signal, (signal) => this.inner.delete(key, withSignal(options, signal)));
  }

  /** Every key is checked before any is deleted. */
  async deleteMany(keys: Iterable<string> | AsyncIterable<string>): Promise<void> {
    const all: string[] = [];
    for await (const key of keys) all.push(key);
    for (const key of all) this.#key(key);
    if (all.length > 0) await this.inner.deleteMany(all);
  }

  async copy(from: string, to: string, options: api.CopyOptions = {}): Promise<api.ObjectInfo> {
    this.#key(from);
    const location = this.#key(to);
    const mode = checkMode(options.mode, this.capabilities, location, ["overwrite", "create"]);
    if (mode.kind === "create" && !this.capabilities.copyCreateOnly) throw unsupported("create-only copies", location);
    return this.#guard("copy to", location, options.signal, (signal) => this.inner.copy(from, to, withSignal(options, signal)));
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  #writeOptions(options: api.WriteOptions, location: string): void {
    checkMode(options.mode, this.capabilities, location);
    checkString("contentType", options.contentType, location);
    checkMetadata(options.metadata, location);
  }

  #streamOptions(options: api.StreamWriteOptions, location: string): void {
    this.#writeOptions(options, location);
    checkCount("partSize", options.partSize, location);
    checkCount("concurrency", options.concurrency, location);
    checkSize(options.size, location);
    checkCallback("onProgress", options.onProgress, location);
  }

  /** Validates `key`; its location for messages. */
  #key(key: string): string {
    validateKey(key, this.inner.describe(""));
    return this.inner.describe(key);
  }

  /** Validates a listing prefix: a "plain" one is any key start ("a/b" matches "a/bc"); a "folder" one is "" or
   * ends in "/". Its location for messages. */
  #prefix(prefix: string, kind: "plain" | "folder"): string {
    const root = this.inner.describe("");
    if (typeof prefix === "string" && prefix !== "" && !prefix.endsWith("/")) {
      if (kind === "folder") {
        throw new InvalidArgumentError(`Invalid folder prefix ${JSON.stringify(prefix)} under ${root}: it must be "" or end in "/".`, {
          path: prefix,
        });
      }
      validateKey(prefix, root);
    } else {
      validatePrefix(prefix, root);
    }
    return this.inner.describe(prefix);
  }

  async #guard<T>(action: string, location: string, caller: unknown, run: (signal: AbortSignal | undefined) => Promise<T>): Promise<T> {
    const relay = new SignalRelay(action, location, checkSignal(caller, location));
    try {
      return await run(relay.signal);
    } catch (error) {
      throw relay.failure(error);
    } finally {
      relay.dispose();
    }
  }
}

/** Relays a caller's signal to the backend with an AbortedError as its reason. */
class SignalRelay {
  readonly signal: AbortSignal | undefined;
  readonly #caller: AbortSignal | undefined;
  readonly #controller: AbortController | undefined;
  readonly #onAbort: () => void;
  readonly #action: string;
  readonly #location: string;
  #aborted: AbortedError | undefined;

  constructor(action: string, location: string, caller: AbortSignal | undefined, onAbort?: (error: AbortedError) => void) {
    this.#action = action;
    this.#location = location;
    this.#caller = caller;
    this.#onAbort = () => {
      const error = this.#abortedError();
      onAbort?.(error);
      this.#controller?.abort(error);
    };
    if (caller === undefined) {
      this.signal = undefined;
      return;
    }
    if (caller.aborted) throw this.#abortedError();
    this.#controller = new AbortController();
    this.signal = this.#controller.signal;
    caller.addEventListener("abort", this.#onAbort, { once: true });
  }

  /** The AbortedError once the caller's signal fired. */
  get aborted(): AbortedError | undefined {
    return this.#caller?.aborted === true ? this.#abortedError() : undefined;
  }

  /** What a failed call throws: the AbortedError when the caller aborted, else the failure itself. */
  failure(error: unknown): unknown {
    const aborted = this.aborted;
    if (aborted === undefined || isOpenCrateError(error, "ABORTED")) return error;
    return aborted;
  }

  dispose(): void {
    this.#caller?.removeEventListener("abort", this.#onAbort);
  }

  #abortedError(): AbortedError {
    this.#aborted ??= new AbortedError(`The ${this.#action} of ${this.#location} was aborted.`, {
      path: this.#location,
      cause: this.#caller?.reason,
    });
    return this.#aborted;
  }
}

function withSignal<T extends { readonly signal?: AbortSignal }>(options: T, signal: AbortSignal | undefined): T {
  const { signal: _caller, ...rest } = options;
  return (signal === undefined ? rest : { ...rest, signal }) as T;
}
