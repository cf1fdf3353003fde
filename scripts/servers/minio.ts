/** MinIO built from source (scripts/build-servers.sh) as a single-drive server on loopback. */
import { join } from "node:path";
import { minioEnv } from "../../test/support/servers.ts";
import type { ServerDefinition } from "./definition.ts";
import { answers200, freePort, spawnServer, waitUntilReady } from "./process.ts";
import { ensureS3Bucket } from "./s3-bucket.ts";

const ACCESS_KEY = "opencrate"; // MinIO wants a user of >= 3 characters
const SECRET_KEY = "opencrate-secret"; // and a password of >= 8

export const minio: ServerDefinition = {
  id: "minio",
  buildTarget: "minio",
  endpointVariable: "TEST_MINIO_ENDPOINT",
  executable: (root) => join(root, ".cache", "bin", "minio"),

  async spawn(context) {
    const [port, consolePort] = [await freePort(), await freePort()];
    const args = ["server", join(context.scratchDir, "data"), "--address", `127.0.0.1:${port}`];
    args.push("--console-address", `127.0.0.1:${consolePort}`);
    const env = {
      ...process.env,
      MINIO_ROOT_USER: ACCESS_KEY,
      MINIO_ROOT_PASSWORD: SECRET_KEY,
      MINIO_UPDATE: "off",
      // Skips the "drive is on the root disk" refusal that CI machines and laptops alike would trigger.
      MINIO_CI_CD: "on",
    };
    const server = spawnServer("minio", this.executable(context.root), args, { ...context, env, cwd: context.scratchDir });
    return { process: server, endpoint: `http://127.0.0.1:${port}` };
  },

  async waitReady({ process: server, endpoint }, deadline) {
    // /minio/health/live answers 200 before the object layer is up; /cluster waits for it, IAM and bucket metadata.
    await waitUntilReady(server, "healthy", () => answers200(`${endpoint}/minio/health/cluster`), deadline);
  },

  variables: (endpoint, bucket) => ({
    TEST_MINIO_ENDPOINT: endpoint,
    TEST_MINIO_BUCKET: bucket,
    TEST_MINIO_ACCESS_KEY: ACCESS_KEY,
    TEST_MINIO_SECRET_KEY: SECRET_KEY,
  }),

  ensureBucket: (env, deadline) => ensureS3Bucket(minioEnv(env), deadline),
};
