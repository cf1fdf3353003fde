// Creates $BUCKET on the S3 server at $S3_ENDPOINT and on the fake-gcs-server at $GCS_ENDPOINT (an existing bucket
// is fine). Run by the `buckets` service of compose.yaml inside the CLI image, whose SDK it borrows.
import { createRequire } from "node:module";

const require = createRequire("/app/package.json");
const { S3Client, CreateBucketCommand } = require("@aws-sdk/client-s3");
const { BUCKET: bucket, S3_ENDPOINT: s3Endpoint, GCS_ENDPOINT: gcsEndpoint } = process.env;

const s3 = new S3Client({ endpoint: s3Endpoint, forcePathStyle: true });
try {
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  console.log(`created s3://${bucket} at ${s3Endpoint}`);
} catch (error) {
  if (error.name !== "BucketAlreadyOwnedByYou") throw error;
  console.log(`s3://${bucket} exists at ${s3Endpoint}`);
}

const response = await fetch(`${gcsEndpoint}/storage/v1/b?project=opencrate`, {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ name: bucket }),
});
if (!response.ok && response.status !== 409) throw new Error(`creating gs://${bucket}: ${response.status} ${await response.text()}`);
console.log(`${response.ok ? "created" : "exists:"} gs://${bucket} at ${gcsEndpoint}`);
