/**
 * opencrate against the tools users pick instead, on the test MinIO, each as its own process (wall time and peak
 * RSS of the whole process, start-up included), alternating in the same run:
 * - load of one checkpoint: rclone `copyto`, boto3 `download_file`, one plain GetObject, opencrate `downloadTo`;
 * - save of the same file: rclone `copyto`, boto3 `upload_file`, lib-storage `Upload`, opencrate `saveFile`;
 * - `opencrate pull` vs `rclone copy`: 1,000 small files (on loopback and +10 ms per request) and one checkpoint;
 * - a distant bucket: toxiproxy adds 10 ms and caps each connection at 50 MiB/s.
 */
import { randomUUID } from "node:crypto";
import { execFile } from "node:child_process";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { S3Backend } from "../../src/backends/s3/index.ts";
import { Snapshot } from "../../src/index.ts";
import { startFaultProxy } from "../../test/support/fault-proxy.ts";
import { s3Options } from "../../test/support/s3.ts";
import { minioEnv, type S3ServerEnv } from "../../test/support/servers.ts";
import { startNetworkFaults } from "../../test/support/toxiproxy.ts";
import {
  BOTO3_SCRIPT,
  BOTO3_VERSION,
  boto3Env,
  ensureAnchors,
  freePageReportingNote,
  measureProcess,
  oursScript as ours,
  pythonPath,
  RCLONE_VERSION,
  rcloneS3Env,
  rclonePath,
} from "../anchors/tools.ts";
import { MiB, measureAlternating, type Measurement } from "../harness.ts";
import { CHECKPOINT_BYTES, deleteEverything, writePseudoRandomFile } from "./shared.ts";
import type { Scenario } from "./types.ts";

const run = promisify(execFile);
const repository = fileURLToPath(new URL("../../", import.meta.url));
const cli = fileURLToPath(new URL("../../dist/bin/opencrate.js", import.meta.url));
const SMALL_FILES = 1000;
const SMALL_BYTES = 1536;
const ADDED_LATENCY_MS = 10;
const DISTANT_RATE_KIB_PER_S = 50 * 1024;

export interface Group {
  readonly label: string;
  readonly variants: readonly string[];
  readonly network: string;
  readonly args: Readonly<Record<string, string>>;
}

