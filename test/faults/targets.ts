/**
 * The cloud servers the fault tests run on (MinIO, fake-gcs-server), each with what a fault test needs: a backend
 * straight to the server (the clean reader) or through a fault proxy, a way to tell which object a proxied
 * request is about, the server's error shapes, and cleanup of a prefix.
 */
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { StorageBackend } from "../../src/backends/backend.ts";
import { GcsBackend } from "../../src/backends/gcs/index.ts";
import { S3Backend } from "../../src/backends/s3/index.ts";
import type { FaultKind, RequestLine } from "../support/fault-proxy.ts";
import { ensureGcsBucket, gcsOptions } from "../support/gcs.ts";
import { ensureBucket, rawClient, s3Options } from "../support/s3.ts";
import { gcsEnv, minioEnv, skipUnless, type GcsServerEnv, type S3ServerEnv } from "../support/servers.ts";
import { deleteUnder } from "../support/bucket-factory.ts";

export const MiB = 1024 * 1024;
const KiB = 1024;

/** What a proxied request does, coarsely: enough to aim a scripted fault. */
export type RequestRole =
  | "read"
  | "list"
  | "write"
  | "delete"
  | "multipart-create"
  | "multipart-part"
  | "multipart-complete"
  | "multipart-abort"
  | "other";

export interface CloudTarget {
  readonly label: string;
  readonly kind: "s3" | "gcs";
  readonly skip: false | string;
  /** The server's own endpoint (what a fault proxy forwards to). */
  readonly endpoint: string;
  /** The error answers this server gives (the random plans use these). */
  readonly errorFaults: readonly FaultKind[];
  /** The fault that makes a read fail on every attempt. */
  readonly readFault: FaultKind;
  /** How many times one backend call sends a request before it gives up (the backends below are built so). */
  readonly attemptsPerCall: number;
  /** Bytes above which `putStream` goes multipart / resumable with the backends below. */
  readonly multipartAbove: number;
  /** The root URI of `prefix` (for child processes). */
  rootUri(prefix: string): string;
  /** A fresh prefix on the test bucket (created if need be). */
  freshPrefix(): Promise<string>;
  /** A backend on `prefix`, sending to `endpoint` (default: the server itself). */
  backend(prefix: string, endpoint?: string): StorageBackend;
  /** The object name (bucket-relative, prefix included) a request is about, if any. */
  objectOf(request: RequestLine): string | undefined;
  roleOf(request: RequestLine): RequestRole;
  /** Deletes everything under the prefixes handed out (and, on S3, aborts their open multipart uploads). */
  cleanup(): Promise<void>;
}

export function cloudTargets(): CloudTarget[] {
  return [minioTarget(minioEnv()), gcsTarget(gcsEnv())];
}

