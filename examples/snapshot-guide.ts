/**
 * The OpenCrate Snapshot guide ("Artifacts, Logging, and Reproducible Workflows"), end to end, in TypeScript.
 *
 *   npm run demo                                   # local root ./snapshots
 *   npm run demo -- --root s3://bucket/prefix      # any root: s3://, gs://, file://, a path
 *   OPENCRATE_ROOT=gs://bucket/runs npm run demo
 *
 * The Python guide restarts its notebook between sections; here a second `setup` on the same `oc.snapshot`
 * closes the previous run (flushing its logs) and starts the next one, which is what a fresh process would see.
 */
import { posix } from "node:path";
import { parseArgs } from "node:util";
import sharp from "sharp";
import oc from "opencrate";
import type { ArtifactStorage } from "opencrate";
import { readZip, writeZip } from "./support/zip.ts";

const { values: args } = parseArgs({ options: { root: { type: "string" } } });
const root = args.root ?? (process.env.OPENCRATE_ROOT || "snapshots");

function section(title: string): void {
  process.stdout.write(`\n\x1b[1m## ${title}\x1b[0m\n`);
}

/** Prints a stored text file, like the guide's `!cat`. */
async function cat(pathOrUri: string): Promise<void> {
  process.stdout.write(`$ cat ${pathOrUri}\n${await oc.io.text.load(pathOrUri)}`);
}

// ---------------------------------------------------------------------------------------------------------------
section("2(c) Initialising a snapshot");
await oc.snapshot.setup({ name: "snapshot_guide", start: "new", tag: "initial-run", root });
await oc.snapshot.reset({ confirm: true });
await oc.snapshot.setup({ name: "snapshot_guide", start: "new", tag: "initial-run", root });
oc.info(
  `Snapshot with version \`${oc.snapshot.version}\` and name \`${oc.snapshot.versionName}\` has been set up at: \`${oc.snapshot.dirPath}\``,
);
await oc.flush();
await oc.io.showFilesInDir(root, { depth: 4 });

// ---------------------------------------------------------------------------------------------------------------
section("2(d) Resuming an existing snapshot (the notebook restarts here)");
await oc.snapshot.setup({ name: "snapshot_guide", start: "last", tag: "initial-run", root });
oc.info(
  `Resumed Snapshot with version \`${oc.snapshot.version}\` and name \`${oc.snapshot.versionName}\` located at: \`${oc.snapshot.dirPath}\``,
);
await oc.flush();
await oc.io.showFilesInDir(root, { depth: 4 });
const firstVersionDir = oc.snapshot.dirPath;

// ---------------------------------------------------------------------------------------------------------------
section("2(e) Creating a new snapshot version (the notebook restarts here)");
await oc.snapshot.setup({ name: "snapshot_guide", start: "new", tag: "major-update", root });
oc.info(
  `New Snapshot version \`${oc.snapshot.version}\` with name \`${oc.snapshot.versionName}\` has been set up at: \`${oc.snapshot.dirPath}\``,
);
await oc.flush();
await oc.io.showFilesInDir(root, { depth: 4 });

// ---------------------------------------------------------------------------------------------------------------
section("3(c) Logging levels");
oc.info("This is an informational message from the current run.");
oc.debug("Detailed debug information for troubleshooting.");
oc.warning("A potential issue detected, but execution continues.");
oc.error("An error occurred, affecting a part of the pipeline.");
oc.critical("Critical failure: pipeline likely to terminate.");
oc.success("Important step completed successfully!");
try {
  const divisor = BigInt(0);
  console.log(BigInt(10) / divisor); // BigInt division by zero throws, like Python's 10 / 0
} catch (error) {
  oc.exception("Caught a division by zero error.", error);
}
oc.info("All log messages have been dispatched.");
await oc.flush();

section("3(d) The log files");
await oc.io.showFilesInDir(root, { depth: 4 });
await cat(`${firstVersionDir}/snapshot_guide.log`);
await cat(`${firstVersionDir}/snapshot_guide.history.log`);
await cat(`${oc.snapshot.dirPath}/snapshot_guide.log`);

// ---------------------------------------------------------------------------------------------------------------
section("4(b) Saving artifacts of every built-in type");
const greetingArtifact = oc.snapshot.text("greeting.txt");
const dataArtifact = oc.snapshot.json("data.json");
const configArtifact = oc.snapshot.yaml("config.yaml");
const sampleDataArtifact = oc.snapshot.csv("sample_data.csv");
const sineArtifact = oc.snapshot.image("sine_wave_plot.png");
const randomImageArtifact = oc.snapshot.image("random_numpy_image.jpg");
const animationArtifact = oc.snapshot.gif("bouncing_dot.gif");
const audioArtifact = oc.snapshot.audio("high_pitch_sine.wav");
// PyTorch pickles (.pth) are Python-only; safetensors is the portable checkpoint format both languages read.
const checkpointArtifact = oc.snapshot.checkpoint("custom_model_checkpoint.safetensors");

