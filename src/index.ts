/** Public exports only. Importing this module loads no cloud SDK and no sharp; they load on first use. */
import { createSession } from "./snapshot/session.ts";

const oc = createSession();
export default oc;
export { oc };

export type { Session } from "./snapshot/session.ts";
export { Snapshot } from "./snapshot/snapshot.ts";
export type {
  SetupOptions,
  VersionInfo,
  ArtifactOptions,
  ImageArtifact,
  CsvArtifact,
  AudioArtifact,
  CheckpointArtifact,
} from "./snapshot/snapshot.ts";
export { Artifact } from "./snapshot/artifact.ts";
export type { CustomArtifact, CustomHandler, CustomHandlerClass, HandlerAttachments } from "./snapshot/custom-handler.ts";
export { parseSnapshotUri } from "./snapshot/snapshot-uri.ts";
export type { SnapshotAddress, SnapshotSelector } from "./snapshot/snapshot-uri.ts";

export type {
  StorageBackend,
  BackendCapabilities,
  ObjectInfo,
  WriteMode,
  WriteOptions,
  StreamWriteOptions,
  ReadOptions,
  ByteRange,
  OffsetRange,
  SuffixRange,
  ListOptions,
  ListPage,
  ListPageOptions,
  NotUtf8Names,
  UnlistableEntry,
  CopyOptions,
  AppendOptions,
  RangeIntoOptions,
  BodySink,
} from "./backends/backend.ts";
export { LocalBackend } from "./backends/local/index.ts";
export type { LocalBackendOptions } from "./backends/local/index.ts";
export { MemoryBackend } from "./backends/memory.ts";
export type { MemoryBackendOptions } from "./backends/memory.ts";
export { S3Backend } from "./backends/s3/index.ts";
export type { S3BackendOptions } from "./backends/s3/index.ts";
export { GcsBackend } from "./backends/gcs/index.ts";
export type { GcsBackendOptions } from "./backends/gcs/index.ts";
export { PrefixedBackend } from "./backends/layers/prefixed.ts";
export { RetryPolicy } from "./backends/retry-policy.ts";
export type { CallKind, FailureKind, RetryOptions, Sleeper } from "./backends/retry-policy.ts";
export { checkedBackend } from "./backends/layers/checked.ts";
export { spanOf } from "./backends/byte-range.ts";
export { backendFromUri } from "./backends/registry.ts";
export { parseLocation } from "./uri.ts";
export type { Location } from "./uri.ts";

export * from "./errors.ts";
export type { ArtifactHandler, ArtifactObjectInfo, ArtifactStorage, HandlerContext, RangeReadOptions } from "./handlers/types.ts";
export type * from "./handlers/data-types.ts";
export { io } from "./io/index.ts";
export type { Io, ShowFilesOptions } from "./io/index.ts";