function minioTarget(server: S3ServerEnv | undefined): CloudTarget {
  const skip = skipUnless(server, "MinIO", "TEST_MINIO_ENDPOINT");
  const prefixes: string[] = [];
  let ready: Promise<void> | undefined;
  const bucketPath = `/${server?.bucket ?? ""}/`;
  return {
    label: "MinIO",
    kind: "s3",
    skip,
    endpoint: server?.endpoint ?? "",
    errorFaults: ["status-500", "status-503", "s3-slow-down"],
    readFault: "status-503",
    attemptsPerCall: 3,
    multipartAbove: 5 * MiB,
    rootUri: (prefix) => `s3://${server?.bucket ?? ""}/${prefix}`,
    async freshPrefix() {
      if (server === undefined) throw new Error("MinIO is not running");
      ready ??= ensureBucket(server);
      await ready;
      const prefix = `t-${randomUUID()}`;
      prefixes.push(prefix);
      return prefix;
    },
    backend(prefix, endpoint) {
      if (server === undefined) throw new Error("MinIO is not running");
      return new S3Backend(s3Options(server, { prefix, partSize: 5 * MiB, maxAttempts: 3, ...(endpoint === undefined ? {} : { endpoint }) }));
    },
    objectOf(request) {
      const path = request.url.split("?")[0] ?? "";
      return path.startsWith(bucketPath) && path.length > bucketPath.length ? decodeURIComponent(path.slice(bucketPath.length)) : undefined;
    },
    roleOf(request) {
      const query = new URLSearchParams(request.url.split("?")[1] ?? "");
      const object = this.objectOf(request) !== undefined;
      if (request.method === "GET" || request.method === "HEAD") return object ? "read" : "list";
      if (request.method === "POST" && query.has("uploads")) return "multipart-create";
      if (request.method === "POST" && query.has("uploadId")) return "multipart-complete";
      if (request.method === "PUT" && query.has("partNumber")) return "multipart-part";
      if (request.method === "DELETE" && query.has("uploadId")) return "multipart-abort";
      if (request.method === "PUT") return "write";
      if (request.method === "DELETE" || (request.method === "POST" && query.has("delete"))) return "delete";
      return "other";
    },
    async cleanup() {
      if (server === undefined) return;
      const { AbortMultipartUploadCommand } = await import("@aws-sdk/client-s3");
      const cleaner = new S3Backend(s3Options(server));
      const client = await rawClient(server);
      try {
        for (const prefix of prefixes.splice(0)) {
          await deleteUnder(cleaner, [prefix]);
          for (const upload of await openUploads(server, prefix)) {
            await client.send(new AbortMultipartUploadCommand({ Bucket: server.bucket, Key: upload.key, UploadId: upload.uploadId }));
          }
        }
      } finally {
        client.destroy();
        await cleaner.close();
      }
    },
  };
}

export interface OpenUpload {
  readonly key: string;
  readonly uploadId: string;
  /** Parts uploaded to it so far. */
  readonly parts: number;
}

/**
 * The multipart uploads open under `prefix/` on an S3 server. The whole bucket is listed and filtered here,
 * because MinIO answers ListMultipartUploads with a folder Prefix with nothing: it only matches a Prefix that is
 * a whole object key.
 */
export async function openUploads(server: S3ServerEnv, prefix: string): Promise<OpenUpload[]> {
  const { ListMultipartUploadsCommand, ListPartsCommand } = await import("@aws-sdk/client-s3");
  const client = await rawClient(server);
  try {
    const open: OpenUpload[] = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    do {
      const page = await client.send(
        new ListMultipartUploadsCommand({
          Bucket: server.bucket,
          ...(keyMarker === undefined ? {} : { KeyMarker: keyMarker }),
          ...(uploadIdMarker === undefined ? {} : { UploadIdMarker: uploadIdMarker }),
        }),
      );
      for (const upload of page.Uploads ?? []) {
        if (upload.Key === undefined || upload.UploadId === undefined || !upload.Key.startsWith(`${prefix}/`)) continue;
        const parts = await client.send(new ListPartsCommand({ Bucket: server.bucket, Key: upload.Key, UploadId: upload.UploadId }));
        open.push({ key: upload.Key, uploadId: upload.UploadId, parts: parts.Parts?.length ?? 0 });
      }
      const truncated = page.IsTruncated === true;
      keyMarker = truncated ? page.NextKeyMarker : undefined;
      uploadIdMarker = truncated ? page.NextUploadIdMarker : undefined;
    } while (keyMarker !== undefined);
    return open;
  } finally {
    client.destroy();
  }
}

