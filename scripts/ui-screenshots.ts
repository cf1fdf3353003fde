/**
 * Regenerates the screenshots in docs/ui/: seeds a scratch root with the guide's snapshots and a small training
 * run (three versions with metrics, config, checkpoint and logs), opens the viewer on it in Chromium and saves
 * each page. Usage: node scripts/ui-screenshots.ts [out-dir]   (needs Chromium: scripts/ensure-chromium.sh)
 */
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { CheckpointTree } from "../src/handlers/data-types.ts";
import { Snapshot } from "../src/index.ts";
import { startViewer } from "../src/ui/server.ts";
import { builtPage, launchChromium } from "../test/ui/browser.ts";

const run = promisify(execFile);
const out = process.argv[2] ?? fileURLToPath(new URL("../docs/ui/", import.meta.url));
const guide = fileURLToPath(new URL("../examples/snapshot-guide.ts", import.meta.url));
const useSources = fileURLToPath(new URL("./use-sources.ts", import.meta.url));

const scratch = await mkdtemp(join(tmpdir(), "opencrate-ui-shots-"));
process.chdir(scratch);
try {
  await run(process.execPath, ["--import", useSources, guide], { cwd: scratch, env: { ...process.env, NO_COLOR: "1", OPENCRATE_ROOT: "" } });
  await seedTraining();
  const viewer = await startViewer({ root: "snapshots", assetsDir: await builtPage() });
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1360, height: 820 }, deviceScaleFactor: 1 });
    await mkdir(out, { recursive: true });
    // The printed URL sets the token's cookie, then moves on to the address without it.
    await page.goto(viewer.url);
    await page.waitForURL((url) => url.search === "");
    const shot = async (hash: string, ready: string, name: string): Promise<void> => {
      await page.goto(new URL(`/${hash}`, viewer.url).href);
      await page.locator(ready).first().waitFor({ state: "visible", timeout: 30_000 });
      await page.waitForTimeout(400);
      await page.screenshot({ path: join(out, `${name}.png`) });
      console.log(`wrote ${join(out, `${name}.png`)}`);
    };
    await shot("#/", "[data-testid=names] tbody tr", "names");
    await shot("#/n/train", "[data-testid=versions] tbody tr", "versions");
    await shot("#/n/train/v2%3Afinetune", "[data-testid=log-lines] .log-entry", "version-log");
    await shot("#/n/train/v2%3Afinetune/f/csvs/metrics.csv", "[data-testid=csv-plot] canvas", "csv");
    await shot("#/n/train/v2%3Afinetune/f/checkpoints/model.safetensors", "[data-testid=tensors] tbody tr", "checkpoint");
    await shot("#/n/train/v2%3Afinetune/f/yamls/config.yaml", "[data-testid=json-tree]", "yaml");
    await shot("#/n/snapshot_guide/v1%3Amajor-update/f/images/sine_wave_plot.png", "[data-testid=image]", "image");
    await shot("#/n/snapshot_guide/v1%3Amajor-update/f/audios/high_pitch_sine.wav", "[data-testid=audio]", "audio");
    await shot("#/c/train/v1/v2%3Afinetune/f/yamls/config.yaml", "[data-testid=diff] tr", "compare");
  } finally {
    await browser.close();
    await viewer.close();
  }
} finally {
  process.chdir(tmpdir());
  await rm(scratch, { recursive: true, force: true });
}

/** Three runs of "train": metrics that improve, a config that changes, a checkpoint with a backup, varied logs. */
async function seedTraining(): Promise<void> {
  const runs = [
    { tag: "baseline", lr: 0.001, layers: [64, 32], epochs: 60 },
    { tag: undefined, lr: 0.0005, layers: [128, 64], epochs: 90 },
    { tag: "finetune", lr: 0.0002, layers: [128, 64, 32], epochs: 120 },
  ];
  for (const [index, settings] of runs.entries()) {
    const snapshot = await Snapshot.setup({
      name: "train",
      root: "snapshots",
      console: false,
      runId: `job-${4810 + index * 7}`,
      ...(settings.tag === undefined ? {} : { tag: settings.tag }),
    });
    snapshot.info(`Training with lr=${settings.lr}, layers=${settings.layers.join("x")}`);
    snapshot.debug("data loader: 4 workers, batch size 64");
    await snapshot.yaml("config.yaml").save({ lr: settings.lr, layers: settings.layers, optimizer: "adamw", epochs: settings.epochs, seed: 7 });
    const rows: (string | number)[][] = [];
    for (let step = 0; step < settings.epochs; step++) {
      const loss = 2.4 * Math.exp(-step / (18 + index * 8)) + 0.08 + 0.03 * Math.sin(step * 1.7 + index);
      const accuracy = Math.min(0.99, 0.35 + 0.6 * (1 - Math.exp(-step / (20 + index * 6))) + 0.01 * Math.cos(step));
      rows.push([step, Number(loss.toFixed(4)), Number(accuracy.toFixed(4))]);
      if (step % 20 === 0) snapshot.info(`epoch ${step}: loss ${loss.toFixed(4)}, accuracy ${accuracy.toFixed(3)}`);
    }
    snapshot.warning("learning rate warm-up skipped: resuming from a checkpoint");
    if (index === 1) snapshot.error("validation batch 17 had NaN values; skipped");
    await snapshot.csv("metrics.csv").save(rows, { header: ["step", "loss", "accuracy"] });
    const weights = (count: number): Float32Array => Float32Array.from({ length: count }, (_, at) => Math.sin(at + index));
    const checkpoint = snapshot.checkpoint("model.safetensors");
    const model = (): CheckpointTree => ({
      encoder: { weight: { dtype: "F32", shape: [128, 64], data: weights(128 * 64) }, bias: { dtype: "F32", shape: [128], data: weights(128) } },
      head: { weight: { dtype: "F32", shape: [10, 128], data: weights(1280) }, bias: { dtype: "F16", shape: [10], data: new Uint16Array(10) } },
      epoch: settings.epochs,
    });
    await checkpoint.save(model());
    if (index === 2) {
      await checkpoint.backup("before-finetune");
      await checkpoint.save(model());
    }
    await snapshot.json("summary.json").save({ final: rows.at(-1), run: index, notes: ["cosine schedule", "mixed precision"] });
    snapshot.success(`Finished ${settings.epochs} epochs`);
    await snapshot.close();
  }
}
