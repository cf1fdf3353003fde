/**
 * `opencrate pull` from MinIO against a sequential loop of raw `GetObject` calls, in the same run: a snapshot of
 * 1,000 small artifacts, and a snapshot holding one 512 MiB checkpoint. The CLI runs as a user runs it (a
 * subprocess, startup included); the baseline lists the same keys, then fetches them one by one into files.
 */
import { execFile } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { randomUUID } from "node:crypto";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Snapshot } from "../../src/index.ts";
import { S3Backend } from "../../src/backends/s3/index.ts";
import { startFaultProxy } from "../../test/support/fault-proxy.ts";
import { minioEnv, type S3ServerEnv } from "../../test/support/servers.ts";
import { rawClient, s3Options } from "../../test/support/s3.ts";
import { MiB, measurePair, timed, type VariantResult } from "../harness.ts";
import { deleteEverything, writePseudoRandomFile } from "./shared.ts";
import type { Scenario } from "./types.ts";

const run = promisify(execFile);
const cli = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
const SMALL_FILES = 1000;
const SMALL_BYTES = 2048;
const BIG_BYTES = Number(process.env.OPENCRATE_BENCH_PULL_BIG_MB ?? 512) * MiB;
/** Added to every request in the "network" rows: MinIO on loopback answers in about a millisecond, a bucket in
 * the same cloud region in roughly 5-20 ms. */
const ADDED_LATENCY_MS = 10;

export const pull: Scenario = {
  name: "pull",
  title: "Pulling a snapshot from MinIO: opencrate pull vs a sequential loop of raw GetObject",
  unavailable: () => (minioEnv() === undefined ? "no MinIO (TEST_MINIO_ENDPOINT)" : undefined),

  async run({ repeats, scratch }) {
    const server = minioEnv();
    if (server === undefined) throw new Error("TEST_MINIO_ENDPOINT is not set");
    const prefix = `bench-pull-${randomUUID()}`;
    const backend = new S3Backend(s3Options(server, { prefix }));
    const small = await Snapshot.setup({ name: "small", backend, console: false });
    const body = JSON.stringify({ payload: "x".repeat(SMALL_BYTES - 20) });
    const names = Array.from({ length: SMALL_FILES }, (_, i) => `sample_${String(i).padStart(4, "0")}.json`);
    for (let i = 0; i < names.length; i += 32) {
      await Promise.all(names.slice(i, i + 32).map((name) => small.json(name).save(JSON.parse(body) as unknown)));
    }
    await small.close();
    const big = await Snapshot.setup({ name: "big", backend, console: false });
    const source = join(scratch, "big.bin");
    await writePseudoRandomFile(source, BIG_BYTES);
    await big.checkpoint("model.bin").saveFile(source);
    await big.close();
    await rm(source, { force: true });

    const rows: string[] = [];
    for (const latencyMs of [0, ADDED_LATENCY_MS]) {
      for (const [label, snapshotName] of [
        [`${SMALL_FILES} small artifacts`, "small"],
        [`one ${BIG_BYTES / MiB} MiB checkpoint`, "big"],
      ] as const) {
        const args = { scratch, prefix, snapshot: snapshotName, latencyMs: String(latencyMs) };
        const { baseline: raw, ours } = await measurePair(this.name, { baseline: "raw-loop", ours: "pull" }, args, repeats);
        const network = latencyMs === 0 ? "loopback" : `+${latencyMs} ms per request`;
        rows.push(
          `| ${label} | ${network} | ${raw.seconds.toFixed(2)} s | ${ours.seconds.toFixed(2)} s | **${(raw.seconds / ours.seconds).toFixed(2)}×** | ${(ours.bytes / MiB).toFixed(1)} MiB |`,
        );
      }
    }
    await deleteEverything(backend);
    await backend.close();
    return {
      markdown: [
        "| snapshot | network | raw GetObject loop | `opencrate pull` | speed-up | bytes |",
        "|---|---|---|---|---|---|",
        ...rows,
        "",
        "`opencrate pull s3://…/<name>/v0 <dest> --quiet` as a subprocess (Node startup, listing, 8 parallel downloads, " +
          "size and checksum checks included) against `ListObjectsV2` + one `GetObject` after another piped to files. " +
          `"+${ADDED_LATENCY_MS} ms" rows put both behind the project's test proxy delaying every request, as a bucket ` +
          `in the same region would. Median of ${repeats} runs. Targets: ≥ 4× faster on the small files, ≥ 0.95× on the big one.`,
      ].join("\n"),
    };
  },

  async runVariant(variant, args) {
    const server = minioEnv();
    if (server === undefined) throw new Error("TEST_MINIO_ENDPOINT is not set");
    const dest = join(args.scratch ?? "", `dest-${variant}-${process.pid}`);
    const folder = `${args.prefix}/${args.snapshot}/v0/`;
    const latencyMs = Number(args.latencyMs ?? 0);
    const proxy =
      latencyMs > 0
        ? await startFaultProxy({ target: server.endpoint, seed: 1, plan: { decide: () => "stall", stallMs: latencyMs } })
        : undefined;
    const via: S3ServerEnv = proxy === undefined ? server : { ...server, endpoint: proxy.endpoint };
    try {
      const result =
        variant === "pull"
          ? await timed(() => pullWithCli(via, `s3://${server.bucket}/${folder}`, dest))
          : await timed(() => rawLoop(via, folder, dest));
      return { seconds: result.seconds, bytes: result.value, peakRssBytes: result.peakRssBytes } satisfies VariantResult;
    } finally {
      await proxy?.close();
      await rm(dest, { recursive: true, force: true });
    }
  },
};

async function pullWithCli(server: S3ServerEnv, uri: string, dest: string): Promise<number> {
  await run(process.execPath, [cli, "pull", uri.replace(/\/$/, ""), dest, "--quiet"], {
    env: {
      ...process.env,
      AWS_ENDPOINT_URL_S3: server.endpoint,
      AWS_ACCESS_KEY_ID: server.accessKeyId,
      AWS_SECRET_ACCESS_KEY: server.secretAccessKey,
      AWS_REGION: server.region,
    },
    timeout: 20 * 60_000,
  });
  const { readdir, stat } = await import("node:fs/promises");
  let total = 0;
  for (const entry of await readdir(dest, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) total += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return total;
}

async function rawLoop(server: S3ServerEnv, folder: string, dest: string): Promise<number> {
  const { GetObjectCommand, ListObjectsV2Command } = await import("@aws-sdk/client-s3");
  const client = await rawClient(server);
  let total = 0;
  let token: string | undefined;
  try {
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: server.bucket, Prefix: folder, ContinuationToken: token }));
      for (const object of page.Contents ?? []) {
        const key = object.Key ?? "";
        const target = join(dest, key.slice(folder.length));
        await mkdir(dirname(target), { recursive: true });
        const response = await client.send(new GetObjectCommand({ Bucket: server.bucket, Key: key }));
        await pipeline(response.Body as Readable, createWriteStream(target));
        total += object.Size ?? 0;
      }
      token = page.NextContinuationToken;
    } while (token !== undefined);
  } finally {
    client.destroy();
  }
  return total;
}