function gcsTarget(server: GcsServerEnv | undefined): CloudTarget {
  const skip = skipUnless(server, "fake-gcs-server", "TEST_GCS_ENDPOINT");
  const prefixes: string[] = [];
  let ready: Promise<void> | undefined;
  const jsonObjects = `/storage/v1/b/${server?.bucket ?? ""}/o/`;
  const uploads = `/upload/storage/v1/b/${server?.bucket ?? ""}/o`;
  return {
    label: "fake-gcs-server",
    kind: "gcs",
    skip,
    endpoint: server?.endpoint ?? "",
    errorFaults: ["status-500", "status-503", "gcs-503"],
    readFault: "status-503",
    // maxRetries 1 below: two attempts per call, which keeps the SDK's back-off (1.5 s and up) from dominating.
    attemptsPerCall: 2,
    multipartAbove: 512 * KiB,
    rootUri: (prefix) => `gs://${server?.bucket ?? ""}/${prefix}`,
    async freshPrefix() {
      if (server === undefined) throw new Error("fake-gcs-server is not running");
      ready ??= ensureGcsBucket(server);
      await ready;
      const prefix = `t-${randomUUID()}`;
      prefixes.push(prefix);
      return prefix;
    },
    backend(prefix, endpoint) {
      if (server === undefined) throw new Error("fake-gcs-server is not running");
      return new GcsBackend(
        gcsOptions(server, {
          prefix,
          resumableThreshold: 512 * KiB,
          chunkSize: 256 * KiB,
          maxRetries: 1,
          ...(endpoint === undefined ? {} : { apiEndpoint: endpoint }),
        }),
      );
    },
    objectOf(request) {
      const [path = "", query = ""] = request.url.split("?");
      if (path.startsWith(jsonObjects)) return decodeURIComponent(path.slice(jsonObjects.length));
      if (path.startsWith(uploads)) return new URLSearchParams(query).get("name") ?? undefined;
      return undefined;
    },
    roleOf(request) {
      const [path = "", query = ""] = request.url.split("?");
      const params = new URLSearchParams(query);
      if (path.startsWith(uploads)) {
        if (request.method === "PUT") return "multipart-part";
        if (params.get("uploadType") === "resumable") return "multipart-create";
        return "write";
      }
      if (request.method === "GET" && path.startsWith(jsonObjects)) return "read";
      if (request.method === "GET") return "list";
      if (request.method === "DELETE") return "delete";
      return "other";
    },
    async cleanup() {
      if (server === undefined) return;
      const cleaner = new GcsBackend(gcsOptions(server));
      try {
        await deleteUnder(cleaner, prefixes.splice(0));
      } finally {
        await cleaner.close();
      }
    },
  };
}

/**
 * The backend a child process of the crash and stress tests uses: `kind` "local" (then `place` is the root
 * folder), "s3" (MinIO) or "gcs" (fake-gcs-server) (then `place` is the prefix), optionally through `endpoint`.
 */
export async function backendFor(kind: string, place: string, endpoint?: string): Promise<StorageBackend> {
  if (kind === "local") {
    const { LocalBackend } = await import("../../src/backends/local/index.ts");
    return new LocalBackend({ root: place });
  }
  const target = cloudTargets().find((candidate) => candidate.kind === kind);
  if (target === undefined || target.skip !== false) throw new Error(`no ${kind} server for a child process`);
  return target.backend(place, endpoint);
}

/** Where a multi-process test runs: local disk or one of the cloud servers. */
export interface Place {
  readonly label: string;
  readonly kind: "local" | "s3" | "gcs";
  readonly skip: false | string;
  /** A fresh root folder (local) or prefix (cloud), for backendFor. */
  fresh(): Promise<string>;
  cleanup(): Promise<void>;
}

/** Local disk, MinIO and fake-gcs-server: the stores whose conditional writes are atomic. */
export function places(): Place[] {
  const folders: string[] = [];
  const local: Place = {
    label: "local disk",
    kind: "local",
    skip: false,
    fresh: async () => {
      const folder = await mkdtemp(join(tmpdir(), "opencrate-place-"));
      folders.push(folder);
      return folder;
    },
    cleanup: async () => {
      await Promise.all(folders.splice(0).map((folder) => rm(folder, { recursive: true, force: true })));
    },
  };
  const cloud = cloudTargets().map(
    (target): Place => ({
      label: target.label,
      kind: target.kind,
      skip: target.skip,
      fresh: () => target.freshPrefix(),
      cleanup: () => target.cleanup(),
    }),
  );
  return [local, ...cloud];
}
