/** Creates a bucket on an S3-compatible test server (MinIO, moto) unless it exists, retrying until the deadline. */
import { setTimeout as sleep } from "node:timers/promises";
import type { S3ServerEnv } from "../../test/support/servers.ts";

export async function ensureS3Bucket(server: S3ServerEnv | undefined, deadline: number): Promise<void> {
  if (server === undefined) throw new Error("no endpoint variable set");
  const { S3Client, CreateBucketCommand } = await import("@aws-sdk/client-s3");
  const client = new S3Client({
    endpoint: server.endpoint,
    region: server.region,
    forcePathStyle: true,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    maxAttempts: 1,
  });
  try {
    for (;;) {
      try {
        await client.send(new CreateBucketCommand({ Bucket: server.bucket }));
        return;
      } catch (error) {
        // Already there: a server the caller runs, or a retried create whose first attempt landed.
        const name = error instanceof Error ? error.name : "";
        if (name === "BucketAlreadyOwnedByYou" || name === "BucketAlreadyExists") return;
        // Right after its health check turns green MinIO can still refuse; retry anything until the deadline.
        if (Date.now() + 250 >= deadline) {
          throw new Error(`could not create bucket ${server.bucket} at ${server.endpoint}`, { cause: error });
        }
        await sleep(250);
      }
    }
  } finally {
    client.destroy();
  }
}
