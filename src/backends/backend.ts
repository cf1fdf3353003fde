/**
 * The storage contract every backend (memory, local, s3, gcs, and wrapping layers) implements.
 *
 * Keys are relative to the backend's own root (a folder, or a bucket plus prefix), use "/" as the separator and
 * obey {@link ../backends/keys.ts validateKey}: no leading "/", no "." or ".." segment, no empty segment, at most
 * 1024 UTF-8 bytes. The checking layer in front of every backend the library hands out (layers/checked.ts)
 * validates keys and every other argument, and refuses what `capabilities` rules out, before a call reaches the
 * backend: a backend implements the protocol for arguments already checked.
 *
 * "Revision" is the backend's concurrency token for one stored state of one key (an ETag on S3, a generation on
 * GCS, a stat-derived stamp on local disk). It is opaque: compare it for equality only. The word "version" is
 * reserved for snapshot numbers.
 *
 * Errors: every method throws only OpenCrateError subclasses (see src/errors.ts). Each backend maps its SDK's
 * errors in exactly one file.
 */
import type { Readable } from "node:stream";
import type { RetryPolicy } from "./retry-policy.ts";

/** How a write treats an existing object. */
export type WriteMode =
  /** Replace whatever is there (the default). */
  | { readonly kind: "overwrite" }
  /** Create only if the key is absent; otherwise AlreadyExistsError. */
  | { readonly kind: "create" }
  /** Compare-and-swap: replace only if the current revision equals `revision`; otherwise PreconditionFailedError
   * (also when the key is missing). */
  | { readonly kind: "replace"; readonly revision: string };

export const OVERWRITE: WriteMode = { kind: "overwrite" };
export const CREATE_ONLY: WriteMode = { kind: "create" };
export function ifRevision(revision: string): WriteMode {
  return { kind: "replace", revision };
}

