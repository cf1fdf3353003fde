/**
 * Google Cloud Storage backend over @google-cloud/storage, loaded on first use. Keys live under
 * `gs://bucket/prefix/`. The revision is the object's generation; create-only writes send ifGenerationMatch=0
 * and compare-and-swap writes the generation, both checked by GCS when the object is committed. Configuration
 * is the Google Cloud way: Application Default Credentials, an `apiEndpoint` option or STORAGE_EMULATOR_HOST
 * for emulators (no credentials are sent to a custom endpoint unless `authenticate` is set).
 */
import { randomUUID } from "node:crypto";
import { addAbortSignal, type Readable } from "node:stream";
import type { Bucket, File, FileMetadata, Storage } from "@google-cloud/storage";
import { InvalidArgumentError, isOpenCrateError, PreconditionFailedError, TransientError } from "../../errors.ts";
import { parseLocation, redact } from "../../uri.ts";
import type {
  BackendCapabilities,
  BodySink,
  CopyOptions,
  DeleteOptions,
  ListOptions,
  ListPage,
  ListPageOptions,
  ObjectInfo,
  RangeIntoOptions,
  ReadOptions,
  StorageBackend,
  StreamWriteOptions,
  WriteMode,
  WriteOptions,
} from "../backend.ts";
import { copyFromBusySource, SourceReplaced } from "../source-changes.ts";
import { collectBytes, toBytes } from "../streams.ts";
import { openUploadSource } from "../upload-source.ts";
import { CallerBody } from "../caller-body.ts";
import { createStorage, loadStorageSdk, type GcsClient } from "./client.ts";
import { checkCredentials, type CredentialFile } from "./credentials.ts";
import { openRead } from "./download.ts";
import { readRangeInto } from "./range-into.ts";
import { isNotFound, toGcsError, type GcsAction } from "./errors.ts";
import { expectResource, objectResource } from "./json-answer.ts";
import { listFolderPage } from "./folder-page.ts";
import { toObjectInfo, uploadMetadata, userMetadataOf } from "./object-info.ts";
import { resolveGcsSettings, roundChunkSize, type GcsBackendOptions, type GcsSettings } from "./options.ts";
import {
  copyPreconditionsEnforced,
  ensureConditionalDeletes,
  ensureConditionalWrites,
  knownCopyVerdict,
  probeConditionalWrites,
  probeConditionalDeletes,
  probeCopyPreconditions,
} from "./probe.ts";
import { agentWithTimeouts } from "./socket-timeouts.ts";
import { statusQueriesSafe, statusQueryCommits } from "./status-probe.ts";
import { preconditionOf, settle, uploadBytes, uploadFile, uploadStream, type UploadRequest } from "./upload.ts";
import { portableOptions, type RetryPolicy } from "../retry-policy.ts";
import { isFolderMarker, keyBytesUnder, validateTempKey } from "../keys.ts";

/** Deletes in flight at once in `deleteMany`. */
const DELETE_CONCURRENCY = 16;
const DEFAULT_PAGE_SIZE = 1000;

export class GcsBackend implements StorageBackend {
  readonly kind = "gcs";
  readonly bucket: string;
  /** "" or "a/b" (no leading or trailing "/"). */
  readonly prefix: string;
  readonly retryPolicy: RetryPolicy;
  /** 1024 less the prefix and its "/": GCS's object-name limit counts the whole name. */
  readonly maxKeyBytes: number;
  readonly #settings: GcsSettings;
  readonly #givenStorage: Storage | undefined;
  readonly #options: GcsBackendOptions;
  readonly #capabilities: BackendCapabilities;
  /** Where requests go (the given client's endpoint when one was given), for messages and the probe cache. */
  readonly #endpoint: string;
  #client: Promise<GcsClient & { readonly bucket: Bucket }> | undefined;
  /** Files the credentials are read from on each token refresh (checkCredentials), named in errors. */
  #credentialFiles: readonly CredentialFile[] = [];
  /** Set once any call reached the bucket: a 404 after that is about an object, not the bucket. */
  #bucketSeen = false;
  #closed = false;

