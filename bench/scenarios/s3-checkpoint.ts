/**
 * On the test MinIO, in the same run: a 1 GiB checkpoint saved and loaded through opencrate against raw
 * lib-storage `Upload` / `GetObject` with the same part size and concurrency; and a 1 KiB JSON artifact save
 * against a raw `PutObject`.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { randomUUID } from "node:crypto";
import { Snapshot } from "../../src/index.ts";
import { S3Backend } from "../../src/backends/s3/index.ts";
import { minioEnv } from "../../test/support/servers.ts";
import { rawClient, s3Options } from "../../test/support/s3.ts";
import { MiB, measurePair, timed, type VariantResult } from "../harness.ts";
import { CHECKPOINT_BYTES, deleteEverything, RATIO_HEADER, ratioRow, writePseudoRandomFile } from "./shared.ts";
import type { Scenario } from "./types.ts";

const PART_SIZE = 8 * MiB;
const QUEUE_SIZE = 4;
const SMALL_SAVES = 200;

export const s3Checkpoint: Scenario = {
  name: "s3-checkpoint",
  title: `Checkpoint of ${CHECKPOINT_BYTES / MiB} MiB and 1 KiB JSON on MinIO vs the raw AWS SDK`,
  unavailable: () => (minioEnv() === undefined ? "no MinIO (TEST_MINIO_ENDPOINT)" : undefined),

  async run({ repeats, scratch }) {
    const source = join(scratch, "checkpoint.bin");
    await writePseudoRandomFile(source, CHECKPOINT_BYTES);
    const prefix = `bench-${randomUUID()}`;
    const server = minioEnv();
    if (server === undefined) throw new Error("TEST_MINIO_ENDPOINT is not set");
    // The loads read one checkpoint stored once, here: the same object for both sides, and no upload of their own
    // whose aftermath (the server flushing a gigabyte) would land in the timed read.
    const stored = new S3Backend(s3Options(server, { prefix: `${prefix}/stored` }));
    const storedRun = await Snapshot.setup({ name: "bench", backend: stored, console: false });
    await storedRun.checkpoint("model.bin").saveFile(source);
    await storedRun.close();
    const storedKey = await keyEndingWith(stored, "/model.bin");
    const args = { source, scratch, prefix, storedUri: `s3://${server.bucket}/${prefix}/stored/bench/v0`, storedKey: `${prefix}/stored/${storedKey}` };
    const rows: string[] = [];
    for (const [label, baseline, ours] of [
      ["save", "raw-upload", "save"],
      ["load", "raw-get", "load"],
    ] as const) {
      const pair = await measurePair(this.name, { baseline, ours }, args, repeats);
      rows.push(ratioRow(label, pair.baseline, pair.ours));
    }
    const { baseline: rawSmall, ours: libSmall } = await measurePair(this.name, { baseline: "raw-put-small", ours: "save-small" }, args, repeats);
    const latency = (m: VariantResult): number => (m.seconds / SMALL_SAVES) * 1000;
    await rm(source, { force: true });
    await deleteEverything(stored);
    await stored.close();
    return {
      markdown: [
        ...RATIO_HEADER,
        ...rows,
        "",
        "| operation | raw `PutObject` | opencrate `json(...).save` | ratio (latency) |",
        "|---|---|---|---|",
        `| 1 KiB JSON, ${SMALL_SAVES} sequential saves | ${latency(rawSmall).toFixed(2)} ms | ${latency(libSmall).toFixed(2)} ms | **${(latency(libSmall) / latency(rawSmall)).toFixed(2)}×** |`,
        "",
        `Part size ${PART_SIZE / MiB} MiB and ${QUEUE_SIZE} parts in flight on both sides. Baselines: \`@aws-sdk/lib-storage\` ` +
          "`Upload` from a file stream; `GetObject` piped to a file. opencrate: `checkpoint(...).saveFile` / `downloadTo` of " +
          "the snapshot opened by URI. Both loads read the same object, stored once before the runs; every run starts after " +
          "a `sync`, so no run pays for the previous one's writes. " +
          `Median of ${repeats} runs, each in a fresh process. Targets: ≥ 0.95× throughput, peak RSS < 256 MiB; small-save latency ≤ 1.2×.`,
      ].join("\n"),
    };
  },

  async runVariant(variant, args) {
    const server = minioEnv();
    if (server === undefined) throw new Error("TEST_MINIO_ENDPOINT is not set");
    const source = args.source ?? "";
    const target = join(args.scratch ?? "", `out-${process.pid}.bin`);
    const bytes = (await stat(source)).size;
    const key = `${args.prefix}/raw/${variant}-${process.pid}.bin`;
    const { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } = await import("@aws-sdk/client-s3");
    const { Upload } = await import("@aws-sdk/lib-storage");
    const client = await rawClient(server);
    const backend = new S3Backend(s3Options(server, { prefix: `${args.prefix}/lib-${process.pid}`, partSize: PART_SIZE, queueSize: QUEUE_SIZE }));
    const snapshot = await Snapshot.setup({ name: "bench", backend, console: false });
    const upload = (): Promise<unknown> =>
      new Upload({ client, params: { Bucket: server.bucket, Key: key, Body: createReadStream(source) }, partSize: PART_SIZE, queueSize: QUEUE_SIZE }).done();
    const small = Buffer.from(JSON.stringify({ payload: "x".repeat(1000) }));
    try {
      switch (variant) {
        case "raw-upload":
          return done(await timed(upload), bytes);
        case "raw-get":
          return done(
            await timed(async () => {
              const response = await client.send(new GetObjectCommand({ Bucket: server.bucket, Key: args.storedKey }));
              await pipeline(response.Body as Readable, createWriteStream(target));
            }),
            bytes,
          );
        case "save":
          return done(await timed(() => snapshot.checkpoint("model.bin").saveFile(source)), bytes);
        case "load": {
          // Opened by URI as a colleague would; the backend comes from the AWS_* variables.
          Object.assign(process.env, {
            AWS_ENDPOINT_URL_S3: server.endpoint,
            AWS_ACCESS_KEY_ID: server.accessKeyId,
            AWS_SECRET_ACCESS_KEY: server.secretAccessKey,
            AWS_REGION: server.region,
          });
          const artifact = (await Snapshot.open(args.storedUri ?? "")).checkpoint("model.bin");
          return done(await timed(() => artifact.downloadTo(target)), bytes);
        }
        case "raw-put-small":
          await client.send(new PutObjectCommand({ Bucket: server.bucket, Key: `${key}.warm`, Body: small }));
          return done(
            await timed(async () => {
              for (let i = 0; i < SMALL_SAVES; i++) {
                await client.send(new PutObjectCommand({ Bucket: server.bucket, Key: `${key}.json`, Body: small, ContentType: "application/json" }));
              }
            }),
            small.length * SMALL_SAVES,
          );
        case "save-small": {
          const artifact = snapshot.json("small.json");
          const value = JSON.parse(small.toString()) as unknown;
          await artifact.save(value);
          return done(
            await timed(async () => {
              for (let i = 0; i < SMALL_SAVES; i++) await artifact.save(value);
            }),
            small.length * SMALL_SAVES,
          );
        }
        default:
          throw new Error(`unknown variant ${variant}`);
      }
    } finally {
      await snapshot.close();
      await rm(target, { force: true });
      await client.send(new DeleteObjectCommand({ Bucket: server.bucket, Key: key })).catch(() => {});
      await deleteEverything(backend);
      client.destroy();
      await backend.close();
    }
  },
};

async function keyEndingWith(backend: S3Backend, ending: string): Promise<string> {
  for await (const info of backend.list("")) if (info.key.endsWith(ending)) return info.key;
  throw new Error(`no stored object ending with ${ending}`);
}

function done(result: { seconds: number; peakRssBytes: number }, bytes: number): VariantResult {
  return { seconds: result.seconds, bytes, peakRssBytes: result.peakRssBytes };
}
