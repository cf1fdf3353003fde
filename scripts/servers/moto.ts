/** moto's standalone S3 server from the project-local venv (scripts/build-servers.sh). */
import { join } from "node:path";
import { motoEnv } from "../../test/support/servers.ts";
import type { ServerDefinition } from "./definition.ts";
import { answers200, freePort, spawnServer, waitUntilReady } from "./process.ts";
import { ensureS3Bucket } from "./s3-bucket.ts";

export const moto: ServerDefinition = {
  id: "moto",
  buildTarget: "moto",
  endpointVariable: "TEST_MOTO_ENDPOINT",
  executable: (root) => join(root, ".cache", "moto-venv", "bin", "moto_server"),

  async spawn(context) {
    const port = await freePort();
    const env = { ...process.env, PYTHONUNBUFFERED: "1" };
    const args = ["-H", "127.0.0.1", "-p", String(port)];
    const server = spawnServer("moto", this.executable(context.root), args, { ...context, env, cwd: context.scratchDir });
    return { process: server, endpoint: `http://127.0.0.1:${port}` };
  },

  async waitReady({ process: server, endpoint }, deadline) {
    await waitUntilReady(server, "answering", () => answers200(`${endpoint}/moto-api/`), deadline);
  },

  variables: (endpoint, bucket) => ({ TEST_MOTO_ENDPOINT: endpoint, TEST_MOTO_BUCKET: bucket }),

  ensureBucket: (env, deadline) => ensureS3Bucket(motoEnv(env), deadline),
};