export interface ObjectInfo {
  readonly key: string;
  /** Bytes. */
  readonly size: number;
  readonly lastModified: Date;
  readonly revision: string;
  /** A content checksum the store gives for free (MD5 hex of a single-part upload, CRC32C, …), when it does. */
  readonly checksum?: {
    readonly algorithm: "md5" | "crc32c" | "sha256";
    readonly value: string;
    /** A value that is the content's checksum in the usual case but may not be (an S3 ETag of a plain upload is its
     * MD5 unless the object is encrypted with SSE-KMS/SSE-C); confirm with head() before treating a mismatch as
     * corruption. */
    readonly tentative?: boolean;
  };
  /**
   * The content's CRC32C (hex of the big-endian value) when the store gives one besides a `checksum` of another
   * algorithm (GCS gives an MD5 and a CRC32C). A download in parallel ranges checks this one: each range's CRC32C is
   * computed from the file once the range is written, in parallel, where an MD5 must be fed the whole file in order.
   */
  readonly crc32c?: string;
  /** User metadata set at write time (lower-case keys). Filled by `head`; listings may leave it out. */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** Part of an object: from an offset, or its last bytes (see {@link SuffixRange}). */
export type ByteRange = OffsetRange | SuffixRange;

export interface OffsetRange {
  /** First byte, from 0. */
  readonly offset: number;
  /** How many bytes; to the end when absent. A range past the end is cut at the end. */
  readonly length?: number;
}

/** The last `suffix` bytes, without knowing the size first (the whole object when it is shorter). */
export interface SuffixRange {
  readonly suffix: number;
}

export interface ReadOptions {
  readonly range?: ByteRange;
  /** Read only while the object is at this revision, otherwise PreconditionFailedError (NotFoundError once it is
   * gone): lets one object be read in several ranged requests without splicing two states of it. */
  readonly ifRevision?: string;
  readonly signal?: AbortSignal;
}

export interface RangeIntoOptions extends ReadOptions {
  readonly range: Required<OffsetRange>;
}

/** Receives a body in pieces. `bytes` must not be kept: its memory is reused once the returned promise settles. */
export interface BodySink {
  write(bytes: Uint8Array): Promise<void>;
}

export interface WriteOptions {
  readonly mode?: WriteMode;
  readonly contentType?: string;
  /** User metadata, lower-case ASCII keys and values. */
  readonly metadata?: Readonly<Record<string, string>>;
  readonly signal?: AbortSignal;
}

export interface StreamWriteOptions extends WriteOptions {
  /** Multipart part size in bytes (S3) or chunk size (GCS resumable). Backends pick a sensible default. */
  readonly partSize?: number;
  /** Parts in flight at once. */
  readonly concurrency?: number;
  /** Called with the total bytes consumed from the body so far. */
  readonly onProgress?: (bytesSoFar: number) => void;
  /** The body's length when known; lets backends pick single-request uploads for small bodies. */
  readonly size?: number;
}

export interface ListOptions {
  /** Keys strictly after this one (full key, relative to the backend root). */
  readonly startAfter?: string;
  /** Objects per underlying request. */
  readonly pageSize?: number;
  readonly signal?: AbortSignal;
  /**
   * What a file or folder whose name is not valid UTF-8 (on local disk: written by a tool on a system in another
   * encoding; keys on S3 and GCS are always UTF-8) does to the listing. "fail" (the default): the listing fails
   * `CORRUPT_DATA` naming the folder and the name, rather than go on without it. "skip": it is left out, with one
   * `OPENCRATE_NAME_NOT_UTF8` warning per name and process; only for listings that look for names such a name can
   * never be (snapshot names, version folders, opencrate's bookkeeping), never for a listing of files to copy or
   * delete.
   */
  readonly notUtf8?: NotUtf8Names;
  /**
   * What an entry the listing cannot give as an object does to it: on local disk a symbolic link that leads nowhere
   * or into a folder it lies in, or a name that is not valid UTF-8 (unless `notUtf8` is "skip"). Without this
   * option the listing fails `CORRUPT_DATA` naming it. With it, the listing calls it with the entry and goes on:
   * only for listings shown to a person (`ls` and `tree` of a version, the viewer's file list), never for a
   * listing of files to copy or delete. Keys on S3 and GCS have no such entries.
   */
  readonly onUnlistable?: (entry: UnlistableEntry) => void;
}

/** An entry a listing could not give as an object (ListOptions.onUnlistable). */
export interface UnlistableEntry {
  /**
   * Its key; for a name that is not UTF-8, which has none, its folder's key and the name's bytes, those that are not
   * printable ASCII (and the backslash) written as `\xNN`.
   */
  readonly key: string;
  /** Why, as a phrase: "a symbolic link that leads to nothing (ENOENT)". */
  readonly problem: string;
}

export interface ListPageOptions {
  /** From a previous page's `nextPageToken`. */
  readonly pageToken?: string;
  readonly pageSize?: number;
  readonly signal?: AbortSignal;
  /** As in ListOptions. */
  readonly notUtf8?: NotUtf8Names;
  /**
   * As in ListOptions, for the entries directly under the prefix: one the page cannot give as an object or a
   * folder is reported and left out of the page. Only for listings shown to a person, never to decide what is free.
   */
  readonly onUnlistable?: (entry: UnlistableEntry) => void;
}

/** See ListOptions.notUtf8. */
export type NotUtf8Names = "fail" | "skip";

export interface ListPage {
  /** Objects directly under the prefix, in key order. */
  readonly objects: readonly ObjectInfo[];
  /** "Folders" directly under the prefix, each ending in "/", in key order. */
  readonly prefixes: readonly string[];
  readonly nextPageToken?: string;
}

export interface AppendOptions {
  /** Append only while the object's revision is this one; otherwise PreconditionFailedError and nothing changes. */
  readonly ifRevision?: string;
  /** User metadata of the object after the append, replacing what it had; absent keeps the current metadata. */
  readonly metadata?: Readonly<Record<string, string>>;
  readonly signal?: AbortSignal;
}

export interface DeleteOptions {
  /**
   * Delete only while the object is at this revision (as `head`, `list` or a write gave it); otherwise
   * PreconditionFailedError and nothing changes. A key already absent is not an error, as for a plain delete: so a
   * retried delete whose first attempt landed resolves. After such a retry, PreconditionFailedError may also mean
   * that the first attempt deleted the object at `ifRevision` and another writer created the key anew since: either
   * way the object at that revision is gone and the one there now is someone else's. Needs
   * `capabilities.conditionalDelete` (NotSupportedError before any I/O otherwise); a store that turns out to ignore
   * the condition is refused with NotSupportedError, the object left as it was.
   */
  readonly ifRevision?: string;
  readonly signal?: AbortSignal;
}

export interface LeftoverOptions {
  /** Only in the folders directly under the prefix whose name passes (all when absent). */
  readonly inFolder?: (name: string) => boolean;
}

export interface CopyOptions {
  /** Only "overwrite" and "create" are meaningful for copies. */
  readonly mode?: WriteMode;
  readonly signal?: AbortSignal;
}

export interface BackendCapabilities {
  /** Create-only writes are enforced atomically by the store. */
  readonly createOnly: boolean;
  /** Compare-and-swap on a revision is enforced atomically by the store. */
  readonly compareAndSwap: boolean;
  /** `copy` with mode "create" is enforced by the store (otherwise the caller needs a fallback). */
  readonly copyCreateOnly: boolean;
  /** `copy` happens inside the store without the bytes passing through this process. */
  readonly serverSideCopy: boolean;
  /** Bodies above this size go through a multipart / resumable upload in `putStream`. */
  readonly multipartThreshold?: number;
  /** `false` when the store keeps no user metadata (local disk): write `metadata` is dropped and `head` returns
   * none. Absent means it is kept. */
  readonly userMetadata?: boolean;
  /**
   * True when a create-only or compare-and-swap write that fails AlreadyExists / PreconditionFailed met another
   * writer's object, never its own earlier attempt: the backend settles the lost answers of its own retries inside
   * the call (or cannot lose one), so a caller need not read the object back to tell. Absent means false.
   */
  readonly settlesConditionalWrites?: boolean;
  /**
   * True when `delete` takes `ifRevision` (see DeleteOptions): the condition is checked by the store itself (S3
   * If-Match, GCS ifGenerationMatch), so a delete request that lands late, after the key was written anew, deletes
   * nothing. Backends that check it against a store of unknown behaviour probe the store first and throw
   * NotSupportedError when it ignores the condition. Absent means false.
   */
  readonly conditionalDelete?: boolean;
}

/** A store that enforces create-only and compare-and-swap itself, for writes and copies, and copies inside itself. */
export const FULL_CAPABILITIES: BackendCapabilities = { createOnly: true, compareAndSwap: true, copyCreateOnly: true, serverSideCopy: true };

export interface StorageBackend {
  /** Short scheme-like name: "memory", "local", "s3", "gcs". */
  readonly kind: string;
  readonly capabilities: BackendCapabilities;
  /** How this backend retries, lent to the loops above it (version claims, log appends). Absent: the default. */
  readonly retryPolicy?: RetryPolicy | undefined;
  /**
   * The longest key this backend takes, in UTF-8 bytes, when less than 1024: an object store's 1024 less its root
   * prefix. Absent: 1024. Read it through `keyBytesLimit(backend)`.
   */
  readonly maxKeyBytes?: number | undefined;

