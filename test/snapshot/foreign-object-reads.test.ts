/**
 * A snapshot opened through an endpoint that answers the reads of its artifacts with an HTML page (a captive
 * portal, a proxy's login page): MinIO and fake-gcs-server behind the fault proxy, whose `html-page` answers every
 * GET and HEAD of an artifact's object while listings and version records pass. `load` (JSON, YAML, checkpoint
 * bytes), `openRead` and `downloadTo` fail TRANSIENT naming the endpoint and the artifact, never hand back or store
 * the page, and `downloadTo` leaves no file behind. With the proxy passing everything, the same reads work.
 */
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { StorageBackend } from "../../src/backends/backend.ts";
import { collectBytes } from "../../src/backends/streams.ts";
import { Snapshot } from "../../src/index.ts";
import { rejectsWithCode } from "../conformance/helpers.ts";
import type { BackendFactory } from "../support/backends.ts";
import { type FaultPlan, type FaultProxy, startFaultProxy } from "../support/fault-proxy.ts";
import { gcsFactory } from "../support/gcs.ts";
import { minioFactory } from "../support/s3.ts";
import { gcsEnv, minioEnv } from "../support/servers.ts";

const MODEL = Uint8Array.from({ length: 200_000 }, (_, index) => (index * 7 + 3) % 251);
const ARTIFACTS = ["metrics.json", "config.yaml", "model.bin"];

/** GETs and HEADs of an artifact's object (by its name at the end of the request's path) get `kind`; the rest pass. */
function artifactReads(methods: readonly string[]): FaultPlan {
  return {
    decide: (request) => {
      const path = decodeURIComponent(request.url.split("?")[0] ?? "");
      const artifact = ARTIFACTS.some((name) => path.endsWith(`/${name}`));
      return artifact && methods.includes(request.method) ? "html-page" : "pass";
    },
  };
}

interface Store {
  readonly label: string;
  readonly factory: BackendFactory;
  readonly kind: RegExp;
  /** The target of the proxy, or undefined when the server is not running (the suite is skipped). */
  readonly target: string | undefined;
  /** Points s3:// or gs:// URIs of this process at `endpoint`. */
  readonly useEndpoint: (endpoint: string) => void;
}

const minio = minioEnv();
const gcs = gcsEnv();
const stores: Store[] = [
  {
    label: "MinIO",
    factory: minioFactory(),
    kind: /did not answer as an S3 store/,
    target: minio?.endpoint,
    useEndpoint: (endpoint) => {
      if (minio === undefined) return;
      Object.assign(process.env, { AWS_ENDPOINT_URL_S3: endpoint, AWS_ACCESS_KEY_ID: minio.accessKeyId, AWS_SECRET_ACCESS_KEY: minio.secretAccessKey, AWS_REGION: minio.region });
    },
  },
  {
    label: "fake-gcs-server",
    factory: gcsFactory(),
    kind: /did not answer as a GCS store/,
    target: gcs?.endpoint,
    useEndpoint: (endpoint) => {
      if (gcs !== undefined) Object.assign(process.env, { STORAGE_EMULATOR_HOST: endpoint, GOOGLE_CLOUD_PROJECT: gcs.projectId });
    },
  },
];

for (const store of stores) {
  describe(`artifact reads answered with an HTML page (${store.label})`, { skip: store.factory.skip }, () => {
    let backend: StorageBackend;
    let proxy: FaultProxy;
    let scratch: string;
    let snapshot: Snapshot;

    before(async () => {
      backend = await store.factory.make();
      const run = await Snapshot.setup({ name: "train", backend, console: false });
      await run.json("metrics.json").save({ loss: 0.25 });
      await run.yaml("config.yaml").save({ lr: 0.001 });
      await run.checkpoint("model.bin").save(MODEL);
      await run.close();
      proxy = await startFaultProxy({ target: store.target ?? "", seed: 1 });
      store.useEndpoint(proxy.endpoint);
      snapshot = await Snapshot.open(`${backend.describe("")}/train/v0`);
      scratch = await mkdtemp(join(tmpdir(), "opencrate-html-"));
    });
    after(async () => {
      await proxy?.close();
      await rm(scratch, { recursive: true, force: true });
      await store.factory.cleanup();
    });

    const refused = (error: Error, name: string): void => {
      assert.ok(error.message.includes(proxy.endpoint), error.message);
      assert.match(error.message, store.kind);
      assert.ok(error.message.includes(`/train/v0/`) && error.message.includes(name), error.message);
    };

    it("load and openRead fail TRANSIENT rather than parse or hand back the page", async () => {
      proxy.setPlan(artifactReads(["GET", "HEAD"]));
      refused(await rejectsWithCode(snapshot.json("metrics.json").load(), "TRANSIENT", "json load"), "metrics.json");
      refused(await rejectsWithCode(snapshot.yaml("config.yaml").load(), "TRANSIENT", "yaml load"), "config.yaml");
      refused(await rejectsWithCode(snapshot.checkpoint("model.bin").load(), "TRANSIENT", "checkpoint load"), "model.bin");
      refused(await rejectsWithCode(async () => collectBytes(await snapshot.checkpoint("model.bin").openRead()), "TRANSIENT", "openRead"), "model.bin");
      assert.ok(proxy.counters.injected["html-page"] >= 4, proxy.describe());
    });

    it("downloadTo whose object's metadata and bytes both come from the page fails TRANSIENT, leaving no file", async () => {
      proxy.setPlan(artifactReads(["GET", "HEAD"]));
      refused(await rejectsWithCode(snapshot.json("metrics.json").downloadTo(join(scratch, "metrics.json")), "TRANSIENT", "downloadTo json"), "metrics.json");
      refused(await rejectsWithCode(snapshot.checkpoint("model.bin").downloadTo(join(scratch, "model.bin")), "TRANSIENT", "downloadTo checkpoint"), "model.bin");
      assert.deepEqual(await readdir(scratch), [], "nothing written");
    });

    it("downloadTo whose object's metadata comes from the store and its bytes from the page fails TRANSIENT, leaving no file", async () => {
      proxy.setPlan(artifactReads(["GET"]));
      const before = proxy.counters.injected["html-page"];
      refused(await rejectsWithCode(snapshot.json("metrics.json").downloadTo(join(scratch, "metrics.json")), "TRANSIENT", "downloadTo json"), "metrics.json");
      refused(await rejectsWithCode(snapshot.checkpoint("model.bin").downloadTo(join(scratch, "model.bin")), "TRANSIENT", "downloadTo checkpoint"), "model.bin");
      assert.deepEqual(await readdir(scratch), [], "nothing written");
      assert.ok(proxy.counters.injected["html-page"] > before, proxy.describe());
    });

    it("the same reads through the proxy work when it passes everything", async () => {
      proxy.setPlan({});
      assert.deepEqual(await snapshot.json("metrics.json").load(), { loss: 0.25 });
      assert.deepEqual(await snapshot.yaml("config.yaml").load(), { lr: 0.001 });
      assert.deepEqual(await snapshot.checkpoint("model.bin").load(), MODEL);
      await snapshot.checkpoint("model.bin").downloadTo(join(scratch, "model.bin"));
      assert.deepEqual(await readdir(scratch), ["model.bin"]);
    });
  });
}
