/**
 * StorageBackend on Amazon S3 and S3-compatible stores (MinIO, …), with @aws-sdk/client-s3 loaded on first use.
 *
 * - Create-only writes send If-None-Match: *, compare-and-swap sends If-Match: <ETag>; a revision is the ETag
 *   exactly as S3 returns it (quotes included). Before the first conditional write the store is probed
 *   (probe.ts) and refused if it ignores the headers.
 * - Copies stay inside the store. Conditional copies (and copies over 5 GiB) are multipart copies whose
 *   CompleteMultipartUpload carries the condition, because MinIO and moto silently ignore If-None-Match on
 *   CopyObject: so copy-create is atomic and never moves bytes through this process.
 * - With readConcurrency > 1, a whole-object getStream past one part is read in parallel ranged GETs pinned to
 *   the first answer's ETag (parallel-download.ts); putFile reads parts at their offsets into the part buffers.
 * - putStream reads one part ahead: a body within one part is a single PutObject, a longer one a multipart upload
 *   in reused part buffers (multipart.ts), aborted on any failure, the condition checked at completion.
 * - append from 5 MiB copies the object server-side into a multipart upload and sends only the new bytes
 *   (append.ts); smaller objects, and stores that ignore If-Match on completion, are rewritten conditionally.
 * - SDK errors are mapped in errors.ts only.
 */
import { randomUUID } from "node:crypto";
import type { Readable } from "node:stream";
import { PassThrough, Readable as NodeReadable } from "node:stream";
import type { HeadObjectCommandOutput, PutObjectCommandInput } from "@aws-sdk/client-s3";
import { InvalidArgumentError, PreconditionFailedError, isOpenCrateError } from "../../errors.ts";
import { parseLocation, redact } from "../../uri.ts";
import type { AppendOptions, BackendCapabilities, BodySink, CopyOptions, DeleteOptions, ListOptions, ListPage, ListPageOptions, ObjectInfo, RangeIntoOptions, ReadOptions, StorageBackend, StreamWriteOptions, WriteMode, WriteOptions } from "../backend.ts";
import { FULL_CAPABILITIES, OVERWRITE, ifRevision } from "../backend.ts";
import { CallerBody } from "../caller-body.ts";
import { copyFromBusySource } from "../source-changes.ts";
import { toBytes } from "../streams.ts";
import { openUploadSource, readAll } from "../upload-source.ts";
import { appendByPartCopy } from "./append.ts";
import { EMPTY_RANGE, MAX_LIST_PAGE, conditionsFor, partSizeFor, rangeHeader } from "./checks.ts";
import { type S3Connection, connect } from "./client.ts";
import { newWriterToken } from "../conditional-write.ts";
import { runConditionalWrite } from "./conditional.ts";
import {
  deleteObjectsError,
  isInvalidRange,
  isNoSuchKey,
  isPreconditionFailed,
  isSourceChanged,
  mapS3Error,
  sourceChangedDuringCopy,
} from "./errors.ts";
import { type CopiedHeaders, copySource, multipartCopy } from "./multipart-copy.ts";
import { type PartSource, bufferedFileParts, fileParts, isBodyError, readFirstPart, streamParts, uploadMultipart } from "./multipart.ts";
import { DirectGet, isPlainMetadata } from "./direct-get.ts";
import { expectAnswer } from "./answer-check.ts";
import { type ListingEntry, type ListingPage, decodedListing } from "./list-answer.ts";
import { plainRoute } from "./plain-route.ts";
import { SigningClock } from "./signing-clock.ts";
import { nodeBody, openWholeObject } from "./parallel-download.ts";
import { WRITER_TOKEN_KEY, infoFromHeaders, infoFromListing, userMetadata, writerTokenOf } from "./object-info.ts";
import { type S3BackendOptions, type S3Settings, S3_MIN_PART_SIZE, endpointLabel, resolveS3Settings } from "./options.ts";
import { S3Paths } from "./paths.ts";
import { portableOptions, type RetryPolicy } from "../retry-policy.ts";
import { type ProbedFeature, ensureEnforced } from "./probe.ts";
import { isFolderMarker, keyBytesUnder, validateTempKey } from "../keys.ts";

/** DeleteObjects takes at most this many keys. */
const DELETE_BATCH = 1000;
/** A get() whose answer is at most this long is read on a kept-open socket (larger answers go the stream path). */
const SMALL_READ_MAX_BYTES = 8 * 1024 * 1024;

interface PartsPlan {
  /** A fresh part source for each attempt. */
  readonly source: () => PartSource;
  readonly partSize: number;
  readonly queueSize: number;
  /** The body's size once uploaded. */
  readonly bytesSent: () => number;
  /** Whether the parts can be sent again when S3 answers 409 ConditionalRequestConflict. */
  readonly replayable: boolean;
}

interface Connected {
  readonly connection: S3Connection;
  /** The endpoint for messages. */
  readonly endpoint: string;
  /** Identifies the store for the process-wide probe verdicts. */
  readonly storeId: string;
}

