/** The CLI against MinIO through s3:// URIs (endpoint and keys from the standard AWS variables). */
import { minioFactory } from "../support/s3.ts";
import { minioEnv } from "../support/servers.ts";
import { cloudSmokeSuite } from "./cloud-smoke.ts";

const server = minioEnv();
cloudSmokeSuite({
  label: "MinIO",
  factory: minioFactory(),
  scheme: "s3",
  env: () => ({
    AWS_ENDPOINT_URL_S3: server?.endpoint,
    AWS_ACCESS_KEY_ID: server?.accessKeyId,
    AWS_SECRET_ACCESS_KEY: server?.secretAccessKey,
    AWS_REGION: server?.region,
  }),
  ...(server === undefined ? {} : { secret: server.secretAccessKey }),
});
