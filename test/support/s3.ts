/**
 * S3 test backends on the real test servers (MinIO, moto): each `make()` is an S3Backend on the test bucket under
 * a fresh prefix `t-<uuid>`, and `cleanup()` deletes everything under the prefixes it made.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import { S3Backend } from "../../src/backends/s3/index.ts";
import type { S3BackendOptions } from "../../src/backends/s3/index.ts";
import type { BackendFactory } from "./backends.ts";
import { bucketFactory } from "./bucket-factory.ts";
import { minioEnv, motoEnv, skipUnless, type S3ServerEnv } from "./servers.ts";

export function minioFactory(): BackendFactory {
  const server = minioEnv();
  return s3Factory("minio", server, skipUnless(server, "MinIO", "TEST_MINIO_ENDPOINT"));
}

/**
 * MinIO with the credentials given as a provider, as from a profile or a role: reads then go through the SDK
 * (plain-route.ts takes fixed credentials only), so that path keeps its own conformance run.
 */
export function minioSdkReadsFactory(): BackendFactory {
  const server = minioEnv();
  return s3Factory("minio-sdk-reads", server, skipUnless(server, "MinIO", "TEST_MINIO_ENDPOINT"), (options) => {
    const fixed = options.credentials;
    return { ...options, credentials: async () => fixed as { accessKeyId: string; secretAccessKey: string } };
  });
}

export function motoFactory(): BackendFactory {
  const server = motoEnv();
  return s3Factory("moto", server, skipUnless(server, "moto", "TEST_MOTO_ENDPOINT"));
}

/**
 * moto (a Python server) can take longer than the default 4 s idle time-out to answer a large part or the
 * completion of a large upload on a busy machine; the tests give it this one.
 */
export const MOTO_REQUEST_TIMEOUT_MS = 30_000;

/** Options for an S3Backend on `server`'s test bucket (explicit, so the developer's AWS_* variables do not leak in). */
export function s3Options(server: S3ServerEnv, extra: Partial<S3BackendOptions> = {}): S3BackendOptions {
  return {
    ...(server.label === "moto" ? { requestTimeoutMs: MOTO_REQUEST_TIMEOUT_MS } : {}),
    bucket: server.bucket,
    endpoint: server.endpoint,
    region: server.region,
    forcePathStyle: true,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    ...extra,
  };
}

/** A raw SDK client on `server`, for checks the backend cannot make (open multipart uploads, raw objects). */
export async function rawClient(server: S3ServerEnv, endpoint: string = server.endpoint): Promise<S3Client> {
  const { S3Client } = await import("@aws-sdk/client-s3");
  return new S3Client({
    endpoint,
    region: server.region,
    forcePathStyle: true,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

/** Creates the test bucket unless it exists (the server scripts usually have). */
export async function ensureBucket(server: S3ServerEnv): Promise<void> {
  const { CreateBucketCommand, HeadBucketCommand } = await import("@aws-sdk/client-s3");
  const client = await rawClient(server);
  try {
    await client.send(new HeadBucketCommand({ Bucket: server.bucket }));
  } catch {
    await client.send(new CreateBucketCommand({ Bucket: server.bucket })).catch((error: unknown) => {
      const name = (error as { name?: unknown }).name;
      if (name !== "BucketAlreadyOwnedByYou" && name !== "BucketAlreadyExists") throw error;
    });
  } finally {
    client.destroy();
  }
}

/** Every object key under `prefix/` and every open multipart upload there, for leak checks. */
export async function rawListing(server: S3ServerEnv, prefix: string): Promise<{ keys: string[]; uploads: string[] }> {
  const { ListObjectsV2Command, ListMultipartUploadsCommand } = await import("@aws-sdk/client-s3");
  const client = await rawClient(server);
  try {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await client.send(
        new ListObjectsV2Command({ Bucket: server.bucket, Prefix: `${prefix}/`, ...(token === undefined ? {} : { ContinuationToken: token }) }),
      );
      for (const entry of page.Contents ?? []) if (entry.Key !== undefined) keys.push(entry.Key);
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    // MinIO matches a multipart-upload Prefix only against whole keys, so list every open upload and filter here;
    // with the prefix in the request, the "nothing left open" checks could never fail.
    const uploads: string[] = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (;;) {
      const page = await client.send(
        new ListMultipartUploadsCommand({
          Bucket: server.bucket,
          ...(keyMarker === undefined ? {} : { KeyMarker: keyMarker }),
          ...(uploadIdMarker === undefined ? {} : { UploadIdMarker: uploadIdMarker }),
        }),
      );
      for (const upload of page.Uploads ?? []) if (upload.Key?.startsWith(`${prefix}/`) === true) uploads.push(upload.Key);
      if (page.IsTruncated !== true) break;
      keyMarker = page.NextKeyMarker;
      uploadIdMarker = page.NextUploadIdMarker;
    }
    return { keys, uploads };
  } finally {
    client.destroy();
  }
}

function s3Factory(
  label: string,
  server: S3ServerEnv | undefined,
  skip: false | string,
  adjust: (options: S3BackendOptions) => S3BackendOptions = (options) => options,
): BackendFactory {
  const running = (): S3ServerEnv => {
    if (server === undefined) throw new Error(`${label}: no server (the suite should have been skipped)`);
    return server;
  };
  return bucketFactory({
    label,
    skip,
    prepareBucket: () => ensureBucket(running()),
    open: (prefix) => new S3Backend(adjust(s3Options(running(), prefix === "" ? {} : { prefix }))),
  });
}
