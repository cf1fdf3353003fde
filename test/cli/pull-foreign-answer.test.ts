/**
 * `pull` through an endpoint that answers the reads of a version's artifacts with an HTML page (a captive portal, a
 * proxy's login page): MinIO and fake-gcs-server behind the fault proxy, whose `html-page` answers every GET and
 * HEAD of an artifact's object while the listing passes. The pull exits 1 naming the endpoint and what answered,
 * and writes no file under an artifact's name (it would have held the page).
 */
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { join, relative } from "node:path";
import { after, before, describe, it } from "node:test";
import type { StorageBackend } from "../../src/backends/backend.ts";
import { Snapshot } from "../../src/index.ts";
import type { BackendFactory } from "../support/backends.ts";
import { type FaultProxy, startFaultProxy } from "../support/fault-proxy.ts";
import { gcsFactory } from "../support/gcs.ts";
import { minioFactory } from "../support/s3.ts";
import { gcsEnv, minioEnv } from "../support/servers.ts";
import { MODEL_BYTES, removeDir, runCli, tempDir } from "./helpers.ts";

const ARTIFACTS = ["metrics.json", "config.yaml", "model.bin"];

interface Store {
  readonly label: string;
  readonly factory: BackendFactory;
  readonly kind: RegExp;
  readonly target: string | undefined;
  /** The CLI's environment pointing s3:// or gs:// URIs at `endpoint`. */
  readonly env: (endpoint: string) => NodeJS.ProcessEnv;
}

const minio = minioEnv();
const gcs = gcsEnv();
const stores: Store[] = [
  {
    label: "MinIO",
    factory: minioFactory(),
    kind: /did not answer as an S3 store/,
    target: minio?.endpoint,
    env: (endpoint) => ({ AWS_ENDPOINT_URL_S3: endpoint, AWS_ACCESS_KEY_ID: minio?.accessKeyId, AWS_SECRET_ACCESS_KEY: minio?.secretAccessKey, AWS_REGION: minio?.region }),
  },
  {
    label: "fake-gcs-server",
    factory: gcsFactory(),
    kind: /did not answer as a GCS store/,
    target: gcs?.endpoint,
    env: (endpoint) => ({ STORAGE_EMULATOR_HOST: endpoint, GOOGLE_CLOUD_PROJECT: gcs?.projectId }),
  },
];

/** Every file below `folder`, as sorted relative paths. */
async function filesBelow(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => relative(folder, join(entry.parentPath, entry.name)))
    .sort();
}

for (const store of stores) {
  describe(`pull of artifacts answered with an HTML page (${store.label})`, { skip: store.factory.skip }, () => {
    let dir: string;
    let backend: StorageBackend;
    let proxy: FaultProxy;

    before(async () => {
      dir = await tempDir("pull-html");
      backend = await store.factory.make();
      const run = await Snapshot.setup({ name: "train", backend, console: false });
      await run.json("metrics.json").save({ loss: 0.25 });
      await run.yaml("config.yaml").save({ lr: 0.001 });
      await run.checkpoint("model.bin").save(MODEL_BYTES);
      await run.close();
      proxy = await startFaultProxy({
        target: store.target ?? "",
        seed: 1,
        plan: {
          decide: (request) => {
            const path = decodeURIComponent(request.url.split("?")[0] ?? "");
            const artifact = ARTIFACTS.some((name) => path.endsWith(`/${name}`));
            return artifact && (request.method === "GET" || request.method === "HEAD") ? "html-page" : "pass";
          },
        },
      });
    });
    after(async () => {
      await proxy?.close();
      await store.factory.cleanup();
      await removeDir(dir);
    });

    it("exits 1 naming the endpoint, and writes no file under an artifact's name", async () => {
      const dest = join(dir, "dest");
      const root = backend.describe("").replace(/\/+$/, "");
      const result = await runCli(["pull", `${root}/train/v0`, dest], { env: store.env(proxy.endpoint) });
      assert.equal(result.code, 1, `${result.stdout}\n${result.stderr}`);
      assert.ok(proxy.counters.injected["html-page"] >= ARTIFACTS.length, proxy.describe());
      assert.match(result.stderr, store.kind);
      assert.ok(result.stderr.includes(proxy.endpoint), result.stderr);
      for (const key of ["jsons/metrics.json", "yamls/config.yaml", "checkpoints/model.bin"]) assert.ok(result.stderr.includes(`/train/v0/${key} (HTTP 200`), result.stderr);
      // Every failure is TRANSIENT: the pull says to run it again.
      assert.match(result.stderr, /Run the same pull again to finish it\.$/m);
      const written = await filesBelow(dest);
      const pages = written.filter((path) => ARTIFACTS.some((name) => path.endsWith(name)));
      assert.deepEqual(pages, [], `files under artifacts' names: ${written.join(", ")}`);
    });
  });
}
