/**
 * A 1 GiB checkpoint saved and loaded through opencrate on local disk, against a plain stream copy of the same
 * file (createReadStream → createWriteStream) on the same disk.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { Snapshot } from "../../src/index.ts";
import { LocalBackend } from "../../src/backends/local/index.ts";
import { MiB, mbPerSecond, measurePair, timed, type VariantResult } from "../harness.ts";
import { CHECKPOINT_BYTES, writePseudoRandomFile } from "./shared.ts";
import type { Scenario } from "./types.ts";

const SIZE = CHECKPOINT_BYTES;

export const localCheckpoint: Scenario = {
  name: "local-checkpoint",
  title: `Checkpoint of ${SIZE / MiB} MiB on local disk vs a plain stream copy`,
  unavailable: () => undefined,

  async run({ repeats, scratch }) {
    const source = join(scratch, "checkpoint.bin");
    await writePseudoRandomFile(source, SIZE);
    const args = { source, scratch };
    const rows: string[] = [];
    for (const [label, baseline, ours] of [
      ["save", "copy-in", "save"],
      ["load", "copy-out", "load"],
    ] as const) {
      const { baseline: base, ours: lib } = await measurePair(this.name, { baseline, ours }, args, repeats);
      const baseRate = mbPerSecond(base.bytes, base.seconds);
      const libRate = mbPerSecond(lib.bytes, lib.seconds);
      rows.push(
        `| ${label} | ${baseRate.toFixed(0)} MiB/s | ${libRate.toFixed(0)} MiB/s | **${(libRate / baseRate).toFixed(2)}×** | ` +
          `${(base.peakRssBytes / MiB).toFixed(0)} MiB | ${(lib.peakRssBytes / MiB).toFixed(0)} MiB |`,
      );
    }
    await rm(source, { force: true });
    return {
      markdown: [
        `| operation | plain stream copy | opencrate | ratio | peak RSS (copy) | peak RSS (opencrate) |`,
        `|---|---|---|---|---|---|`,
        ...rows,
        "",
        `save = \`checkpoint(...).saveFile(path)\` (a kernel-side copy — copy_file_range, or a reflink where the file system has them — into a temp file, fsync, rename); load = \`downloadTo(path)\` (streamed into a temp file, renamed). ` +
          `Median of ${repeats} runs, each in a fresh process. Target: ≥ 0.9× the copy, peak RSS < 200 MiB.`,
      ].join("\n"),
    };
  },

  async runVariant(variant, args) {
    const source = args.source ?? "";
    const scratch = args.scratch ?? "";
    const root = join(scratch, `root-${process.pid}`);
    const target = join(scratch, `out-${process.pid}.bin`);
    await mkdir(root, { recursive: true });
    try {
      const snapshot = await Snapshot.setup({ name: "bench", backend: new LocalBackend({ root }), console: false });
      const artifact = snapshot.checkpoint("model.bin");
      let result: { seconds: number; peakRssBytes: number };
      switch (variant) {
        case "copy-in":
        case "copy-out":
          result = await timed(() => pipeline(createReadStream(source), createWriteStream(target)));
          break;
        case "save":
          result = await timed(() => artifact.saveFile(source));
          break;
        case "load":
          await artifact.saveFile(source);
          result = await timed(() => artifact.downloadTo(target));
          break;
        default:
          throw new Error(`unknown variant ${variant}`);
      }
      await snapshot.close();
      const out: VariantResult = { seconds: result.seconds, bytes: (await stat(source)).size, peakRssBytes: result.peakRssBytes };
      return out;
    } finally {
      await rm(root, { recursive: true, force: true });
      await rm(target, { force: true });
    }
  },
};