export class S3Backend implements StorageBackend {
  readonly kind = "s3";
  readonly capabilities: BackendCapabilities;
  readonly bucket: string;
  /** "" or "a/b". */
  readonly prefix: string;
  /** Parallel streams of a download to a file, when the options fix it. */
  readonly readConcurrency: number | undefined;
  /** 1024 less the prefix and its "/": S3's key limit counts the whole object key. */
  readonly maxKeyBytes: number;
  readonly retryPolicy: RetryPolicy;
  readonly #settings: S3Settings;
  readonly #options: S3BackendOptions;
  readonly #paths: S3Paths;
  readonly #verified = new Set<ProbedFeature>();
  #connected: Promise<Connected> | undefined;
  #direct: Promise<DirectGet | undefined> | undefined;
  /** Reads that need no SDK (plain-route.ts), when the settings allow them. */
  readonly #plain: DirectGet | undefined;
  /** The store's clock as its answers show it: what every request is signed with (signing-clock.ts). */
  readonly #clock = new SigningClock();
  #endpoint: string;
  #closed = false;

  /** Options that build an equal backend in another thread (the log writer's); undefined when they hold a live
   * client or a credentials provider, which cannot cross threads. */
  portableOptions(): S3BackendOptions | undefined {
    if (this.#options.client !== undefined || typeof this.#options.credentials === "function") return undefined;
    return portableOptions(this.#options, this.retryPolicy);
  }

  constructor(options: S3BackendOptions) {
    this.#settings = resolveS3Settings(options);
    this.#options = options;
    this.bucket = this.#settings.bucket;
    this.prefix = this.#settings.prefix;
    this.readConcurrency = this.#settings.readConcurrency;
    this.retryPolicy = this.#settings.retry;
    this.#paths = new S3Paths(this.bucket, this.prefix);
    this.maxKeyBytes = keyBytesUnder(this.prefix);
    this.#endpoint = endpointLabel(this.#settings, this.#settings.region);
    this.capabilities = {
      ...FULL_CAPABILITIES,
      multipartThreshold: this.#settings.partSize,
      settlesConditionalWrites: true,
      conditionalDelete: true,
    };
    const route = plainRoute(this.#settings, options);
    this.#plain = route === undefined ? undefined : DirectGet.plain(route, this.retryPolicy, this.#timeouts(), this.#clock);
  }

  /** The store's time now, from the Date headers of its answers so far (this machine's clock before the first). */
  storeNow(): Date {
    return this.#clock.storeNow();
  }

  /** A backend for `s3://bucket/prefix`; other settings from `options` and the environment. */
  static fromUri(uri: string, options: Omit<S3BackendOptions, "bucket" | "prefix"> = {}): S3Backend {
    const location = parseLocation(uri);
    if (location.scheme !== "s3") {
      throw new InvalidArgumentError(`${redact(uri)} is not an s3:// location (expected s3://bucket/prefix).`, {
        path: redact(uri),
      });
    }
    return new S3Backend({ ...options, bucket: location.bucket, prefix: location.prefix });
  }

  describe(key: string): string {
    return this.#paths.describe(key);
  }

  async head(key: string, options: { readonly signal?: AbortSignal } = {}): Promise<ObjectInfo> {
    const objectKey = this.#paths.objectKey(key);
    const plain = this.#plainReads();
    if (plain !== undefined) {
      try {
        const answer = await plain.headSmall({ objectKey, timeouts: this.#timeouts(), signal: options.signal });
        if (answer !== undefined) return infoFromHeaders(key, answer);
      } catch (error) {
        throw this.#error(error, "read", key, options.signal);
      }
    }
    const { connection } = await this.#connect();
    try {
      return infoFromHeaders(key, await this.#headObject(connection, objectKey, options.signal));
    } catch (error) {
      throw this.#error(error, "read", key, options.signal);
    }
  }

  async get(key: string, options: ReadOptions = {}): Promise<Uint8Array> {
    const objectKey = this.#paths.objectKey(key);
    const range = rangeHeader(options.range);
    if (range === EMPTY_RANGE) {
      this.#checkPinned(key, await this.head(key, options), options.ifRevision);
      return new Uint8Array(0);
    }
    const read = { objectKey, range, ifMatch: options.ifRevision, signal: options.signal };
    const wanted = options.range === undefined ? undefined : "suffix" in options.range ? options.range.suffix : options.range.length;
    const small = { ...read, maxBytes: Math.min(wanted ?? SMALL_READ_MAX_BYTES, SMALL_READ_MAX_BYTES), timeouts: this.#timeouts() };
    const plain = this.#plainReads();
    if (plain !== undefined) {
      try {
        return (await plain.getSmall(small)) ?? (await readWhole((await plain.get(read)).body));
      } catch (error) {
        if (range !== undefined && isInvalidRange(error)) return new Uint8Array(0);
        throw this.#error(error, "read", key, options.signal);
      }
    }
    const { connection } = await this.#connect();
    const { client, sdk } = connection;
    try {
      const direct = await this.#directGet(connection);
      if (direct !== undefined) {
        const bytes = await direct.getSmall(small);
        if (bytes !== undefined) return bytes;
        return await readWhole((await direct.get(read)).body);
      }
      const output = await client.send(
        expectAnswer(new sdk.GetObjectCommand({ Bucket: this.bucket, Key: objectKey, ...readConditions(range, options.ifRevision) }), "object"),
        { abortSignal: options.signal },
      );
      return output.Body === undefined ? new Uint8Array(0) : await output.Body.transformToByteArray();
    } catch (error) {
      if (range !== undefined && isInvalidRange(error)) return new Uint8Array(0);
      throw this.#error(error, "read", key, options.signal);
    }
  }

  /** An empty ranged read pinned to a revision checks it on the head() it makes instead of a GET. */
  #checkPinned(key: string, info: ObjectInfo, ifRevision: string | undefined): void {
    if (ifRevision !== undefined && info.revision !== ifRevision) {
      throw new PreconditionFailedError(`${this.describe(key)} changed: it is no longer at revision ${ifRevision}.`, { path: this.describe(key) });
    }
  }

  /** With readConcurrency > 1, a whole-object read past one part goes out as parallel ranged GETs
   * (parallel-download.ts); otherwise one GET. */
  async getStream(key: string, options: ReadOptions = {}): Promise<Readable> {
    const objectKey = this.#paths.objectKey(key);
    const range = rangeHeader(options.range);
    if (range === EMPTY_RANGE) {
      this.#checkPinned(key, await this.head(key, options), options.ifRevision);
      return NodeReadable.from([]);
    }
    const plain = this.#plainReads();
    const inParts = range === undefined && options.ifRevision === undefined && (this.#settings.readConcurrency ?? 1) > 1;
    if (plain !== undefined && !inParts) {
      try {
        return this.#withMappedErrors((await plain.get({ objectKey, range, ifMatch: options.ifRevision, signal: options.signal })).body, key);
      } catch (error) {
        if (range !== undefined && isInvalidRange(error)) return NodeReadable.from([]);
        throw this.#error(error, "read", key, options.signal);
      }
    }
    const { connection } = await this.#connect();
    if (inParts) {
      const whole = await openWholeObject({
        connection,
        bucket: this.bucket,
        objectKey,
        partSize: this.#settings.partSize,
        queueSize: this.#settings.readConcurrency ?? 1,
        signal: options.signal,
        mapError: (error) => this.#error(error, "read", key, options.signal),
      });
      if (whole.kind === "ranges") return whole.body;
      if (whole.kind === "single") return this.#withMappedErrors(whole.body, key);
    }
    const { client, sdk } = connection;
    let body: unknown;
    try {
      const direct = this.#plain ?? (await this.#directGet(connection));
      if (direct !== undefined) {
        body = (await direct.get({ objectKey, range, ifMatch: options.ifRevision, signal: options.signal })).body;
        return this.#withMappedErrors(nodeBody(body), key);
      }
      const output = await client.send(
        expectAnswer(new sdk.GetObjectCommand({ Bucket: this.bucket, Key: objectKey, ...readConditions(range, options.ifRevision) }), "object"),
        { abortSignal: options.signal },
      );
      body = output.Body;
    } catch (error) {
      if (range !== undefined && isInvalidRange(error)) return NodeReadable.from([]);
      throw this.#error(error, "read", key, options.signal);
    }
    if (body === undefined) return NodeReadable.from([]);
    return this.#withMappedErrors(nodeBody(body), key);
  }

  /** A ranged read straight from the socket into reused buffers, on the direct path over plain HTTP (else undefined). */
  async readRangeInto(key: string, options: RangeIntoOptions, sink: BodySink): Promise<number | undefined> {
    const objectKey = this.#paths.objectKey(key);
    const range = rangeHeader(options.range);
    if (range === undefined || range === EMPTY_RANGE) return undefined;
    const direct = this.#plainReads() ?? (await this.#directGet((await this.#connect()).connection));
    if (direct === undefined) return undefined;
    try {
      const read = { objectKey, range, ifMatch: options.ifRevision, signal: options.signal, length: options.range.length, timeouts: this.#timeouts() };
      return await direct.readInto(read, sink);
    } catch (error) {
      throw this.#error(error, "read", key, options.signal);
    }
  }

  async put(key: string, body: Uint8Array | string, options: WriteOptions = {}): Promise<ObjectInfo> {
    const objectKey = this.#paths.objectKey(key);
    const mode = options.mode ?? OVERWRITE;
    const bytes = toBytes(body);
    const connected = await this.#connect();
    if (mode.kind !== "overwrite") await this.#ensureEnforced("put", connected);
    return this.#putBytes(connected.connection, key, objectKey, bytes, mode, options);
  }

  async putStream(
    key: string,
    body: Readable | AsyncIterable<Uint8Array>,
    options: StreamWriteOptions = {},
  ): Promise<ObjectInfo> {
    const objectKey = this.#paths.objectKey(key);
    const mode = options.mode ?? OVERWRITE;
    const partSize = partSizeFor(options.partSize ?? this.#settings.partSize, options.size);
    const queueSize = options.concurrency ?? this.#settings.queueSize;
    const connected = await this.#connect();
    if (mode.kind !== "overwrite") await this.#ensureEnforced("put", connected);

    let first: Awaited<ReturnType<typeof readFirstPart>>;
    try {
      first = await readFirstPart(new CallerBody(body, this.describe(key), options.onProgress), partSize, undefined, options.signal);
    } catch (error) {
      throw this.#error(error, "write", key, options.signal);
    }
    if (first.kind === "whole") return this.#putBytes(connected.connection, key, objectKey, first.bytes, mode, options);
    try {
      // A streamed body cannot be sent twice, so a 409 is not retried here.
      const plan = { source: () => streamParts(first.body, partSize), partSize, queueSize, bytesSent: first.bytesRead, replayable: false };
      return await this.#putParts(connected, key, objectKey, mode, options, plan);
    } catch (error) {
      await first.body.return(undefined);
      throw error;
    }
  }

  /**
   * Uploads a local file: a single PutObject within one part, else a multipart upload whose parts stream from their
   * ranges of the file (file-part.ts; read into part buffers for a client of the caller's), `concurrency` at once. Same modes, atomicity and cleanup as putStream;
   * the file can be read again, so a 409 at completion is retried like a put's.
   */
  async putFile(key: string, localPath: string, options: StreamWriteOptions = {}): Promise<ObjectInfo> {
    const objectKey = this.#paths.objectKey(key);
    const mode = options.mode ?? OVERWRITE;
    const queueSize = options.concurrency ?? this.#settings.queueSize;
    const file = await openUploadSource(localPath, this.describe(key));
    try {
      const { size } = file;
      const partSize = partSizeFor(options.partSize ?? this.#settings.partSize, size);
      const connected = await this.#connect();
      if (mode.kind !== "overwrite") await this.#ensureEnforced("put", connected);
      if (size <= partSize) {
        const bytes = await readAll(file);
        options.onProgress?.(size);
        return await this.#putBytes(connected.connection, key, objectKey, bytes, mode, options);
      }
      // A caller's own client may add checksums of the body it is given (the placeholder of a streamed part).
      const parts = connected.connection.owned ? fileParts : bufferedFileParts;
      const source = () => parts(file, partSize, options.onProgress, options.signal);
      const plan = { source, partSize, queueSize, bytesSent: () => size, replayable: true };
      return await this.#putParts(connected, key, objectKey, mode, options, plan);
    } finally {
      await file.handle.close();
    }
  }

  /**
   * From 5 MiB, a multipart upload of a server-side copy of the object plus `bytes`, completed with If-Match
   * (append.ts): only `bytes` cross the network. Below 5 MiB (S3's smallest part), and on stores that ignore
   * If-Match on CompleteMultipartUpload (moto; probed once), a conditional rewrite: GetObject + PutObject with
   * If-Match. Either way a concurrent writer makes it fail with PreconditionFailedError, never lose its write.
   */
  async append(key: string, bytes: Uint8Array, options: AppendOptions = {}): Promise<ObjectInfo> {
    const objectKey = this.#paths.objectKey(key);
    const connected = await this.#connect();
    await this.#ensureEnforced("put", connected);
    const { connection } = connected;
    let current: HeadObjectCommandOutput;
    try {
      current = await this.#headObject(connection, objectKey, options.signal);
    } catch (error) {
      throw this.#error(error, "append to", key, options.signal);
    }
    const revision = current.ETag ?? "";
    if (options.ifRevision !== undefined && revision !== options.ifRevision) {
      throw new PreconditionFailedError(`${this.describe(key)} changed: its revision is ${revision}, not ${options.ifRevision}.`, {
        path: this.describe(key),
      });
    }
    if (bytes.byteLength === 0) return infoFromHeaders(key, current);
    const size = current.ContentLength ?? 0;
    const metadata = options.metadata ?? userMetadata(current.Metadata);
    if (size < S3_MIN_PART_SIZE || !(await this.#enforces("multipart-replace", connected))) {
      let body: Uint8Array;
      try {
        const output = await connection.client.send(
          expectAnswer(new connection.sdk.GetObjectCommand({ Bucket: this.bucket, Key: objectKey, IfMatch: revision }), "object"),
          { abortSignal: options.signal },
        );
        body = output.Body === undefined ? new Uint8Array(0) : await output.Body.transformToByteArray();
      } catch (error) {
        throw this.#error(error, "append to", key, options.signal, "replace");
      }
      const write: WriteOptions = { metadata, ...(current.ContentType === undefined ? {} : { contentType: current.ContentType }) };
      return this.#putBytes(connection, key, objectKey, Buffer.concat([body, bytes]), ifRevision(revision), { ...write, signal: options.signal });
    }
    const token = newWriterToken();
    const headers = { ...copiedHeaders(current), Metadata: { ...metadata, [WRITER_TOKEN_KEY]: token } };
    const write = async (): Promise<ObjectInfo> => {
      const output = await appendByPartCopy({ connection, bucket: this.bucket, objectKey, revision, size, bytes, headers, signal: options.signal });
      return infoFromHeaders(key, {
        ETag: output.ETag,
        ContentLength: size + bytes.byteLength,
        LastModified: new Date(),
        Metadata: headers.Metadata,
        ServerSideEncryption: output.ServerSideEncryption,
      });
    };
    try {
      return await this.#settled(connection, key, objectKey, token, write, options.signal);
    } catch (error) {
      throw this.#error(error, "append to", key, options.signal, "replace");
    }
  }

  // Listed keys come back as stored, even ones validateKey refuses: S3 holds "a/../b", "a//b" or "a\b", and one
  // such object must not fail a whole listing (of a snapshot to pull, say). Callers that turn keys into local paths
  // check them (cli/pull/safe-path.ts); head, get and delete of such a key throw InvalidArgumentError.
  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectInfo> {
    const startAfter = options.startAfter === undefined ? undefined : this.#paths.listPrefix("") + options.startAfter;
    let continuation: string | undefined;
    do {
      const page = await this.#listRequest(prefix, options.pageSize, options.signal, {
        ...(continuation === undefined ? {} : { ContinuationToken: continuation }),
        ...(startAfter === undefined ? {} : { StartAfter: startAfter }),
      });
      for (const entry of page.Contents ?? []) {
        const info = this.#listed(entry);
        if (info !== undefined) yield info;
      }
      continuation = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (continuation !== undefined);
  }

  async listPage(prefix: string, options: ListPageOptions = {}): Promise<ListPage> {
    const page = await this.#listRequest(prefix, options.pageSize, options.signal, {
      Delimiter: "/",
      ...(options.pageToken === undefined ? {} : { ContinuationToken: options.pageToken }),
    });
    const objects: ObjectInfo[] = [];
    for (const entry of page.Contents ?? []) {
      const info = this.#listed(entry);
      if (info !== undefined) objects.push(info);
    }
    const prefixes: string[] = [];
    for (const common of page.CommonPrefixes ?? []) {
      const folder = common.Prefix === undefined ? undefined : this.#paths.relativePrefix(common.Prefix);
      if (folder !== undefined) prefixes.push(folder);
    }
    const next = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    return next === undefined ? { objects, prefixes } : { objects, prefixes, nextPageToken: next };
  }

  /**
   * A conditional delete sends If-Match with the ETag, checked by the store (probed first: MinIO ignores it). The
   * SDK may send it again after a failure whose outcome is unknown; a first attempt that landed leaves the key
   * absent (404 NoSuchKey with If-Match: done) or, should another writer have created it since, at another ETag
   * (412: PreconditionFailedError, the object at our ETag gone either way).
   */
  async delete(key: string, options: DeleteOptions = {}): Promise<void> {
    const objectKey = this.#paths.objectKey(key);
    const connected = await this.#connect();
    const { connection } = connected;
    if (options.ifRevision !== undefined) await this.#ensureEnforced("delete", connected);
    try {
      await connection.client.send(
        new connection.sdk.DeleteObjectCommand({
          Bucket: this.bucket,
          Key: objectKey,
          ...(options.ifRevision === undefined ? {} : { IfMatch: options.ifRevision }),
        }),
        { abortSignal: options.signal },
      );
    } catch (error) {
      if (!isNoSuchKey(error)) throw this.#error(error, "delete", key, options.signal, options.ifRevision === undefined ? undefined : "replace");
    }
  }

  /** Deletes temp objects a listing showed (the snapshots of busy copy sources); see StorageBackend.deleteTemps. */
  async deleteTemps(keys: readonly string[]): Promise<void> {
    for (const key of keys) validateTempKey(key, this.describe(""));
    await this.deleteMany(keys);
  }

  async deleteMany(keys: Iterable<string> | AsyncIterable<string>): Promise<void> {
    // Every key is mapped (and its length with the prefix checked) before any is deleted.
    const objectKeys: string[] = [];
    for await (const key of keys) objectKeys.push(this.#paths.objectKey(key));
    for (let start = 0; start < objectKeys.length; start += DELETE_BATCH) {
      await this.#deleteBatch(objectKeys.slice(start, start + DELETE_BATCH));
    }
  }

  async copy(from: string, to: string, options: CopyOptions = {}): Promise<ObjectInfo> {
    const keys = { from, to, sourceKey: this.#paths.objectKey(from), targetKey: this.#paths.objectKey(to) };
    const mode = options.mode ?? OVERWRITE;
    const connected = await this.#connect();
    const { connection } = connected;
    const action = `copy ${this.describe(from)} to`;
    try {
      if (mode.kind !== "overwrite") {
        await this.#ensureEnforced("put", connected);
        await this.#ensureEnforced(mode.kind === "create" ? "multipart-create" : "multipart-replace", connected);
      }
      // Each attempt copies the source at the ETag its HEAD saw; a source that keeps changing goes through a snapshot.
      return await copyFromBusySource({
        from,
        to,
        copyFrom: (source) => this.#copyOnce(connection, { ...keys, from: source, sourceKey: this.#paths.objectKey(source) }, mode, options.signal),
        sourceChanged: isSourceChanged,
        snapshot: (temporary) => this.#copyAsIs(connection, keys, this.#paths.objectKey(temporary), options.signal),
        retry: this.retryPolicy,
        remove: (temporary) => this.delete(temporary),
        signal: options.signal,
      });
    } catch (error) {
      throw mapS3Error(abortReason(error, options.signal), this.#context(action, to, mode.kind));
    }
  }

  /** One CopyObject of the source as it is, with no condition (atomic, metadata included). Throws unmapped errors. */
  async #copyAsIs(connection: S3Connection, keys: CopyKeys, temporaryKey: string, signal: AbortSignal | undefined): Promise<void> {
    try {
      await connection.client.send(
        new connection.sdk.CopyObjectCommand({ Bucket: this.bucket, Key: temporaryKey, CopySource: copySource(this.bucket, keys.sourceKey) }),
        { abortSignal: signal },
      );
    } catch (error) {
      throw isNoSuchKey(error) ? this.#error(error, "copy from", keys.from, signal) : error;
    }
  }

  /** One attempt of `copy`: the source pinned to the ETag of a HEAD. Throws unmapped errors. */
  async #copyOnce(connection: S3Connection, keys: CopyKeys, mode: WriteMode, signal: AbortSignal | undefined): Promise<ObjectInfo> {
    const { from, to, sourceKey, targetKey } = keys;
    const options = { signal };
    let source: HeadObjectCommandOutput;
    try {
      source = await this.#headObject(connection, sourceKey, options.signal);
    } catch (error) {
      throw this.#error(error, "copy from", from, options.signal);
    }
    const size = source.ContentLength ?? 0;
    const revision = source.ETag ?? "";
    if (mode.kind === "overwrite" && size <= this.#settings.multipartCopyThreshold) {
      if (sourceKey === targetKey) return infoFromHeaders(to, source);
      const output = await connection.client.send(
        new connection.sdk.CopyObjectCommand({
          Bucket: this.bucket,
          Key: targetKey,
          CopySource: copySource(this.bucket, sourceKey),
          ...(revision === "" ? {} : { CopySourceIfMatch: revision }),
        }),
        { abortSignal: options.signal },
      ).catch((error: unknown) => {
        // No condition on the target here: a 412 is about CopySourceIfMatch.
        throw isPreconditionFailed(error) ? sourceChangedDuringCopy(error) : error;
      });
      return infoFromHeaders(to, {
        ...source,
        ETag: output.CopyObjectResult?.ETag,
        LastModified: output.CopyObjectResult?.LastModified ?? new Date(),
        ServerSideEncryption: output.ServerSideEncryption,
      });
    }
    // A writer token even on an overwrite: a multipart completion whose answer was lost is settled by reading it back.
    const token = newWriterToken();
    const metadata = { ...userMetadata(source.Metadata), [WRITER_TOKEN_KEY]: token };
    const write = async (): Promise<ObjectInfo> => {
      const output = await multipartCopy({
        connection,
        bucket: this.bucket,
        sourceKey,
        sourceRevision: revision,
        sourceSize: size,
        targetKey,
        headers: { ...copiedHeaders(source), Metadata: metadata },
        conditions: conditionsFor(mode),
        partSize: this.#settings.copyPartSize,
        concurrency: this.#settings.queueSize,
        signal: options.signal,
      });
      return infoFromHeaders(to, {
        ETag: output.ETag,
        ContentLength: size,
        LastModified: new Date(),
        Metadata: metadata,
        ServerSideEncryption: output.ServerSideEncryption,
      });
    };
    return await this.#settled(connection, to, targetKey, token, write, options.signal);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const connected = await this.#connected?.catch(() => undefined);
    (await this.#direct)?.close();
    this.#plain?.close();
    if (connected?.connection.owned === true) connected.connection.client.destroy();
  }

  #timeouts(): { readonly connectMs: number; readonly idleMs: number } {
    return { connectMs: this.#settings.connectionTimeoutMs, idleMs: this.#settings.requestTimeoutMs };
  }

  /** A multipart upload of `plan.source()` (a fresh source per attempt), the mode's condition sent at completion. */
  async #putParts(connected: Connected, key: string, objectKey: string, mode: WriteMode, options: WriteOptions, plan: PartsPlan): Promise<ObjectInfo> {
    const { connection } = connected;
    try {
      if (mode.kind !== "overwrite") {
        await this.#ensureEnforced(mode.kind === "create" ? "multipart-create" : "multipart-replace", connected);
      }
      // Every multipart upload carries a writer token, an overwrite too: its completion is not idempotent (sent
      // again after a lost answer it meets NoSuchUpload, or fails on), so only reading the token back tells
      // whether the body landed.
      const token = newWriterToken();
      const params = this.#writeParams(objectKey, mode, options, token);
      const { partSize, queueSize } = plan;
      const write = async (): Promise<ObjectInfo> => {
        const source = plan.source();
        const output = await uploadMultipart({ connection, params, source, partSize, queueSize, signal: options.signal, uri: this.describe(key) });
        return infoFromHeaders(key, {
          ETag: output.ETag,
          ContentLength: plan.bytesSent(),
          LastModified: new Date(),
          Metadata: params.Metadata,
          ServerSideEncryption: output.ServerSideEncryption,
        });
      };
      return await this.#settled(connection, key, objectKey, token, write, options.signal, plan.replayable);
    } catch (error) {
      throw this.#error(error, "write", key, options.signal, mode.kind);
    }
  }

  async #putBytes(
    connection: S3Connection,
    key: string,
    objectKey: string,
    bytes: Uint8Array,
    mode: WriteMode,
    options: WriteOptions,
  ): Promise<ObjectInfo> {
    const token = mode.kind === "overwrite" ? undefined : newWriterToken();
    const params = this.#writeParams(objectKey, mode, options, token);
    const direct = params.ContentType !== undefined && isPlainMetadata(params.Metadata) ? await this.#directGet(connection) : undefined;
    const write = async (): Promise<ObjectInfo> => {
      if (direct !== undefined && params.ContentType !== undefined) {
        const headers = await direct.put(
          {
            objectKey,
            body: bytes,
            contentType: params.ContentType,
            metadata: params.Metadata,
            ifNoneMatch: params.IfNoneMatch,
            ifMatch: params.IfMatch,
            signal: options.signal,
          });
        return infoFromHeaders(key, {
          ETag: headerText(headers.etag),
          ServerSideEncryption: headerText(headers["x-amz-server-side-encryption"]),
          SSECustomerAlgorithm: headerText(headers["x-amz-server-side-encryption-customer-algorithm"]),
          ContentLength: bytes.byteLength,
          LastModified: new Date(),
          Metadata: params.Metadata,
        });
      }
      const output = await connection.client.send(
        new connection.sdk.PutObjectCommand({ ...params, Body: bytes, ContentLength: bytes.byteLength }),
        { abortSignal: options.signal },
      );
      return infoFromHeaders(key, {
        ...output,
        ContentLength: bytes.byteLength,
        LastModified: new Date(),
        Metadata: params.Metadata,
      });
    };
    try {
      return await this.#settled(connection, key, objectKey, token, write, options.signal);
    } catch (error) {
      throw this.#error(error, "write", key, options.signal, mode.kind);
    }
  }

  #writeParams(
    objectKey: string,
    mode: WriteMode,
    options: WriteOptions,
    token: string | undefined,
  ): Omit<PutObjectCommandInput, "Body"> & { Metadata: Record<string, string> } {
    return {
      Bucket: this.bucket,
      Key: objectKey,
      ...(options.contentType === undefined ? {} : { ContentType: options.contentType }),
      Metadata: { ...options.metadata, ...(token === undefined ? {} : { [WRITER_TOKEN_KEY]: token }) },
      ...conditionsFor(mode),
    };
  }

  /** A listing entry as an object, or undefined for one this backend does not list (see relativeKey and
   * isFolderMarker). */
  #listed(entry: ListingEntry): ObjectInfo | undefined {
    const key = entry.Key === undefined ? undefined : this.#paths.relativeKey(entry.Key);
    if (key === undefined) return undefined;
    const info = infoFromListing(key, entry);
    return isFolderMarker(info) ? undefined : info;
  }

  /** One ListObjectsV2 request under `prefix`. */
  async #listRequest(prefix: string, pageSize: number | undefined, signal: AbortSignal | undefined, extra: ListingParameters): Promise<ListingPage> {
    const MaxKeys = pageSize === undefined ? undefined : Math.min(pageSize, MAX_LIST_PAGE);
    const input = { Prefix: this.#paths.listPrefix(prefix), ...(MaxKeys === undefined ? {} : { MaxKeys }), EncodingType: "url" as const, ...extra };
    try {
      const plain = this.#plainReads();
      const page = plain === undefined ? undefined : await plain.listSmall(listingQuery(input), { timeouts: this.#timeouts(), signal });
      if (page !== undefined) return decodedListing(page, this.describe(prefix));
      const { client, sdk } = (await this.#connect()).connection;
      const command = new sdk.ListObjectsV2Command({ Bucket: this.bucket, ...input });
      const answer = await client.send(expectAnswer(command, "listing"), { abortSignal: signal });
      return decodedListing(answer, this.describe(prefix));
    } catch (error) {
      throw this.#error(error, "list", prefix, signal);
    }
  }

  /** Runs `write`; a conditional one (it carries a writer token) is settled by reading the token back. */
  async #settled(
    connection: S3Connection,
    key: string,
    objectKey: string,
    token: string | undefined,
    write: () => Promise<ObjectInfo>,
    signal: AbortSignal | undefined,
    replayable = true,
  ): Promise<ObjectInfo> {
    if (token === undefined) return write();
    const readBackIfOurs = () => this.#readBackIfOurs(connection, key, objectKey, token);
    return runConditionalWrite({ write, readBackIfOurs, replayable, retry: this.retryPolicy, signal });
  }

  async #readBackIfOurs(connection: S3Connection, key: string, objectKey: string, token: string): Promise<ObjectInfo | undefined> {
    const output = await this.#headObject(connection, objectKey, undefined);
    return writerTokenOf(output.Metadata) === token ? infoFromHeaders(key, output) : undefined;
  }

  #headObject(connection: S3Connection, objectKey: string, signal: AbortSignal | undefined): Promise<HeadObjectCommandOutput> {
    return connection.client.send(expectAnswer(new connection.sdk.HeadObjectCommand({ Bucket: this.bucket, Key: objectKey }), "object"), {
      abortSignal: signal,
    });
  }

  async #deleteBatch(objectKeys: readonly string[]): Promise<void> {
    const { connection } = await this.#connect();
    let output;
    try {
      output = await connection.client.send(
        new connection.sdk.DeleteObjectsCommand({
          Bucket: this.bucket,
          Delete: { Objects: objectKeys.map((Key) => ({ Key })), Quiet: true },
        }),
      );
    } catch (error) {
      throw this.#error(error, "delete", objectKeys.length === 1 ? (this.#paths.relativeKey(objectKeys[0] ?? "") ?? "") : "");
    }
    const failures = (output.Errors ?? []).filter((failure) => failure.Code !== "NoSuchKey");
    if (failures.length > 0) {
      throw deleteObjectsError(failures, this.#context("delete", ""), (objectKey) =>
        this.describe(this.#paths.relativeKey(objectKey) ?? ""),
      );
    }
  }

  #withMappedErrors(source: Readable, key: string): Readable {
    // A stream of our own in between: breaking out of a loop over an HTTP response aborts its request but leaves
    // the response to be destroyed later, while callers expect a stream they destroy to be destroyed at once.
    const output = new PassThrough({ highWaterMark: 1024 * 1024 });
    source.once("error", (error) => output.destroy(mapS3Error(error, this.#context("read", key))));
    output.once("close", () => {
      if (!source.readableEnded) source.destroy();
    });
    source.pipe(output);
    return output;
  }

  /** Whether the store enforces `feature`; false when the probe refused it (other failures are thrown). */
  async #enforces(feature: ProbedFeature, connected: Connected): Promise<boolean> {
    try {
      await this.#ensureEnforced(feature, connected);
      return true;
    } catch (error) {
      if (isOpenCrateError(error, "NOT_SUPPORTED")) return false;
      throw error;
    }
  }

  async #ensureEnforced(feature: ProbedFeature, connected: Connected): Promise<void> {
    if (this.#verified.has(feature)) return;
    await ensureEnforced(feature, {
      connection: connected.connection,
      bucket: this.bucket,
      storeId: connected.storeId,
      probeKey: this.#paths.objectKey(`.opencrate/probe/${randomUUID()}`),
      context: { uri: this.describe(""), bucket: this.bucket, endpoint: connected.endpoint },
      retry: this.retryPolicy,
    });
    this.#verified.add(feature);
  }

  /** The SDK-free reader, unless there is none; throws once the backend is closed, as #connect does. */
  #plainReads(): DirectGet | undefined {
    if (this.#plain !== undefined && this.#closed) throw this.#closedError();
    return this.#plain;
  }

  /** GetObject without the SDK's middleware (direct-get.ts), when this backend's client allows it. */
  #directGet(connection: S3Connection): Promise<DirectGet | undefined> {
    this.#direct ??= DirectGet.open(connection, this.bucket, this.retryPolicy, this.#clock).catch(() => undefined);
    return this.#direct;
  }

  #connect(): Promise<Connected> {
    if (this.#closed) return Promise.reject(this.#closedError());
    this.#connected ??= connect(this.#settings, this.#options, this.describe("")).then(
      (connection) => {
        this.#clock.share(connection.client.config);
        this.#endpoint = endpointLabel(this.#settings, connection.region);
        return { connection, endpoint: this.#endpoint, storeId: this.#settings.endpoint ?? `aws:${connection.region}` };
      },
      (error: unknown) => {
        this.#connected = undefined;
        throw error;
      },
    );
    return this.#connected;
  }

  #closedError(): Error {
    return new InvalidArgumentError(`The S3 backend for ${this.describe("")} is closed.`, { path: this.describe("") });
  }

  #context(action: string, key: string, mode?: WriteMode["kind"]) {
    return { action, uri: this.describe(key), bucket: this.bucket, endpoint: this.#endpoint, ...(mode === undefined ? {} : { mode }) };
  }

  #error(error: unknown, action: string, key: string, signal?: AbortSignal, mode?: WriteMode["kind"]): Error {
    if (isBodyError(error)) return error as Error;
    return mapS3Error(abortReason(error, signal), this.#context(action, key, mode));
  }
}

/** A copy's keys, as given and as object keys in the bucket. */
interface CopyKeys {
  readonly from: string;
  readonly to: string;
  readonly sourceKey: string;
  readonly targetKey: string;
}

/** The headers a multipart upload must set again to keep them (it does not carry the source's over). */
function copiedHeaders(source: HeadObjectCommandOutput): CopiedHeaders {
  return {
    ContentType: source.ContentType,
    ContentEncoding: source.ContentEncoding,
    ContentDisposition: source.ContentDisposition,
    ContentLanguage: source.ContentLanguage,
    CacheControl: source.CacheControl,
  };
}

/** The caller's abort reason when the signal fired (the SDK wraps it differently per request phase). */
function abortReason(error: unknown, signal: AbortSignal | undefined): unknown {
  return signal?.aborted === true ? signal.reason : error;
}

/** A ListObjectsV2 request's parameters besides the bucket. */
interface ListingParameters {
  readonly Prefix?: string;
  readonly MaxKeys?: number;
  readonly Delimiter?: string;
  readonly ContinuationToken?: string;
  readonly StartAfter?: string;
  /** Always "url": keys come back percent-encoded (see decodedListing). */
  readonly EncodingType?: "url";
}

/** The query string parameters of a ListObjectsV2 request. */
function listingQuery(input: ListingParameters): Record<string, string> {
  const query: Record<string, string> = {};
  if (input.Prefix !== undefined) query.prefix = input.Prefix;
  if (input.MaxKeys !== undefined) query["max-keys"] = String(input.MaxKeys);
  if (input.Delimiter !== undefined) query.delimiter = input.Delimiter;
  if (input.ContinuationToken !== undefined) query["continuation-token"] = input.ContinuationToken;
  if (input.StartAfter !== undefined) query["start-after"] = input.StartAfter;
  if (input.EncodingType !== undefined) query["encoding-type"] = input.EncodingType;
  return query;
}

/** Every byte of a response body. */
async function readWhole(body: Readable): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
}

/** The Range and If-Match of a GetObject. */
function readConditions(range: string | undefined, ifRevision: string | undefined): { Range?: string; IfMatch?: string } {
  return { ...(range === undefined ? {} : { Range: range }), ...(ifRevision === undefined ? {} : { IfMatch: ifRevision }) };
}

/** The first value of an answer header. */
function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