export const anchors: Scenario = {
  name: "anchors",
  title: "opencrate vs rclone, boto3 and the raw AWS SDK on MinIO (whole processes)",
  unavailable: () => (minioEnv() === undefined ? "no MinIO (TEST_MINIO_ENDPOINT)" : undefined),

  async run({ repeats, scratch }) {
    const server = minioEnv();
    if (server === undefined) throw new Error("TEST_MINIO_ENDPOINT is not set");
    await ensureAnchors();
    await run("npm", ["run", "--silent", "build"], { cwd: repository, timeout: 10 * 60_000 });
    const prefix = `bench-anchors-${randomUUID()}`;
    const backend = new S3Backend(s3Options(server, { prefix }));
    const source = join(scratch, "checkpoint.bin");
    await writePseudoRandomFile(source, CHECKPOINT_BYTES);
    const stored = await Snapshot.setup({ name: "stored", backend, console: false });
    await stored.checkpoint("model.bin").saveFile(source);
    await stored.close();
    const small = await Snapshot.setup({ name: "small", backend, console: false });
    const names = Array.from({ length: SMALL_FILES }, (_, i) => `sample_${String(i).padStart(4, "0")}.json`);
    for (let i = 0; i < names.length; i += 32) {
      await Promise.all(names.slice(i, i + 32).map((name) => small.json(name).save({ payload: "x".repeat(SMALL_BYTES - 16) })));
    }
    await small.close();
    const base = { scratch, source, bucket: server.bucket, prefix, bytes: String(CHECKPOINT_BYTES) };

    const latencyProxy = await startFaultProxy({ target: server.endpoint, seed: 1, plan: { decide: () => "stall", stallMs: ADDED_LATENCY_MS } });
    const distant = await startNetworkFaults(server.endpoint, "TEST_MINIO_UPSTREAM").catch((error: unknown) => error as Error);
    const groups: Group[] = [
      { label: "load", network: "loopback", variants: ["rclone-load", "boto3-load", "raw-get", "opencrate-load"], args: { ...base, endpoint: server.endpoint } },
      { label: "save", network: "loopback", variants: ["rclone-save", "boto3-save", "lib-storage-save", "opencrate-save"], args: { ...base, endpoint: server.endpoint } },
      { label: `pull ${SMALL_FILES} small files`, network: "loopback", variants: ["rclone-pull-small", "opencrate-pull-small"], args: { ...base, endpoint: server.endpoint } },
      {
        label: `pull ${SMALL_FILES} small files`,
        network: `+${ADDED_LATENCY_MS} ms per request`,
        variants: ["rclone-pull-small", "opencrate-pull-small"],
        args: { ...base, endpoint: latencyProxy.endpoint },
      },
      { label: "pull one checkpoint", network: "loopback", variants: ["rclone-pull-big", "opencrate-pull-big"], args: { ...base, endpoint: server.endpoint } },
    ];
    if (!(distant instanceof Error)) {
      await distant.add({ type: "latency", stream: "downstream", attributes: { latency: ADDED_LATENCY_MS, jitter: 0 } });
      await distant.add({ type: "bandwidth", stream: "downstream", attributes: { rate: DISTANT_RATE_KIB_PER_S } });
      groups.push({
        label: "load",
        network: `distant: +${ADDED_LATENCY_MS} ms, 50 MiB/s per connection`,
        variants: ["rclone-load", "raw-get", "opencrate-load"],
        args: { ...base, endpoint: distant.endpoint },
      });
    }

    const rows: string[] = [];
    try {
      for (const group of groups.filter(chosen)) {
        const measured = await measureAlternating(this.name, group.variants, group.args, repeats);
        rows.push(...tableRows(group, measured));
      }
    } finally {
      await latencyProxy.close();
      if (!(distant instanceof Error)) await distant.close();
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
        `Checkpoint: ${CHECKPOINT_BYTES / MiB} MiB, stored once by opencrate (a multipart object, so S3 gives no whole-object ` +
          `checksum: the size is verified); small files: ${SMALL_FILES} JSON artifacts of ${SMALL_BYTES} bytes. Every variant is ` +
          `a separate process timed from spawn to exit, peak RSS from getrusage; variants alternate; time and ratio are medians of ${repeats} runs, beside each tool's best run. ` +
          `rclone ${RCLONE_VERSION} built by \`go install\` with its defaults (\`rclone copyto minio:<bucket>/<key> <file>\`, ` +
          "`rclone copyto <file> minio:<bucket>/<key>`, `rclone copy --transfers 16 minio:<bucket>/<folder> <dest>` for the " +
          `small files, \`rclone copy\` for the checkpoint); boto3 ${BOTO3_VERSION} \`download_file\` / \`upload_file\` with its ` +
          "defaults; raw GetObject: one `GetObjectCommand` piped to a file; lib-storage: `Upload` with its defaults. opencrate, " +
          "the built package (`dist/`) called from a script compiled to JavaScript: " +
          "`Snapshot.open(uri).checkpoint(\"model.bin\").downloadTo(file)`, `checkpoint(\"model.bin\").saveFile(file)`, " +
          "`opencrate pull <uri> <dest> --quiet` (the built CLI, with its default of 32 files at once). " +
          `"+${ADDED_LATENCY_MS} ms per request": the test fault proxy delays each request. "distant": toxiproxy adds ` +
          `${ADDED_LATENCY_MS} ms and caps every connection at 50 MiB/s, as one TCP stream to a cloud store is limited.` +
          (distant instanceof Error ? ` The distant rows are missing: toxiproxy did not start (${distant.message}).` : "") +
          freePageReportingNote(),
      ].join("\n"),
    };
  },

  async runVariant(variant, args) {
    const server = minioEnv();
    if (server === undefined) throw new Error("TEST_MINIO_ENDPOINT is not set");
    const via: S3ServerEnv = { ...server, endpoint: args.endpoint ?? server.endpoint };
    const scratch = args.scratch ?? "";
    const target = join(scratch, `out-${variant}-${process.pid}`);
    const bucket = args.bucket ?? "";
    const prefix = args.prefix ?? "";
    const bytes = Number(args.bytes);
    const stored = `${prefix}/stored/v0`;
    const storedKey = `${stored}/checkpoints/model.bin`;
    const smallFolder = `${prefix}/small/v0`;
    const saveKey = `${prefix}/saves/${variant}-${process.pid}/model.bin`;
    const rclone = rcloneS3Env("minio", via);
    const boto3 = boto3Env(via);
    const node = (argv: readonly string[]): readonly string[] => [process.execPath, ...argv];
    const s3 = (key: string): string => `s3://${bucket}/${key}`;
    const commands: Record<string, readonly [readonly string[], NodeJS.ProcessEnv, number]> = {
      "rclone-load": [[rclonePath, "copyto", `minio:${bucket}/${storedKey}`, target], rclone, bytes],
      "boto3-load": [[pythonPath, "-c", BOTO3_SCRIPT, "download", bucket, storedKey, target], boto3, bytes],
      "raw-get": [node([ours, "raw-get", bucket, storedKey, target]), boto3, bytes],
      "opencrate-load": [node([ours, "load", s3(stored), target]), boto3, bytes],
      "rclone-save": [[rclonePath, "copyto", args.source ?? "", `minio:${bucket}/${saveKey}`], rclone, bytes],
      "boto3-save": [[pythonPath, "-c", BOTO3_SCRIPT, "upload", args.source ?? "", bucket, saveKey], boto3, bytes],
      "lib-storage-save": [node([ours, "lib-storage", args.source ?? "", bucket, saveKey]), boto3, bytes],
      "opencrate-save": [node([ours, "save", s3(`${prefix}/saves/${variant}-${process.pid}`), args.source ?? ""]), boto3, bytes],
      "rclone-pull-small": [[rclonePath, "copy", "--transfers", "16", `minio:${bucket}/${smallFolder}`, target], rclone, SMALL_FILES * SMALL_BYTES],
      "opencrate-pull-small": [node([cli, "pull", s3(smallFolder), target, "--quiet"]), boto3, SMALL_FILES * SMALL_BYTES],
      "rclone-pull-big": [[rclonePath, "copy", `minio:${bucket}/${stored}`, target], rclone, bytes],
      "opencrate-pull-big": [node([cli, "pull", s3(stored), target, "--quiet"]), boto3, bytes],
    };
    const command = commands[variant];
    if (command === undefined) throw new Error(`unknown variant ${variant}`);
    try {
      return await measureProcess(...command);
    } finally {
      // Folders of small files stay until the scratch folder goes: on ext4 without a journal, every file created
      // within minutes of a deletion first scans past the recently freed inodes, so deleting 1,000 files between
      // runs made each next run's file creation slower, in whichever tool ran next (0.1 s of system time became 0.9 s).
      if (!variant.endsWith("-pull-small")) await rm(target, { recursive: true, force: true });
    }
  },
};

