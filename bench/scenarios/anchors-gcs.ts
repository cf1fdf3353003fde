/**
 * opencrate against rclone on the test fake-gcs-server, each as its own process (wall time and peak RSS of the
 * whole process, start-up included), alternating in the same run: load of one checkpoint (rclone `copyto` vs
 * opencrate `downloadTo`) and save of the same file (rclone `copyto` vs opencrate `saveFile`).
 *
 * rclone speaks to the emulator through its gcs backend with the JSON API endpoint moved there and anonymous access.
 */
import { randomUUID } from "node:crypto";
import { execFile } from "node:child_process";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { GcsBackend } from "../../src/backends/gcs/index.ts";
import { Snapshot } from "../../src/index.ts";
import { gcsOptions } from "../../test/support/gcs.ts";
import { gcsEnv } from "../../test/support/servers.ts";
import { ensureAnchors, freePageReportingNote, gcsEmulatorEnv, measureProcess, oursScript as ours, RCLONE_VERSION, rcloneGcsEnv, rclonePath } from "../anchors/tools.ts";
import { MiB, measureAlternating } from "../harness.ts";
import { chosen, type Group, tableRows } from "./anchors.ts";
import { CHECKPOINT_BYTES, deleteEverything, writePseudoRandomFile } from "./shared.ts";
import type { Scenario } from "./types.ts";

const run = promisify(execFile);
const repository = fileURLToPath(new URL("../../", import.meta.url));

export const anchorsGcs: Scenario = {
  name: "anchors-gcs",
  title: "opencrate vs rclone on fake-gcs-server (whole processes)",
  unavailable: () => (gcsEnv() === undefined ? "no fake-gcs-server (TEST_GCS_ENDPOINT)" : undefined),

  async run({ repeats, scratch }) {
    const server = gcsEnv();
    if (server === undefined) throw new Error("TEST_GCS_ENDPOINT is not set");
    await ensureAnchors();
    await run("npm", ["run", "--silent", "build"], { cwd: repository, timeout: 10 * 60_000 });
    const prefix = `bench-anchors-${randomUUID()}`;
    const backend = new GcsBackend(gcsOptions(server, { prefix }));
    const source = join(scratch, "checkpoint.bin");
    await writePseudoRandomFile(source, CHECKPOINT_BYTES);
    const stored = await Snapshot.setup({ name: "stored", backend, console: false });
    await stored.checkpoint("model.bin").saveFile(source);
    await stored.close();
    const base = { scratch, source, bucket: server.bucket, prefix, bytes: String(CHECKPOINT_BYTES) };
    const groups: Group[] = [
      { label: "load", network: "loopback", variants: ["rclone-load", "opencrate-load"], args: base },
      { label: "save", network: "loopback", variants: ["rclone-save", "opencrate-save"], args: base },
    ];
    const rows: string[] = [];
    try {
      for (const group of groups.filter(chosen)) {
        const measured = await measureAlternating(this.name, group.variants, group.args, repeats);
        rows.push(...tableRows(group, measured));
      }
    } finally {
      await rm(source, { force: true });
      await deleteEverything(backend);
      await backend.close();
    }
    return {
      markdown: [
        "| operation | network | tool | time (median) | best run | opencrate speed vs it (medians) | peak RSS |",
        "|---|---|---|---|---|---|---|",
        ...rows,
        "",
        `Checkpoint: ${CHECKPOINT_BYTES / MiB} MiB, stored once by opencrate (GCS gives its MD5 and CRC32C; opencrate verifies the CRC32C of the whole file, combined from its ranges). ` +
          `Every variant is a separate process timed from spawn to exit, peak RSS from getrusage; variants alternate; time and ratio are medians ` +
          `of ${repeats} runs, beside each tool's best run. rclone ${RCLONE_VERSION} built by \`go install\`, its gcs backend with its defaults, the JSON API ` +
          "endpoint set to the emulator's and anonymous access (`rclone copyto gcs:<bucket>/<key> <file>`, `rclone copyto <file> " +
          "gcs:<bucket>/<key>`). opencrate, called from a script compiled to JavaScript: `Snapshot.open(\"gs://…\").checkpoint(\"model.bin\").downloadTo(file)`, " +
          "`checkpoint(\"model.bin\").saveFile(file)`, with STORAGE_EMULATOR_HOST naming the emulator. The emulator keeps " +
          "objects in memory and hashes every upload whole, so saves measure it as much as the clients." +
          freePageReportingNote(),
      ].join("\n"),
    };
  },

  async runVariant(variant, args) {
    const server = gcsEnv();
    if (server === undefined) throw new Error("TEST_GCS_ENDPOINT is not set");
    const scratch = args.scratch ?? "";
    const target = join(scratch, `out-${variant}-${process.pid}`);
    const bucket = args.bucket ?? "";
    const prefix = args.prefix ?? "";
    const bytes = Number(args.bytes);
    const stored = `${prefix}/stored/v0`;
    const savedUnder = `${prefix}/saves/${variant}-${process.pid}`;
    const rclone = rcloneGcsEnv("gcs", server);
    const emulator = gcsEmulatorEnv(server);
    const commands: Record<string, readonly [readonly string[], NodeJS.ProcessEnv, number]> = {
      "rclone-load": [[rclonePath, "copyto", `gcs:${bucket}/${stored}/checkpoints/model.bin`, target], rclone, bytes],
      "opencrate-load": [[process.execPath, ours, "load", `gs://${bucket}/${stored}`, target], emulator, bytes],
      "rclone-save": [[rclonePath, "copyto", args.source ?? "", `gcs:${bucket}/${savedUnder}/model.bin`], rclone, bytes],
      "opencrate-save": [[process.execPath, ours, "save", `gs://${bucket}/${savedUnder}`, args.source ?? ""], emulator, bytes],
    };
    const command = commands[variant];
    if (command === undefined) throw new Error(`unknown variant ${variant}`);
    try {
      return await measureProcess(...command);
    } finally {
      await rm(target, { recursive: true, force: true });
      // The emulator holds objects in memory: each saved gigabyte goes before the next run.
      if (variant.endsWith("-save")) {
        const saves = new GcsBackend(gcsOptions(server, { prefix: savedUnder }));
        await deleteEverything(saves);
        await saves.close();
      }
    }
  },
};