await greetingArtifact.save("Hello, OpenCrate Guide!");
await dataArtifact.save({ array: [10, 20, 30], message: "Sample JSON data" });
await configArtifact.save({ project: "OpenCrate Guide", version: 1.1, settings: { debug_mode: true } });
await sampleDataArtifact.save([
  { col_a: 100, col_b: 300 },
  { col_a: 200, col_b: 400 },
]);
await sineArtifact.save(sinePlotSvg()); // SVG markup is rasterised to PNG
await randomImageArtifact.save({ data: randomBytes(128 * 128 * 3), width: 128, height: 128, channels: 3 });
await animationArtifact.save(bouncingDotFrames(), { delayMs: 80, loop: 0 });

const sampleRate = 44_100;
const seconds = 3;
const frequency = 220;
const amplitude = 0.3 * 32_767;
const samples = new Int16Array(sampleRate * seconds);
for (let i = 0; i < samples.length; i++) samples[i] = Math.round(amplitude * Math.sin((2 * Math.PI * frequency * i) / sampleRate));
await audioArtifact.save({ data: samples, sampleRate });

await checkpointArtifact.save({
  epoch: 5,
  model_state_dict: {
    "0.weight": tensor([10, 20]),
    "0.bias": tensor([10]),
    "2.weight": tensor([1, 10]),
    "2.bias": tensor([1]),
  },
  optimizer_state_dict: { lr: 0.001, betas: [0.9, 0.999], step: 5 },
  loss: 0.015,
  description: "A sample model checkpoint after 5 epochs.",
});

section("4(c) Artifact storage");
await oc.io.showFilesInDir(root, { depth: 4, verbose: true });

section("4(d) Loading artifacts");
oc.info(`Loaded Text: ${await greetingArtifact.load()}`);
oc.info(`Loaded JSON: ${JSON.stringify(await dataArtifact.load())}`);
oc.info(`Loaded YAML Config: ${JSON.stringify(await configArtifact.load())}`);
oc.info(`Loaded CSV Data:\n${formatTable(await sampleDataArtifact.load())}`);
const sinePlot = await sineArtifact.load();
oc.info(`Loaded Sine Wave Plot (shape): (${sinePlot.height}, ${sinePlot.width}, ${sinePlot.channels})`);
const randomImage = await randomImageArtifact.load();
oc.info(`Loaded random image (size): ${randomImage.data.length}`);
oc.info(`Loaded GIF frames: ${(await animationArtifact.load()).length}`);
const audio = await audioArtifact.load();
oc.info(`Loaded audio: ${audio.channels.length} channel(s), ${audio.sampleRate} Hz, ${audio.duration.toFixed(2)} s`);
const checkpoint = await checkpointArtifact.load();
oc.info(`Loaded Checkpoint Keys: ${Object.keys(checkpoint).join(", ")}`);
oc.info(`Loaded Checkpoint Description: ${String(checkpoint.description)}`);

// ---------------------------------------------------------------------------------------------------------------
section("4(e) Artifact properties, backups, listing and deleting");
oc.info(`Artifact Name: ${checkpointArtifact.name}`);
oc.info(`Artifact Type: ${checkpointArtifact.snapshotType}`);
oc.info(`Artifact Exists: ${await checkpointArtifact.exists()}`);
oc.info(`Artifact Path: ${checkpointArtifact.path}`);

await checkpointArtifact.backup("initial-version");
oc.info("Created initial backup with tag 'initial-version'.");
const loadedState = await checkpointArtifact.load();
await checkpointArtifact.save({ ...loadedState, loss: 0.012 }); // simulate a better loss
oc.info("Modified and re-saved the main artifact.");
await checkpointArtifact.backup("improved-loss");
oc.info("Created backup with tag 'improved-loss' after modification.");
await checkpointArtifact.backup();
oc.info("Created a timestamped backup without a specific tag.");
await oc.io.showFilesInDir(posix.dirname(checkpointArtifact.path), { verbose: true });