/**
 * Whether a group is measured: all of them, unless OPENCRATE_BENCH_GROUPS lists words (comma-separated) of which one
 * must be in the group's operation or network ("pull,distant").
 */
export function chosen(group: Group): boolean {
  const words = (process.env.OPENCRATE_BENCH_GROUPS ?? "").split(",").map((word) => word.trim().toLowerCase()).filter((word) => word !== "");
  const text = `${group.label} ${group.network}`.toLowerCase();
  return words.length === 0 || words.some((word) => text.includes(word));
}

/** One row per tool of a group: opencrate's own row first, then each anchor with opencrate's speed relative to it. */
export function tableRows(group: Group, measured: readonly Measurement[]): string[] {
  const index = group.variants.findIndex((variant) => variant.startsWith("opencrate"));
  const mine = measured[index];
  if (mine === undefined) throw new Error(`no opencrate run in ${group.label}`);
  const row = (variant: string, m: Measurement, ratio: string): string =>
    `| ${group.label} | ${group.network} | ${variant} | ${m.seconds.toFixed(2)} s | ${Math.min(...m.runSeconds).toFixed(2)} s | ${ratio} | ${(m.peakRssBytes / MiB).toFixed(0)} MiB |`;
  return [
    row("**opencrate**", mine, ""),
    ...group.variants.flatMap((variant, i) => {
      const other = measured[i];
      return i === index || other === undefined ? [] : [row(variant, other, `**${(other.seconds / mine.seconds).toFixed(2)}×**`)];
    }),
  ];
}
