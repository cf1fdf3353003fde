/** fake-gcs-server built from source (scripts/build-servers.sh), in-memory, plain HTTP on loopback. */
import { join } from "node:path";
import { gcsEnv } from "../../test/support/servers.ts";
import type { ServerDefinition } from "./definition.ts";
import { answers200, freePort, spawnServer, waitUntilReady } from "./process.ts";

export const fakeGcs: ServerDefinition = {
  id: "gcs",
  buildTarget: "fake-gcs-server",
  endpointVariable: "TEST_GCS_ENDPOINT",
  executable: (root) => join(root, ".cache", "bin", "fake-gcs-server"),

  async spawn(context) {
    const port = await freePort();
    const endpoint = `http://127.0.0.1:${port}`;
    // Every flag is explicit: the defaults are https, 0.0.0.0, a filesystem backend at /storage and a public host
    // of storage.googleapis.com. -external-url goes into the resumable-upload Location header.
    const args = ["-scheme", "http", "-host", "127.0.0.1", "-port", String(port), "-backend", "memory"];
    args.push("-public-host", `127.0.0.1:${port}`, "-external-url", endpoint);
    const cwd = context.scratchDir;
    const server = spawnServer("fake-gcs-server", this.executable(context.root), args, { ...context, env: process.env, cwd });
    return { process: server, endpoint };
  },

  async waitReady({ process: server, endpoint }, deadline) {
    await waitUntilReady(server, "healthy", () => answers200(`${endpoint}/_internal/healthcheck`), deadline);
  },

  variables: (endpoint, bucket) => ({ TEST_GCS_ENDPOINT: endpoint, TEST_GCS_BUCKET: bucket }),

  async ensureBucket(env, deadline) {
    const server = gcsEnv(env);
    if (server === undefined) throw new Error("no endpoint variable set");
    const url = `${server.endpoint}/storage/v1/b?project=${encodeURIComponent(server.projectId)}`;
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: server.bucket }),
      signal: AbortSignal.timeout(Math.max(1_000, deadline - Date.now())),
    });
    if (response.ok || response.status === 409) return; // 409: it exists already
    throw new Error(`could not create bucket ${server.bucket} at ${server.endpoint}: ${response.status} ${await response.text()}`);
  },
};
