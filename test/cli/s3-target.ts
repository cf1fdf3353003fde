/** The CLI smoke target for an S3 test server: endpoint and keys from the standard AWS variables. */
import type { S3Client } from "@aws-sdk/client-s3";
import type { StorageBackend } from "../../src/backends/backend.ts";
import { S3Backend } from "../../src/backends/s3/index.ts";
import type { BackendFactory } from "../support/backends.ts";
import { rawClient } from "../support/s3.ts";
import type { S3ServerEnv } from "../support/servers.ts";
import type { CloudTarget, CraftedKey } from "./cloud-smoke.ts";

export function s3CliTarget(
  label: string,
  server: S3ServerEnv | undefined,
  factory: BackendFactory,
  extra: { readonly craftedKeys: readonly CraftedKey[]; readonly resume?: boolean },
): CloudTarget {
  return {
    label,
    factory,
    scheme: "s3",
    env: () => ({
      AWS_ENDPOINT_URL_S3: server?.endpoint,
      AWS_ACCESS_KEY_ID: server?.accessKeyId,
      AWS_SECRET_ACCESS_KEY: server?.secretAccessKey,
      AWS_REGION: server?.region,
    }),
    ...(server === undefined ? {} : { secret: server.secretAccessKey }),
    rawWrites: {
      put: (backend, key, body) =>
        withRawClient(server, backend, key, async (client, Bucket, Key) => {
          const { PutObjectCommand } = await import("@aws-sdk/client-s3");
          await client.send(new PutObjectCommand({ Bucket, Key, Body: body }));
        }),
      delete: (backend, key) =>
        withRawClient(server, backend, key, async (client, Bucket, Key) => {
          const { DeleteObjectCommand } = await import("@aws-sdk/client-s3");
          await client.send(new DeleteObjectCommand({ Bucket, Key }));
        }),
      craftedKeys: extra.craftedKeys,
    },
    ...(extra.resume === undefined ? {} : { resume: extra.resume }),
  };
}

/** Runs `use` with a bare SDK client and the object key `<prefix>/<key>`, so no key check of opencrate's stands in
 * the way. */
async function withRawClient(
  server: S3ServerEnv | undefined,
  backend: StorageBackend,
  key: string,
  use: (client: S3Client, bucket: string, objectKey: string) => Promise<void>,
): Promise<void> {
  if (server === undefined || !(backend instanceof S3Backend)) throw new Error(`raw writes need an S3 test server, not ${backend.describe("")}`);
  const client = await rawClient(server);
  try {
    await use(client, backend.bucket, backend.prefix === "" ? key : `${backend.prefix}/${key}`);
  } finally {
    client.destroy();
  }
}