const allBackups = await checkpointArtifact.listBackups();
oc.info(`All Backups:\n${allBackups.join("\n")}`);
const initialBackup = oc.snapshot.checkpoint("custom_model_checkpoint.backup_initial-version.safetensors");
if (await initialBackup.exists()) {
  oc.info(`Loaded Initial Version Loss: ${String((await initialBackup.load()).loss)}`);
} else {
  oc.warning("Initial version backup not found.");
}

const firstBackup = allBackups[0];
if (firstBackup !== undefined) {
  await oc.snapshot.checkpoint(firstBackup).delete({ confirm: true });
  oc.info(`Deleted backup: ${firstBackup}`);
  await oc.io.showFilesInDir(posix.dirname(checkpointArtifact.path), { verbose: true });
} else {
  oc.warning("No backups to delete.");
}

// ---------------------------------------------------------------------------------------------------------------
section("5(c) Custom handler: bounding boxes, one numbered file per save");

interface BoundingBox {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

class BoundingBoxHandler {
  // Given by opencrate before the first call:
  declare path: string;
  declare verbose: boolean;
  declare storage: ArtifactStorage;

  async save(boxes: BoundingBox[]): Promise<void> {
    const index = (await this.storage.list()).length;
    const fileName = `bounding_boxes_${index}.txt`;
    await this.storage.write(boxes.map((box) => `${box.x1} ${box.y1} ${box.x2} ${box.y2}`).join("\n"), fileName);
    if (this.verbose) oc.success(`Successfully saved ${boxes.length} bounding boxes to ${this.storage.describe(fileName)}`);
  }

  async load(): Promise<BoundingBox[][]> {
    if (this.verbose) oc.info(`Loading bounding boxes from ${this.path}`);
    const files = (await this.storage.list()).sort((a, b) => fileIndex(a) - fileIndex(b));
    const history: BoundingBox[][] = [];
    for (const file of files) {
      const lines = (await this.storage.readText(file)).split("\n").filter((line) => line.trim() !== "");
      history.push(
        lines.map((line) => {
          const [x1 = 0, y1 = 0, x2 = 0, y2 = 0] = line.trim().split(/\s+/).map(Number);
          return { x1, y1, x2, y2 };
        }),
      );
    }
    if (this.verbose) oc.info(`Successfully loaded ${history.length} sets of bounding boxes`);
    return history;
  }

  async reset(): Promise<void> {
    await this.storage.delete("", { recursive: true });
    if (this.verbose) oc.success(`Reset bounding box handler at ${this.path}`);
  }
}

function fileIndex(fileName: string): number {
  return Number(/_(\d+)\.txt$/.exec(fileName)?.[1] ?? Number.NaN);
}

const boundingBoxArtifact = oc.snapshot.artifact("labels", "bounding_boxes", {
  handler: BoundingBoxHandler,
  verbose: true,
});
oc.info(`Custom Bounding Box Artifact Handler initialized at: ${boundingBoxArtifact.path}`);
await boundingBoxArtifact.reset();
await boundingBoxArtifact.save([
  { x1: 10, y1: 20, x2: 150, y2: 200 },
  { x1: 50, y1: 60, x2: 180, y2: 250 },
]);
await boundingBoxArtifact.save([{ x1: 100, y1: 110, x2: 220, y2: 300 }]);
oc.info("Saved multiple sets of bounding boxes using the custom handler.");
await oc.io.showFilesInDir(boundingBoxArtifact.path);
const boxHistory = await boundingBoxArtifact.load();
oc.info(`Loaded Bounding Boxes History: ${JSON.stringify(boxHistory)}`);
oc.info(`First set of boxes: ${JSON.stringify(boxHistory[0])}`);
oc.info(`Second set of boxes: ${JSON.stringify(boxHistory[1])}`);

// ---------------------------------------------------------------------------------------------------------------
section("5(d) Custom handler: a zipped image dataset");

interface RawRgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

class ImageZipHandler {
  declare path: string;
  declare verbose: boolean;
  declare storage: ArtifactStorage;

  async save(images: RawRgbImage[]): Promise<void> {
    if (this.verbose) oc.info(`Saving ${images.length} images to ${this.path}`);
    const entries = await Promise.all(
      images.map(async (image, index) => ({
        name: `image_${String(index).padStart(4, "0")}.png`,
        data: await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } }).png().toBuffer(),
      })),
    );
    await this.storage.write(writeZip(entries));
    if (this.verbose) oc.success(`Successfully saved ${images.length} images to ${this.path}`);
  }

  async load(): Promise<RawRgbImage[]> {
    if (this.verbose) oc.info(`Loading images from ${this.path}`);
    if (!(await this.storage.exists())) {
      if (this.verbose) oc.warning(`Image zip file not found at ${this.path}. Returning empty list.`);
      return [];
    }
    const entries = readZip(await this.storage.read()).sort((a, b) => a.name.localeCompare(b.name));
    const images = await Promise.all(
      entries.map(async (entry) => {
        const { data, info } = await sharp(entry.data).removeAlpha().raw().toBuffer({ resolveWithObject: true });
        return { data: new Uint8Array(data), width: info.width, height: info.height };
      }),
    );
    if (this.verbose) oc.info(`Loaded ${images.length} images from ${this.path}`);
    return images;
  }
}

