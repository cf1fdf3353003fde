/**
 * What a handler sees. A handler only encodes and decodes; the shared Artifact class does paths, atomic saves,
 * backups, listing, deletion, streaming and the verbose log lines.
 */
import type { Readable } from "node:stream";
import type { StorageBackend } from "../backends/backend.ts";

/**
 * Storage scoped to one artifact path. `relative` (default "") addresses the artifact itself ("") or, for
 * handlers that treat their path as a folder, an object below it ("part_0.txt", "a/b.bin"). A relative path may
 * not escape the artifact path (InvalidArgumentError). Writes are atomic per object and throw ReadOnlyError on a
 * read-only snapshot.
 */
export interface ArtifactStorage {
  /** The artifact's location as people see it: a local path or a URI. */
  readonly path: string;
  /** The artifact's key on the backend. */
  readonly key: string;
  readonly backend: StorageBackend;
  readonly readOnly: boolean;

  /** Location of an object below the artifact, as people see it. */
  describe(relative?: string): string;
  read(relative?: string): Promise<Uint8Array>;
  readText(relative?: string): Promise<string>;
  /**
   * `length` bytes from `offset` (fewer at the end of the object). With `options.ifRevision` (from `info()`), only
   * from the object at that revision: PreconditionFailedError once it was replaced, NotFoundError once it is gone.
   * So one object read in several ranges is never spliced from two saves of it.
   */
  readRange(offset: number, length: number, relative?: string, options?: RangeReadOptions): Promise<Uint8Array>;
  openRead(relative?: string): Promise<Readable>;
  write(data: Uint8Array | string, relative?: string): Promise<void>;
  writeStream(body: Readable | AsyncIterable<Uint8Array>, relative?: string, options?: { size?: number }): Promise<void>;
  writeFile(localPath: string, relative?: string): Promise<void>;
  downloadTo(localPath: string, relative?: string): Promise<void>;
  exists(relative?: string): Promise<boolean>;
  size(relative?: string): Promise<number>;
  /** The object's size and revision (the backend's token for this stored state of it). NotFoundError when absent. */
  info(relative?: string): Promise<ArtifactObjectInfo>;
  /** Names (relative to the artifact path, "/"-separated) of every object below it, sorted. */
  list(relative?: string): Promise<string[]>;
  /** Removes the object, or with `recursive` everything below the path too. Missing is fine. */
  delete(relative?: string, options?: { recursive?: boolean }): Promise<void>;
}

export interface RangeReadOptions {
  /** Read only while the object is at this revision (see `ArtifactStorage.info`). */
  readonly ifRevision?: string;
}

export interface ArtifactObjectInfo {
  /** Bytes. */
  readonly size: number;
  /** Opaque: compare it for equality, or hand it to `readRange` as `ifRevision`. */
  readonly revision: string;
}

export interface HandlerContext {
  /** The artifact name as given, e.g. "model.safetensors". */
  readonly name: string;
  /** The lower-case extension with its dot (".safetensors"), or "" when the name has none. */
  readonly extension: string;
}

/** A built-in type's codec. */
export interface ArtifactHandler<In, Out, SaveOptions = undefined, LoadOptions = undefined> {
  /** The snapshot type, e.g. "json"; its folder is `<type>s`. */
  readonly type: string;
  save(data: In, storage: ArtifactStorage, options: SaveOptions | undefined, context: HandlerContext): Promise<void>;
  load(storage: ArtifactStorage, options: LoadOptions | undefined, context: HandlerContext): Promise<Out>;
}
