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
import { MiB, measureAlternating, timed, type VariantResult } from "../harness.ts";
import { deleteEverything, writePseudoRandomFile } from "./shared.ts";
import type { Scenario } from "./types.ts";

const run = promisify(execFile);
/** The CLI as the package's `bin` runs it: compiled to dist/ (built at the start of the scenario). */
const cli = fileURLToPath(new URL("../../dist/bin/opencrate.js", import.meta.url));
const repository = fileURLToPath(new URL("../../", import.meta.url));
const SMALL_FILES = 1000;
const SMALL_BYTES = 2048;
const BIG_BYTES = Number(process.env.OPENCRATE_BENCH_PULL_BIG_MB ?? 512) * MiB;
/** Added to every request in the "network" rows: MinIO on loopback answers in about a millisecond, a bucket in
 * the same cloud region in roughly 5-20 ms. */
const ADDED_LATENCY_MS = 10;
/** The reference variant's parallelism: what pull uses by default. */
const PARALLEL_GETS = 16;

export const pull: Scenario = {
  name: "pull",
  title: "Pulling a snapshot from MinIO: opencrate pull vs a sequential loop of raw GetObject",
  unavailable: () => (minioEnv() === undefined ? "no MinIO (TEST_MINIO_ENDPOINT)" : undefined),

  async run({ repeats, scratch }) {
    const server = minioEnv();
    if (server === undefined) throw new Error("TEST_MINIO_ENDPOINT is not set");
    await run("npm", ["run", "--silent", "build"], { cwd: repository, timeout: 10 * 60_000 });
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
        const [raw, ours, rawParallel] = await measureAlternating(this.name, ["raw-loop", "pull", "raw-parallel"], args, repeats);
        if (raw === undefined || ours === undefined || rawParallel === undefined) throw new Error("missing pull measurements");
        const network = latencyMs === 0 ? "loopback" : `+${latencyMs} ms per request`;
        rows.push(
          `| ${label} | ${network} | ${raw.seconds.toFixed(2)} s | ${ours.seconds.toFixed(2)} s | **${(raw.seconds / ours.seconds).toFixed(2)}×** | ` +
            `${rawParallel.seconds.toFixed(2)} s (${(raw.seconds / rawParallel.seconds).toFixed(2)}×) | ${(ours.bytes / MiB).toFixed(1)} MiB |`,
        );
      }
    }
    await deleteEverything(backend);
    await backend.close();
    return {
      markdown: [
        `| snapshot | network | raw GetObject loop | \`opencrate pull\` | speed-up | reference: raw GetObject, ${PARALLEL_GETS} in flight, in-process | bytes |`,
        "|---|---|---|---|---|---|---|",
        ...rows,
        "",
        "`opencrate pull s3://…/<name>/v0 <dest> --quiet` as a subprocess (the built `bin`; Node startup, listing, 16 parallel downloads, " +
          "size and checksum checks included) against `ListObjectsV2` + one `GetObject` after another piped to files. " +
          `"+${ADDED_LATENCY_MS} ms" rows put both behind the project's test proxy delaying every request, as a bucket ` +
          `in the same region would. Median of ${repeats} runs. Targets: ≥ 4× faster on the small files, ≥ 0.95× on the big one. ` +
          `The reference column is the most any client of the SDK gets from parallel downloads here: the same loop with ` +
          `${PARALLEL_GETS} GetObject calls in flight, in the bench's own process (no start-up, no checks, no temp files).`,
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
          : await timed(() => rawLoop(via, folder, dest, variant === "raw-parallel" ? PARALLEL_GETS : 1));
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

async function rawLoop(server: S3ServerEnv, folder: string, dest: string, inFlight: number): Promise<number> {
  const { GetObjectCommand, ListObjectsV2Command } = await import("@aws-sdk/client-s3");
  const client = await rawClient(server);
  const objects: { key: string; size: number }[] = [];
  let token: string | undefined;
  try {
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: server.bucket, Prefix: folder, ContinuationToken: token }));
      for (const object of page.Contents ?? []) objects.push({ key: object.Key ?? "", size: object.Size ?? 0 });
      token = page.NextContinuationToken;
    } while (token !== undefined);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < objects.length) {
        const object = objects[next++];
        if (object === undefined) return;
        const target = join(dest, object.key.slice(folder.length));
        await mkdir(dirname(target), { recursive: true });
        const response = await client.send(new GetObjectCommand({ Bucket: server.bucket, Key: object.key }));
        await pipeline(response.Body as Readable, createWriteStream(target));
      }
    };
    await Promise.all(Array.from({ length: inFlight }, worker));
  } finally {
    client.destroy();
  }
  return objects.reduce((sum, object) => sum + object.size, 0);
}