  /**
   * A human-readable location for a key, used in messages and as `dirPath`: a local path (as the root was
   * given, relative or absolute), `s3://bucket/prefix/key`, `gs://…`, `memory://name/key`.
   * `describe("")` is the root itself.
   */
  describe(key: string): string;

  /** Metadata of one object. NotFoundError when absent. */
  head(key: string, options?: { readonly signal?: AbortSignal }): Promise<ObjectInfo>;

  /** The whole object, or a byte range of it, in memory. NotFoundError when absent. */
  get(key: string, options?: ReadOptions): Promise<Uint8Array>;

  /** The object (or a range) as a stream, for large bodies. NotFoundError when absent (thrown by the promise,
   * before the stream is returned). */
  getStream(key: string, options?: ReadOptions): Promise<Readable>;

  /** Writes a body held in memory, atomically: readers see the old or the new object, never a part. */
  put(key: string, body: Uint8Array | string, options?: WriteOptions): Promise<ObjectInfo>;

  /**
   * Writes a body of any size from a stream in constant memory (multipart / resumable past one part), atomically.
   * The write mode is applied at the commit point (CompleteMultipartUpload, the resumable session, the rename or
   * link). On any failure nothing is left at the key and no upload is left open.
   */
  putStream(
    key: string,
    body: Readable | AsyncIterable<Uint8Array>,
    options?: StreamWriteOptions,
  ): Promise<ObjectInfo>;

  /**
   * Optional fast path for a large ranged read: the bytes of `options.range` (its length given) are handed to `sink`
   * in order, from buffers the backend reuses (byte n of the range first in the n-th byte handed). Resolves with the
   * count handed, or undefined when this read was not taken (nothing handed): the caller reads with getStream then.
   * Same errors as getStream's body.
   */
  readRangeInto?(key: string, options: RangeIntoOptions, sink: BodySink): Promise<number | undefined>;