const imageDatasetArtifact = oc.snapshot.artifact("image_archive", "images_archive.zip", {
  handler: ImageZipHandler,
  verbose: true,
});
oc.info(`Custom Image Archive Artifact Handler initialized at: ${imageDatasetArtifact.path}`);
const randomImages = Array.from({ length: 50 }, () => ({ data: randomBytes(64 * 64 * 3), width: 64, height: 64 }));
await imageDatasetArtifact.save(randomImages);
oc.info("Saved a collection of random images into a zip archive.");
const loadedImages = await imageDatasetArtifact.load();
const firstImage = loadedImages[0];
oc.info(
  `Loaded ${loadedImages.length} images from the archive. First image shape: (${firstImage?.height}, ${firstImage?.width}, 3)`,
);
await oc.io.showFilesInDir(posix.dirname(imageDatasetArtifact.path), { verbose: true });

// ---------------------------------------------------------------------------------------------------------------
section("The whole snapshot tree");
await oc.io.showFilesInDir(root, { depth: 4, verbose: true });
oc.success(`The guide ran end to end; versions: ${(await oc.snapshot.listVersions()).map((v) => v.versionName).join(", ")}`);
await oc.close();

// ---------------------------------------------------------------------------------------------------------------
function tensor(shape: number[]): { dtype: "F32"; shape: number[]; data: Float32Array } {
  const size = shape.reduce((product, dimension) => product * dimension, 1);
  return { dtype: "F32", shape, data: Float32Array.from({ length: size }, () => (Math.random() - 0.5) / 5) };
}

function randomBytes(length: number): Uint8Array {
  return Uint8Array.from({ length }, () => Math.floor(Math.random() * 256));
}

function sinePlotSvg(): string {
  const width = 557;
  const height = 393;
  const points = Array.from({ length: 50 }, (_, i) => {
    const x = 60 + (i / 49) * (width - 90);
    const y = height / 2 - Math.sin((i / 49) * 2 * Math.PI) * (height / 2 - 60);
    return `${x.toFixed(1)},${y.toFixed(1)}`;
  }).join(" ");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
  <rect width="100%" height="100%" fill="white"/>
  <text x="${width / 2}" y="28" font-size="18" text-anchor="middle" font-family="sans-serif">Sine Wave Plot</text>
  <line x1="60" y1="${height - 40}" x2="${width - 30}" y2="${height - 40}" stroke="black"/>
  <line x1="60" y1="40" x2="60" y2="${height - 40}" stroke="black"/>
  <text x="${width / 2}" y="${height - 10}" font-size="13" text-anchor="middle" font-family="sans-serif">X-axis</text>
  <text x="18" y="${height / 2}" font-size="13" text-anchor="middle" font-family="sans-serif" transform="rotate(-90 18 ${height / 2})">Y-axis</text>
  <polyline points="${points}" fill="none" stroke="#1f77b4" stroke-width="2"/>
</svg>`;
}

function bouncingDotFrames(): { data: Uint8Array; width: number; height: number; channels: 3 }[] {
  const size = 32;
  return Array.from({ length: 12 }, (_, frame) => {
    const data = new Uint8Array(size * size * 3).fill(255);
    const cx = 4 + ((frame * 2) % (size - 8));
    const cy = Math.round(size / 2 + Math.sin((frame / 12) * 2 * Math.PI) * 10);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        if ((x - cx) ** 2 + (y - cy) ** 2 <= 9) data.set([220, 40, 40], (y * size + x) * 3);
      }
    }
    return { data, width: size, height: size, channels: 3 };
  });
}

function formatTable(rows: Record<string, unknown>[]): string {
  const columns = [...new Set(rows.flatMap((row) => Object.keys(row)))];
  const widths = columns.map((column) => Math.max(column.length, ...rows.map((row) => String(row[column]).length)));
  const line = (cells: string[]): string => cells.map((cell, i) => cell.padStart(widths[i] ?? 0)).join("  ");
  return [line(columns), ...rows.map((row) => line(columns.map((column) => String(row[column]))))].join("\n");
}
