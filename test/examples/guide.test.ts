/**
 * The seed guide (examples/snapshot-guide.ts) end to end, as `npm run demo` runs it: on the local default root,
 * on MinIO through an s3:// root, and on fake-gcs-server through a gs:// root.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { gcsEnv, minioEnv, skipUnless } from "../support/servers.ts";

const run = promisify(execFile);
const guide = fileURLToPath(new URL("../../examples/snapshot-guide.ts", import.meta.url));
const useSources = fileURLToPath(new URL("../../scripts/use-sources.ts", import.meta.url));

async function runGuide(cwd: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const { stdout } = await run(process.execPath, ["--import", useSources, guide, ...args], {
    cwd,
    env: { ...process.env, NO_COLOR: "1", ...env },
    timeout: 240_000,
    maxBuffer: 32 * 1024 * 1024,
  });
  return stdout;
}

function assertGuideOutput(stdout: string, dirPrefix: string): void {
  assert.match(stdout, new RegExp(`INFO {6}Snapshot with version \`0\` and name \`v0:initial-run\` has been set up at: \`${escape(dirPrefix)}/snapshot_guide/v0:initial-run\``));
  assert.match(stdout, /INFO {6}Resumed Snapshot with version `0` and name `v0:initial-run`/);
  assert.match(stdout, /INFO {6}New Snapshot version `1` with name `v1:major-update`/);
  assert.match(stdout, /ERROR {5}Caught a division by zero error\.\nRangeError: Division by zero/);
  assert.match(stdout, /INFO {6}Loaded CSV Data:\ncol_a {2}col_b\n {2}100 {4}300\n {2}200 {4}400/);
  assert.match(stdout, /INFO {6}Loaded Checkpoint Keys: epoch, model_state_dict, optimizer_state_dict, loss, description/);
  assert.match(stdout, /INFO {6}Loaded Initial Version Loss: 0\.015/);
  assert.match(stdout, /All Backups:\ncustom_model_checkpoint\.backup_initial-version\.safetensors\ncustom_model_checkpoint\.backup_improved-loss\.safetensors\ncustom_model_checkpoint\.backup_\d\d:\d\d:\d\d_\d\d-\w{3}-\d{4}\.safetensors/);
  assert.match(stdout, /INFO {6}Loaded Bounding Boxes History: \[\[\{"x1":10,"y1":20,"x2":150,"y2":200\},\{"x1":50,"y1":60,"x2":180,"y2":250\}\],\[\{"x1":100,"y1":110,"x2":220,"y2":300\}\]\]/);
  assert.match(stdout, /Loaded 50 images from the archive\. First image shape: \(64, 64, 3\)/);
  assert.match(stdout, /SUCCESS {3}The guide ran end to end; versions: v0:initial-run, v1:major-update/);
  for (const file of ["high_pitch_sine.wav", "sample_data.csv", "bouncing_dot.gif", "random_numpy_image.jpg", "sine_wave_plot.png", "data.json", "greeting.txt", "config.yaml", "images_archive.zip"]) {
    assert.ok(stdout.includes(file), file);
  }
}

describe("the snapshot guide", () => {
  it("runs end to end on the local default root", async () => {
    const cwd = await mkdtemp(join(tmpdir(), "opencrate-guide-"));
    try {
      const stdout = await runGuide(cwd, [], { OPENCRATE_ROOT: "" });
      assertGuideOutput(stdout, "snapshots");
      const history = await readFile(join(cwd, "snapshots/snapshot_guide/v0:initial-run/snapshot_guide.history.log"), "utf8");
      assert.match(history, /INFO {5}Snapshot with version `0`[^\n]*\n[^\n]*INFO {5}Resumed Snapshot with version `0`/);
    } finally {
      await rm(cwd, { recursive: true, force: true });
    }
  });

  const minio = minioEnv();
  it("runs end to end on MinIO", { skip: skipUnless(minio, "MinIO", "TEST_MINIO_ENDPOINT") }, async () => {
    if (minio === undefined) return;
    const root = `s3://${minio.bucket}/guide-${randomUUID()}`;
    const stdout = await runGuide(tmpdir(), ["--root", root], {
      AWS_ENDPOINT_URL_S3: minio.endpoint,
      AWS_ACCESS_KEY_ID: minio.accessKeyId,
      AWS_SECRET_ACCESS_KEY: minio.secretAccessKey,
      AWS_REGION: minio.region,
    });
    assertGuideOutput(stdout, root);
  });

  const gcs = gcsEnv();
  it("runs end to end on fake-gcs-server", { skip: skipUnless(gcs, "fake-gcs-server", "TEST_GCS_ENDPOINT") }, async () => {
    if (gcs === undefined) return;
    const root = `gs://${gcs.bucket}/guide-${randomUUID()}`;
    const stdout = await runGuide(tmpdir(), ["--root", root], {
      STORAGE_EMULATOR_HOST: gcs.endpoint,
      GOOGLE_CLOUD_PROJECT: gcs.projectId,
    });
    assertGuideOutput(stdout, root);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