  /** Options that build an equal backend in another thread (the log writer's); undefined with a given client. */
  portableOptions(): GcsBackendOptions | undefined {
    return this.#givenStorage === undefined ? portableOptions(this.#options, this.retryPolicy) : undefined;
  }

  constructor(options: GcsBackendOptions) {
    this.#settings = resolveGcsSettings(options);
    this.#givenStorage = options.storage;
    this.#options = options;
    this.#endpoint = options.storage?.apiEndpoint ?? this.#settings.endpoint;
    this.bucket = this.#settings.bucket;
    this.prefix = this.#settings.prefix;
    this.maxKeyBytes = keyBytesUnder(this.prefix);
    this.retryPolicy = this.#settings.retry;
    this.#capabilities = {
      createOnly: true,
      compareAndSwap: true,
      // Enforced by the store either way: a conditional rewrite, or a conditional upload of the source's bytes.
      copyCreateOnly: true,
      serverSideCopy: true,
      multipartThreshold: this.#settings.resumableThreshold,
      userMetadata: true,
      settlesConditionalWrites: true,
      conditionalDelete: true,
    };
  }

  /**
   * Overwrite copies are always server-side rewrites. Create-only and compare-and-swap copies are server-side
   * rewrites with ifGenerationMatch on stores that enforce it there (Google Cloud Storage), and a streamed
   * conditional upload on stores that ignore it (fake-gcs-server 1.55.1); see {@link conditionalCopiesServerSide}.
   * So `serverSideCopy` turns false once this process has found that this endpoint and bucket ignore it.
   */
  get capabilities(): BackendCapabilities {
    return { ...this.#capabilities, serverSideCopy: knownCopyVerdict(this.#storeKey) !== false };
  }

  /**
   * True when create-only and compare-and-swap copies run inside the store; false when their bytes pass through
   * this process (still atomic and enforced by the store). Probes the store on the first call per endpoint and
   * bucket in this process: two probe objects are written, one is copied create-only onto the other (which must
   * fail with 412), and both are deleted.
   */
  async conditionalCopiesServerSide(options: { readonly signal?: AbortSignal } = {}): Promise<boolean> {
    return this.#copyPreconditionsEnforced("", options.signal);
  }

  /** A backend for a `gs://bucket/prefix` URI; `options` supply everything else. */
  static fromUri(uri: string, options: Omit<GcsBackendOptions, "bucket" | "prefix"> = {}): GcsBackend {
    const location = parseLocation(uri);
    if (location.scheme !== "gs") {
      throw new InvalidArgumentError(`GcsBackend needs a gs://bucket/prefix URI, got ${redact(uri)}.`, { path: redact(uri) });
    }
    return new GcsBackend({ ...options, bucket: location.bucket, prefix: location.prefix });
  }

  describe(key: string): string {
    const name = this.#name(key);
    return name === "" ? `gs://${this.bucket}` : `gs://${this.bucket}/${name}`;
  }

  async head(key: string, options: { readonly signal?: AbortSignal } = {}): Promise<ObjectInfo> {
    const file = await this.#file(key);
    try {
      const resource = await objectResource(file);
      this.#bucketSeen = true;
      return toObjectInfo(key, resource);
    } catch (error) {
      throw await this.#failure(error, "read", key, { signal: options.signal });
    }
  }

  async get(key: string, options: ReadOptions = {}): Promise<Uint8Array> {
    const stream = await this.getStream(key, options);
    return collectBytes(stream);
  }

  async getStream(key: string, options: ReadOptions = {}): Promise<Readable> {
    const { bucket, agent } = await this.#open();
    try {
      const stream = await openRead({
        // A pinned read asks for that generation: once the object is replaced, GCS answers 404.
        file: bucket.file(this.#name(key), pinnedGeneration(this.describe(key), options.ifRevision)),
        agent,
        range: options.range,
        retry: this.#settings.retry,
        signal: options.signal,
        mapError: (error) => toGcsError(error, this.#context("read", key)),
      });
      this.#bucketSeen = true;
      return options.signal === undefined ? stream : addAbortSignal(options.signal, stream);
    } catch (error) {
      const failure = await this.#failure(error, "read", key, { signal: options.signal });
      if (options.ifRevision !== undefined && isOpenCrateError(failure) && failure.code === "NOT_FOUND" && (await this.#exists(key))) {
        throw new PreconditionFailedError(`${this.describe(key)} changed: it is no longer at revision ${options.ifRevision}.`, {
          path: this.describe(key),
        });
      }
      throw failure;
    }
  }

  /**
   * A ranged read straight from the socket into reused buffers, on a plain-HTTP endpoint (else undefined); a body
   * that breaks off is continued through getStream, pinned to the generation it came from.
   */
  async readRangeInto(key: string, options: RangeIntoOptions, sink: BodySink): Promise<number | undefined> {
    const { offset, length } = options.range;
    if (length === 0) return undefined;
    const { bucket } = await this.#open();
    const file = bucket.file(this.#name(key), pinnedGeneration(this.describe(key), options.ifRevision));
    const count = await readRangeInto(
      {
        file,
        offset,
        length,
        connectTimeoutMs: this.#settings.connectTimeoutMs,
        idleTimeoutMs: this.#settings.requestTimeoutMs,
        signal: options.signal,
        readRest: (from, rest, generation) => this.#readRest(key, { offset: from, length: rest }, generation, options),
        mapError: (error) => this.#failure(error, "read", key, { signal: options.signal }),
      },
      sink,
    );
    if (count !== undefined) this.#bucketSeen = true;
    return count;
  }

  /** The rest of a ranged read that broke off, from the generation it began on. */
  async #readRest(key: string, range: RangeIntoOptions["range"], generation: string, options: RangeIntoOptions): Promise<Readable> {
    try {
      return await this.getStream(key, { range, ifRevision: generation, ...(options.signal === undefined ? {} : { signal: options.signal }) });
    } catch (error) {
      // A caller that pinned no revision learns, as from a streamed read, that the object changed under the read.
      if (options.ifRevision !== undefined || !isOpenCrateError(error, "PRECONDITION_FAILED")) throw error;
      throw new TransientError(`${this.describe(key)} changed while it was being read (generation ${generation} is gone); read it again.`, {
        path: this.describe(key),
        cause: error,
      });
    }
  }

  /** Whether some generation of the object exists; a pinned read answered 404 tells "replaced" from "deleted" by it. */
  async #exists(key: string): Promise<boolean> {
    try {
      await this.head(key);
      return true;
    } catch {
      return false;
    }
  }

  async put(key: string, body: Uint8Array | string, options: WriteOptions = {}): Promise<ObjectInfo> {
    const mode = this.#checkMode(key, options.mode);
    const bytes = toBytes(body);
    const request = await this.#uploadRequest(key, mode, options, this.#settings.chunkSize);
    try {
      const resource = await uploadBytes(request, bytes);
      this.#bucketSeen = true;
      return toObjectInfo(key, resource);
    } catch (error) {
      throw await this.#failure(error, "write", key, { mode, signal: options.signal });
    }
  }

  async putStream(
    key: string,
    body: Readable | AsyncIterable<Uint8Array>,
    options: StreamWriteOptions = {},
  ): Promise<ObjectInfo> {
    const mode = this.#checkMode(key, options.mode);
    const chunkSize = options.partSize === undefined ? this.#settings.chunkSize : roundChunkSize(options.partSize);
    const callerBody = new CallerBody(body, this.describe(key), options.onProgress);
    const request = await this.#uploadRequest(key, mode, options, chunkSize);
    try {
      const resource = await uploadStream(request, callerBody, { size: options.size });
      this.#bucketSeen = true;
      return toObjectInfo(key, resource);
    } catch (error) {
      if (callerBody.failure !== undefined) throw callerBody.failure.error;
      throw await this.#failure(error, "write", key, { mode, signal: options.signal });
    }
  }

  /** A file from the resumable threshold up goes in one streamed request (see uploadResumableFile). */
  async putFile(key: string, localPath: string, options: StreamWriteOptions = {}): Promise<ObjectInfo> {
    const mode = this.#checkMode(key, options.mode);
    const source = await openUploadSource(localPath, this.describe(key));
    try {
      const request = await this.#uploadRequest(key, mode, options, this.#settings.chunkSize);
      const resource = await uploadFile(request, { ...source, onProgress: options.onProgress });
      this.#bucketSeen = true;
      return toObjectInfo(key, resource);
    } catch (error) {
      throw await this.#failure(error, "write", key, { mode, signal: options.signal });
    } finally {
      await source.handle.close();
    }
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectInfo> {
    const { bucket } = await this.#open();
    // startOffset is inclusive: the name equal to it is skipped below.
    const startOffset = options.startAfter === undefined ? undefined : this.#name(options.startAfter);
    let pageToken: string | undefined;
    do {
      options.signal?.throwIfAborted();
      let files: File[];
      try {
        const [page, next, response] = await bucket.getFiles({
          prefix: this.#base + prefix,
          autoPaginate: false,
          maxResults: options.pageSize ?? DEFAULT_PAGE_SIZE,
          ...(pageToken === undefined ? {} : { pageToken }),
          ...(startOffset === undefined ? {} : { startOffset }),
        });
        expectResource(response, "storage#objects");
        files = page;
        pageToken = next?.pageToken;
      } catch (error) {
        throw await this.#failure(error, "list", prefix, { signal: options.signal });
      }
      this.#bucketSeen = true;
      for (const file of files) {
        if (file.name === startOffset || file.name.length <= this.#base.length) continue;
        const info = toObjectInfo(this.#keyOf(file.name), file.metadata);
        if (!isFolderMarker(info)) yield info;
      }
    } while (pageToken !== undefined && pageToken !== "");
  }

  async listPage(prefix: string, options: ListPageOptions = {}): Promise<ListPage> {
    const { bucket } = await this.#open();
    try {
      const page = await listFolderPage({
        bucket,
        folder: this.#base + prefix,
        pageSize: options.pageSize ?? DEFAULT_PAGE_SIZE,
        pageToken: options.pageToken,
        where: this.describe(prefix.replace(/\/$/, "")),
      });
      this.#bucketSeen = true;
      return {
        // The root's own name is no key; a folder marker is no object (isFolderMarker).
        objects: page.objects
          .filter((file) => file.name.length > this.#base.length)
          .map((file) => toObjectInfo(this.#keyOf(file.name), file.metadata))
          .filter((info) => !isFolderMarker(info)),
        prefixes: page.prefixes.map((name) => this.#keyOf(name)),
        ...(page.nextPageToken === undefined ? {} : { nextPageToken: page.nextPageToken }),
      };
    } catch (error) {
      throw await this.#failure(error, "list", prefix, { signal: options.signal });
    }
  }

  /**
   * A conditional delete sends ifGenerationMatch, checked by the store (probed first: fake-gcs-server ignores it).
   * The SDK may send it again after a failure whose outcome is unknown; a first attempt that landed leaves the
   * object absent (404: done) or, should another writer have created it since, at another generation (412:
   * PreconditionFailedError, the object at our generation gone either way).
   */
  async delete(key: string, options: DeleteOptions = {}): Promise<void> {
    const file = await this.#file(key);
    const revision = options.ifRevision;
    if (revision !== undefined) {
      // A revision that is not a generation number can never match (and an object is never at generation 0).
      if (!/^[1-9][0-9]*$/.test(revision)) {
        if (!(await this.#exists(key))) return;
        throw new PreconditionFailedError(`${this.describe(key)} is not at revision ${JSON.stringify(revision)}: GCS revisions are generation numbers.`, {
          path: this.describe(key),
        });
      }
      await this.#ensureConditionalDeletes(key, options.signal);
    }
    try {
      options.signal?.throwIfAborted();
      await file.delete(revision === undefined ? {} : { ifGenerationMatch: Number(revision) });
      this.#bucketSeen = true;
    } catch (error) {
      // A missing object is fine; a missing bucket is not (the SDK's ignoreNotFound would hide both).
      if (isNotFound(error) && (this.#bucketSeen || !(await this.#bucketIsMissing()))) return;
      throw await this.#failure(error, "delete", key, { signal: options.signal });
    }
  }

  /** Runs the conditional-delete probe (once per endpoint and bucket) before a conditional delete of `key`. */
  async #ensureConditionalDeletes(key: string, signal: AbortSignal | undefined): Promise<void> {
    const { bucket } = await this.#open();
    const where = `gs://${this.bucket} at ${this.#endpoint}`;
    const probeName = this.#name(`.opencrate-probe-${randomUUID()}`);
    try {
      await ensureConditionalDeletes(this.#storeKey, () => probeConditionalDeletes(bucket, probeName, where));
    } catch (error) {
      throw await this.#failure(error, "probe", key, { signal });
    }
  }

  /** Deletes temp objects a listing showed (the snapshots of busy copy sources); see StorageBackend.deleteTemps. */
  async deleteTemps(keys: readonly string[]): Promise<void> {
    for (const key of keys) validateTempKey(key, this.describe(""));
    await this.deleteMany(keys);
  }

  async deleteMany(keys: Iterable<string> | AsyncIterable<string>): Promise<void> {
    const iterator =
      Symbol.asyncIterator in keys ? keys[Symbol.asyncIterator]() : (keys as Iterable<string>)[Symbol.iterator]();
    let failure: { readonly error: unknown } | undefined;
    const worker = async (): Promise<void> => {
      while (failure === undefined) {
        const next = await iterator.next();
        if (next.done === true) return;
        try {
          await this.delete(next.value);
        } catch (error) {
          failure ??= { error };
        }
      }
    };
    await Promise.all(Array.from({ length: DELETE_CONCURRENCY }, worker));
    if (failure !== undefined) throw failure.error;
  }

  async copy(from: string, to: string, options: CopyOptions = {}): Promise<ObjectInfo> {
    const mode = this.#checkMode(to, options.mode);
    if (mode.kind !== "overwrite") {
      const serverSide = await this.#copyPreconditionsEnforced(to, options.signal);
      try {
        // Each attempt copies the generation just read; a source that keeps changing goes through a snapshot.
        return await copyFromBusySource({
          from,
          to,
          copyFrom: (source) =>
            serverSide ? this.#copyRewritingConditionally(source, to, mode, options.signal) : this.#copyStreaming(source, to, mode, options.signal),
          sourceChanged: (error) => error instanceof SourceReplaced,
          snapshot: async (temporary) => {
            await this.#copyAsIs(from, temporary, options.signal);
          },
          remove: (temporary) => this.delete(temporary),
          signal: options.signal,
          retry: this.retryPolicy,
        });
      } catch (error) {
        if (!(error instanceof SourceReplaced)) throw error;
        // Only if the snapshot itself was replaced or deleted under the copy.
        throw new TransientError(`${this.describe(from)} changed while it was copied to ${this.describe(to)}; try again.`, {
          path: this.describe(from),
          cause: error.cause,
        });
      }
    }
    return this.#copyAsIs(from, to, options.signal);
  }

  /** One rewrite of the source as it is, with no condition (server-side everywhere). */
  async #copyAsIs(from: string, to: string, signal: AbortSignal | undefined): Promise<ObjectInfo> {
    const source = await this.#file(from);
    const target = await this.#file(to);
    try {
      signal?.throwIfAborted();
      const [copied] = await source.copy(target);
      this.#bucketSeen = true;
      const resource = copied.metadata.generation === undefined ? await objectResource(copied) : copied.metadata;
      return toObjectInfo(to, resource);
    } catch (error) {
      // A 404 here is the source (or the bucket); anything else is about the target.
      if (isNotFound(error)) throw await this.#failure(error, "read", from, { signal });
      throw await this.#failure(error, "copy", to, { signal });
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    const client = this.#client;
    this.#client = undefined;
    (await client?.catch(() => undefined))?.release();
  }

  /**
   * A create-only or CAS copy as one rewrite carrying ifGenerationMatch, on a store known to enforce it there.
   * Like a conditional upload it sets a writer token on the destination (with the source's content type and
   * user metadata, pinned to the generation just read), so a 412 or lost answer after a retried rewrite is
   * settled by reading the destination back. SourceReplaced when that generation is gone by the time of the rewrite.
   */
  async #copyRewritingConditionally(from: string, to: string, mode: WriteMode, signal: AbortSignal | undefined): Promise<ObjectInfo> {
    const { bucket } = await this.#open();
    const resource = await this.#sourceResource(from, signal);
    const writerToken = randomUUID();
    const destination = uploadMetadata({ contentType: resource.contentType, metadata: userMetadataOf(resource), writerToken });
    const pinned = bucket.file(this.#name(from), { generation: Number(resource.generation) });
    const target = bucket.file(this.#name(to));
    try {
      const written = await settle({ file: target, writerToken, signal }, async () => {
        signal?.throwIfAborted();
        // A large rewrite may take several calls: the SDK follows rewriteToken with the token alone, and GCS keeps
        // the first call's fields (precondition and destination metadata included) with the token.
        const [, response] = await pinned.copy(target, {
          contentType: destination.contentType,
          metadata: destination.metadata,
          ...(resource.cacheControl === undefined ? {} : { cacheControl: resource.cacheControl }),
          ...(resource.contentDisposition === undefined ? {} : { contentDisposition: resource.contentDisposition }),
          ...(resource.contentEncoding === undefined ? {} : { contentEncoding: resource.contentEncoding }),
          ...preconditionOf(mode),
        });
        // The rewrite response holds the new object; without it settle() reads the destination.
        return (response as { resource?: FileMetadata } | undefined)?.resource ?? {};
      });
      this.#bucketSeen = true;
      return toObjectInfo(to, written);
    } catch (error) {
      // A 404 is that generation of the source, replaced or deleted meanwhile (the next attempt tells which);
      // anything else is about the target.
      if (isNotFound(error) && !(signal?.aborted ?? false)) throw new SourceReplaced(error);
      throw await this.#failure(error, "copy", to, { mode, signal });
    }
  }

  /**
   * A create-only or CAS copy on a store that ignores ifGenerationMatch on rewrite (fake-gcs-server 1.55.1):
   * the source's bytes, pinned to the generation just read, go through a conditional upload. SourceReplaced when
   * that generation is gone by the time the read starts.
   */
  async #copyStreaming(from: string, to: string, mode: WriteMode, signal: AbortSignal | undefined): Promise<ObjectInfo> {
    const { bucket, agent } = await this.#open();
    // The probe first, so that nothing slow stands between reading the generation and opening it.
    await this.#ensureConditionalWrites(to, signal);
    const resource = await this.#sourceResource(from, signal);
    const pinned = bucket.file(this.#name(from), { generation: Number(resource.generation) });
    let source: Readable;
    try {
      source = await openRead({
        file: pinned,
        agent,
        retry: this.#settings.retry,
        signal,
        mapError: (error) => toGcsError(error, this.#context("read", from)),
      });
    } catch (error) {
      if (isNotFound(error) && !(signal?.aborted ?? false)) throw new SourceReplaced(error);
      throw await this.#failure(error, "read", from, { signal });
    }
    let request: UploadRequest;
    try {
      request = await this.#uploadRequest(
        to,
        mode,
        { contentType: resource.contentType, metadata: userMetadataOf(resource), signal },
        this.#settings.chunkSize,
      );
    } catch (error) {
      source.destroy();
      throw error;
    }
    const callerBody = new CallerBody(source, this.describe(to));
    try {
      const written = await uploadStream(request, callerBody, { size: Number(resource.size ?? 0) });
      return toObjectInfo(to, written);
    } catch (error) {
      if (callerBody.failure !== undefined) throw callerBody.failure.error;
      throw await this.#failure(error, "copy", to, { mode, signal });
    } finally {
      source.destroy();
    }
  }

  async #sourceResource(from: string, signal: AbortSignal | undefined): Promise<FileMetadata> {
    try {
      return await objectResource(await this.#file(from));
    } catch (error) {
      throw await this.#failure(error, "read", from, { signal });
    }
  }

  async #uploadRequest(
    key: string,
    mode: WriteMode,
    options: { readonly contentType?: string | undefined; readonly metadata?: Readonly<Record<string, string>> | undefined; readonly signal?: AbortSignal | undefined },
    chunkSize: number,
  ): Promise<UploadRequest> {
    const conditional = mode.kind !== "overwrite";
    if (conditional) await this.#ensureConditionalWrites(key, options.signal);
    const client = await this.#open();
    return {
      file: client.bucket.file(this.#name(key)),
      agent: client.agent,
      retry: this.#settings.retry,
      mode,
      contentType: options.contentType,
      metadata: options.metadata,
      writerToken: conditional ? randomUUID() : undefined,
      resumableThreshold: this.#settings.resumableThreshold,
      chunkSize,
      statusQueriesSafe: () => this.#statusQueriesSafe(key, options.signal),
      signal: options.signal,
    };
  }

  /** Whether resumable sessions on this store may be asked how far they got: probed once per endpoint and bucket. */
  async #statusQueriesSafe(key: string, signal: AbortSignal | undefined): Promise<boolean> {
    const { bucket, agent } = await this.#open();
    const probe = bucket.file(this.#name(`.opencrate-probe-${randomUUID()}`));
    try {
      return await statusQueriesSafe(this.#storeKey, () => statusQueryCommits(probe, agent));
    } catch (error) {
      throw await this.#failure(error, "probe", key, { signal });
    }
  }

  /** Runs the start-up probe (once per endpoint and bucket) before a conditional write to `key`. */
  async #ensureConditionalWrites(key: string, signal: AbortSignal | undefined): Promise<void> {
    const { bucket, agent } = await this.#open();
    const where = `gs://${this.bucket} at ${this.#endpoint}`;
    const probeName = this.#name(`.opencrate-probe-${randomUUID()}`);
    try {
      await ensureConditionalWrites(this.#storeKey, () => probeConditionalWrites(bucket, probeName, where, agent));
    } catch (error) {
      throw await this.#failure(error, "probe", key, { signal });
    }
  }

  /** Whether this store enforces ifGenerationMatch on rewrites: probed once per endpoint and bucket. */
  async #copyPreconditionsEnforced(key: string, signal: AbortSignal | undefined): Promise<boolean> {
    const { bucket } = await this.#open();
    const probe = `.opencrate-probe-${randomUUID()}`;
    const names = { source: this.#name(`${probe}-copy-from`), target: this.#name(`${probe}-copy-to`) };
    try {
      return await copyPreconditionsEnforced(this.#storeKey, () => probeCopyPreconditions(bucket, names));
    } catch (error) {
      throw await this.#failure(error, "probe", key, { signal });
    }
  }

  /** The process-wide cache key of the start-up probes. */
  get #storeKey(): string {
    return `${this.#endpoint} ${this.bucket}`;
  }

  /** The (checked) mode; a revision that is not a generation number can never match. */
  #checkMode(key: string, mode: WriteMode | undefined): WriteMode {
    if (mode?.kind === "replace" && !/^\d+$/.test(mode.revision)) {
      throw new PreconditionFailedError(
        `${this.describe(key)} cannot be at revision ${JSON.stringify(mode.revision)}: GCS revisions are generation numbers.`,
        { path: this.describe(key) },
      );
    }
    return mode ?? { kind: "overwrite" };
  }

  /** The SDK error as an OpenCrateError (an abort stays the abort), with a 404 traced to the bucket if need be. */
  async #failure(
    error: unknown,
    action: GcsAction,
    key: string,
    extra: { readonly mode?: WriteMode; readonly signal?: AbortSignal | undefined } = {},
  ): Promise<unknown> {
    if (extra.signal?.aborted === true) return extra.signal.reason;
    const bucketMissing = isNotFound(error) && !this.#bucketSeen && (await this.#bucketIsMissing());
    return toGcsError(error, { ...this.#context(action, key), ...(extra.mode === undefined ? {} : { mode: extra.mode }), bucketMissing });
  }

  #context(action: GcsAction, key: string) {
    return {
      action,
      location: this.describe(key),
      bucket: this.bucket,
      endpoint: this.#endpoint,
      requestTimeoutMs: this.#settings.requestTimeoutMs,
      connectTimeoutMs: this.#settings.connectTimeoutMs,
      credentialFiles: this.#credentialFiles,
    };
  }

  async #bucketIsMissing(): Promise<boolean> {
    try {
      const { bucket } = await this.#open();
      const [exists] = await bucket.exists();
      if (exists) this.#bucketSeen = true;
      return !exists;
    } catch {
      // No permission to look at the bucket itself, or unreachable: cannot tell.
      return false;
    }
  }

  #open(): Promise<GcsClient & { readonly bucket: Bucket }> {
    if (this.#closed) {
      return Promise.reject(new InvalidArgumentError(`The backend for ${this.describe("")} is closed.`, { path: this.describe("") }));
    }
    this.#client ??= (async () => {
      if (this.#givenStorage !== undefined) return this.#withBucket(this.#wrapGiven(this.#givenStorage));
      if (this.#settings.authenticate) {
        await loadStorageSdk(this.describe("")); // a missing @google-cloud/storage is the first thing to fix, before credentials
        this.#credentialFiles = await checkCredentials(this.describe(""));
      }
      return this.#withBucket(await createStorage(this.#settings, this.describe("")));
    })();
    const opening = this.#client;
    opening.catch(() => {
      if (this.#client === opening) this.#client = undefined;
    });
    return opening;
  }

  #withBucket(client: GcsClient): GcsClient & { readonly bucket: Bucket } {
    return { ...client, bucket: client.storage.bucket(this.bucket) };
  }

  /** A caller's client, used as it is; resumable chunks and downloads still get this backend's time-outs. */
  #wrapGiven(storage: Storage): GcsClient {
    const timeouts = { connectMs: this.#settings.connectTimeoutMs, idleMs: this.#settings.requestTimeoutMs };
    const agent = agentWithTimeouts(storage.apiEndpoint, timeouts);
    return { storage, agent, release: () => agent.destroy() };
  }

  async #file(key: string): Promise<File> {
    return (await this.#open()).bucket.file(this.#name(key));
  }

  /** "" or "prefix/": what every object name of this backend starts with. */
  get #base(): string {
    return this.prefix === "" ? "" : `${this.prefix}/`;
  }

  #name(key: string): string {
    return key === "" ? this.prefix : this.#base + key;
  }

  #keyOf(name: string): string {
    return name.slice(this.#base.length);
  }
}

/** The File options of a read pinned to `revision` (a generation number; anything else can never match). */
function pinnedGeneration(location: string, revision: string | undefined): { generation?: number } {
  if (revision === undefined) return {};
  if (!/^[1-9][0-9]*$/.test(revision)) {
    throw new PreconditionFailedError(`${location} is not at revision ${JSON.stringify(revision)}: GCS revisions are generation numbers.`, {
      path: location,
    });
  }
  return { generation: Number(revision) };
}
