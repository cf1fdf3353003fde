/**
 * Which real test servers this run has. `npm test` (scripts/test.ts) starts MinIO, moto and fake-gcs-server on
 * loopback and exports their endpoints; explicit variables set by the caller win. A suite whose server is missing
 * fails under CI=true and is skipped with one loud line elsewhere.
 */
export interface S3ServerEnv {
  readonly label: "minio" | "moto";
  readonly endpoint: string;
  readonly bucket: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly region: string;
}

export interface GcsServerEnv {
  readonly endpoint: string;
  readonly bucket: string;
  readonly projectId: string;
}

/** `env` defaults to process.env; scripts/test-servers.ts passes the variables it is about to export. */
export function minioEnv(env: NodeJS.ProcessEnv = process.env): S3ServerEnv | undefined {
  const endpoint = env.TEST_MINIO_ENDPOINT;
  if (!endpoint) return undefined;
  return {
    label: "minio",
    endpoint,
    bucket: env.TEST_MINIO_BUCKET ?? "opencrate-test",
    accessKeyId: env.TEST_MINIO_ACCESS_KEY ?? "minioadmin",
    secretAccessKey: env.TEST_MINIO_SECRET_KEY ?? "minioadmin",
    region: "us-east-1",
  };
}

export function motoEnv(env: NodeJS.ProcessEnv = process.env): S3ServerEnv | undefined {
  const endpoint = env.TEST_MOTO_ENDPOINT;
  if (!endpoint) return undefined;
  return {
    label: "moto",
    endpoint,
    bucket: env.TEST_MOTO_BUCKET ?? "opencrate-test",
    accessKeyId: "testing",
    secretAccessKey: "testing",
    region: "us-east-1",
  };
}

export function gcsEnv(env: NodeJS.ProcessEnv = process.env): GcsServerEnv | undefined {
  const endpoint = env.TEST_GCS_ENDPOINT;
  if (!endpoint) return undefined;
  return { endpoint, bucket: env.TEST_GCS_BUCKET ?? "opencrate-test", projectId: "test" };
}

/**
 * The `skip` option for a suite that needs `server`: false when present; a reason when absent on a laptop.
 * Under CI=true a missing server throws, so the run fails instead of counting a skipped suite as a pass.
 */
export function skipUnless(server: unknown, name: string, variable: string): false | string {
  if (server !== undefined) return false;
  const reason = `${name} is not running: set ${variable} or run the tests with \`npm test\`, which starts it`;
  if (process.env.CI === "true") throw new Error(`CI=true but ${reason}.`);
  console.warn(`\n!!! SKIPPING ${name} suites: ${reason}.\n`);
  return reason;
}

/**
 * Points the SDKs' standard variables at the test MinIO and fake-gcs-server, for code that builds its backends
 * from `s3://` and `gs://` URIs (Snapshot.open, oc.io, setup({ root })).
 */
export function useTestServersForUris(): void {
  const minio = minioEnv();
  if (minio !== undefined) {
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_S3: minio.endpoint,
      AWS_ACCESS_KEY_ID: minio.accessKeyId,
      AWS_SECRET_ACCESS_KEY: minio.secretAccessKey,
      AWS_REGION: minio.region,
    });
  }
  const gcs = gcsEnv();
  if (gcs !== undefined) Object.assign(process.env, { STORAGE_EMULATOR_HOST: gcs.endpoint, GOOGLE_CLOUD_PROJECT: gcs.projectId });
}