  /**
   * Optional fast path for uploading a local file (e.g. a kernel-side copy or reflink on local disk); same
   * atomicity and mode rules as putStream. Callers fall back to putStream over a file stream when absent.
   */
  putFile?(key: string, localPath: string, options?: StreamWriteOptions): Promise<ObjectInfo>;

  /**
   * Optional: adds `bytes` at the end of an existing object, as one write that gets a new revision, at a cost that
   * grows with `bytes` rather than with the object where the store allows it (local disk: a write at the end of
   * the file; S3 from 5 MiB: a multipart upload whose first part is a server-side copy of the object). Backends
   * that can only rewrite the whole object may still offer it; callers that find it absent fall back to get + put
   * with `replace`.
   *
   * Against writers it is a compare-and-swap when `ifRevision` is given: PreconditionFailedError when the revision
   * is stale or the object changes while the append runs, and nothing is written (on local disk: against writers
   * that take its lock; a program appending to the file without it is not seen, see LocalBackend.append). Readers
   * see the old object or the new one, except on local disk, where a read racing an append may also end inside
   * `bytes`. NotFoundError when the key is absent. The content type is kept; `metadata` replaces the
   * user metadata. Empty `bytes` write nothing and resolve to the current object (after the revision check).
   */
  append?(key: string, bytes: Uint8Array, options?: AppendOptions): Promise<ObjectInfo>;

  /** Every object under a key prefix (a plain string prefix, not only folders), recursively, in key order. */
  list(prefix: string, options?: ListOptions): AsyncIterable<ObjectInfo>;

  /** One page of the objects and sub-folders directly under a folder prefix ("" or ending in "/"). */
  listPage(prefix: string, options?: ListPageOptions): Promise<ListPage>;

  /** Removes one object, or only the given revision of it (`options.ifRevision`, see DeleteOptions). A missing key
   * is not an error. */
  delete(key: string, options?: DeleteOptions): Promise<void>;

  /**
   * Optional: rejects, changing nothing, when deleting objects under the folder `prefix` ("a/b/") would be refused:
   * on local disk, when the folder or one of its files is reached through a symbolic link. Callers that write into
   * a folder and then empty it (`replace`) ask first, so that a refused delete comes before any write. Backends
   * that refuse no delete leave it out.
   */
  checkDeletable?(prefix: string): Promise<void>;

  /**
   * Optional: removes the backend's own leftovers under the folder `prefix` ("a/b/"), which listings never show:
   * on local disk, the temp files of writes killed before their commit and lock files past the lock's stale age;
   * folders this leaves empty go too. A temp file a writer may still write is never removed, however long it has
   * been silent (`isTempInUse`, backends/temp-names.ts). Backends that leave nothing behind (object stores, whose
   * uploads are all-or-nothing) leave it out.
   */
  removeLeftovers?(prefix: string, options?: LeftoverOptions): Promise<void>;

  /**
   * Optional: deletes the temp objects at `keys` as a listing showed them: keys whose last segment is a temp's name
   * (`.~oc-tmp-…`), which no other method takes. Stores whose listings show their temps offer it (S3 and GCS: the
   * snapshots of busy copy sources, which their copy deletes when it ends), so that deletes of a whole folder
   * (`reset`, `replace`) can remove those no writer writes any more (`isTempInUse`, backends/temp-names.ts).
   * Missing keys are not errors.
   */
  deleteTemps?(keys: readonly string[]): Promise<void>;

  /**
   * Optional: the store's time now, as far as its answers have shown it, to tell how old a `lastModified` is when
   * this machine's clock may be wrong (S3: from the Date header of its answers). Absent: this machine's clock.
   */
  storeNow?(): Date;

  /** Removes many objects (batched where the store can). Missing keys are not errors. */
  deleteMany(keys: Iterable<string> | AsyncIterable<string>): Promise<void>;

  /** Copies inside the store. NotFoundError when `from` is absent; AlreadyExistsError when mode is "create" and
   * `to` exists. */
  copy(from: string, to: string, options?: CopyOptions): Promise<ObjectInfo>;

  /** Releases clients and sockets. The backend is unusable afterwards. */
  close(): Promise<void>;
}
