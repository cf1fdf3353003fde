/**
 * The viewer (`opencrate ui`) on the test MinIO: listing a version of 1,000 files, and showing the header of a
 * 1 GiB safetensors checkpoint, each through the viewer's HTTP API against the raw AWS SDK doing the same reads
 * (one ListObjectsV2 walk; two ranged GetObjects). Each variant runs in a fresh process that has loaded the SDK
 * (as the viewer does before it listens); the first request is timed, then five more.
 */
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { Readable } from "node:stream";
import { Snapshot } from "../../src/index.ts";
import { S3Backend } from "../../src/backends/s3/index.ts";
import { encodeHeader } from "../../src/handlers/checkpoint/safetensors.ts";
import { tokenCookieName } from "../../src/ui/security.ts";
import { startViewer } from "../../src/ui/server.ts";
import { mapWithConcurrency } from "../../src/cli/pool.ts";
import { rawClient, s3Options } from "../../test/support/s3.ts";
import { minioEnv } from "../../test/support/servers.ts";
import { buildViewerPage } from "../../scripts/build-ui.ts";
import { measureAlternating, MiB, type VariantResult } from "../harness.ts";
import { CHECKPOINT_BYTES, deleteEverything } from "./shared.ts";
import type { Scenario } from "./types.ts";

const FILES = 1000;
const TENSORS = 256;
const WARM_RUNS = 5;

export const ui: Scenario = {
  name: "ui",
  title: `Viewer: a version of ${FILES.toLocaleString("en")} files and a ${CHECKPOINT_BYTES / MiB} MiB checkpoint's header on MinIO vs the raw AWS SDK`,
  unavailable: () => (minioEnv() === undefined ? "no MinIO (TEST_MINIO_ENDPOINT)" : undefined),

  async run({ repeats, scratch }) {
    const server = minioEnv();
    if (server === undefined) throw new Error("TEST_MINIO_ENDPOINT is not set");
    const prefix = `bench-ui-${randomUUID()}`;
    const backend = new S3Backend(s3Options(server, { prefix }));
    const run = await Snapshot.setup({ name: "bench", backend, console: false });
    run.info("bench");
    await run.close();
    await mapWithConcurrency([...Array(FILES - 1).keys()], 16, (index) =>
      backend.put(`bench/v0/texts/file-${String(index).padStart(4, "0")}.txt`, `file ${index}\n`),
    );
    const tensorBytes = Math.floor(CHECKPOINT_BYTES / TENSORS / 4) * 4;
    const header = encodeHeader(
      Array.from({ length: TENSORS }, (_, index) => ({
        name: `layers.${index}.weight`,
        dtype: "F32" as const,
        shape: [tensorBytes / 4],
        begin: index * tensorBytes,
        end: (index + 1) * tensorBytes,
      })),
      { format: "pt" },
    );
    await backend.putStream("bench/v1/checkpoints/model.safetensors", checkpointBody(header, tensorBytes * TENSORS), {
      size: header.byteLength + tensorBytes * TENSORS,
    });
    const pageDir = join(scratch, "ui-web");
    await buildViewerPage(pageDir);
    const args = { prefix, pageDir };
    const [rawList, uiList, rawHeader, uiHeader] = await measureAlternating(this.name, ["raw-list", "ui-files", "raw-header", "ui-header"], args, repeats);
    await deleteEverything(backend);
    await backend.close();
    const row = (label: string, raw: VariantResult | undefined, viewer: VariantResult | undefined, target: number): string => {
      if (raw === undefined || viewer === undefined) throw new Error("missing runs");
      const warm = (m: VariantResult): number => m.extra?.warmSeconds ?? Number.NaN;
      const ms = (seconds: number): string => `${(seconds * 1000).toFixed(0)} ms`;
      return (
        `| ${label} | ${ms(raw.seconds)} / ${ms(warm(raw))} | ${ms(viewer.seconds)} / ${ms(warm(viewer))} | ` +
        `**${(viewer.seconds / raw.seconds).toFixed(2)}×** / **${(warm(viewer) / warm(raw)).toFixed(2)}×** | ${ms(target)} |`
      );
    };
    return {
      markdown: [
        "| operation | raw SDK (first / warm) | viewer API (first / warm) | ratio (first / warm) | target |",
        "|---|---|---|---|---|",
        row(`files of a version of ${FILES} files`, rawList, uiList, 1),
        row(`header of a ${CHECKPOINT_BYTES / MiB} MiB safetensors checkpoint (${TENSORS} tensors)`, rawHeader, uiHeader, 0.5),
        "",
        "Viewer: `GET /api/names/bench/v0/files` and `GET /api/names/bench/v1/preview/safetensors/…` on a viewer started " +
          "in the same process, over its loopback HTTP (JSON answer included). Baselines: `ListObjectsV2` pages of the " +
          "version's prefix; a `GetObject` of the first 8 bytes and one of the header (the viewer asks for the size and the " +
          "first 256 KiB at once, which hold the header). Both sides load the SDK and open a connection with one small listing " +
          "first (the viewer does so before it listens), and the HTTP client asks the viewer one small question; \"first\" is then a fresh process's first request for the version, " +
          `\"warm\" the median of the ${WARM_RUNS} after it. Median of ${repeats} runs.`,
      ].join("\n"),
    };
  },

  async runVariant(variant, args) {
    const server = minioEnv();
    if (server === undefined) throw new Error("TEST_MINIO_ENDPOINT is not set");
    const prefix = args.prefix ?? "";
    switch (variant) {
      case "raw-list":
      case "raw-header": {
        let loaded: { client: Awaited<ReturnType<typeof rawClient>>; sdk: typeof import("@aws-sdk/client-s3") } | undefined;
        const connect = async (): Promise<NonNullable<typeof loaded>> => (loaded ??= { sdk: await import("@aws-sdk/client-s3"), client: await rawClient(server) });
        try {
          // As the viewer does before it listens: load the SDK and open a connection with one small listing.
          const { client, sdk } = await connect();
          await client.send(new sdk.ListObjectsV2Command({ Bucket: server.bucket, Prefix: `${prefix}/`, MaxKeys: 1 }));
          if (variant === "raw-list") {
            return await timeRuns(async () => {
              const { client, sdk } = await connect();
              const { ListObjectsV2Command } = sdk;
              let token: string | undefined;
              let count = 0;
              do {
                const page = await client.send(new ListObjectsV2Command({ Bucket: server.bucket, Prefix: `${prefix}/bench/v0/`, ContinuationToken: token }));
                count += page.KeyCount ?? 0;
                token = page.NextContinuationToken;
              } while (token !== undefined);
              if (count !== FILES) throw new Error(`listed ${count} objects`);
            });
          }
          const Key = `${prefix}/bench/v1/checkpoints/model.safetensors`;
          return await timeRuns(async () => {
            const { client, sdk } = await connect();
            const { GetObjectCommand } = sdk;
            const first = await client.send(new GetObjectCommand({ Bucket: server.bucket, Key, Range: "bytes=0-7" }));
            const length = Number(Buffer.from(await first.Body!.transformToByteArray()).readBigUInt64LE(0));
            const header = await client.send(new GetObjectCommand({ Bucket: server.bucket, Key, Range: `bytes=8-${7 + length}` }));
            JSON.parse(Buffer.from(await header.Body!.transformToByteArray()).toString("utf8"));
          });
        } finally {
          loaded?.client.destroy();
        }
      }
      case "ui-files":
      case "ui-header": {
        Object.assign(process.env, {
          AWS_ENDPOINT_URL_S3: server.endpoint,
          AWS_ACCESS_KEY_ID: server.accessKeyId,
          AWS_SECRET_ACCESS_KEY: server.secretAccessKey,
          AWS_REGION: server.region,
        });
        const viewer = await startViewer({ root: `s3://${server.bucket}/${prefix}`, assetsDir: args.pageDir ?? "" });
        const path = variant === "ui-files" ? "/api/names/bench/v0/files" : "/api/names/bench/v1/preview/safetensors/checkpoints/model.safetensors";
        try {
          // Node's fetch loads itself on first use; that belongs to this client, not to the viewer.
          // The cookie a browser holds once it opened the printed URL.
          const headers = { Cookie: `${tokenCookieName(viewer.port)}=${viewer.token}` };
          await (await fetch(new URL("/api/info", viewer.url), { headers })).arrayBuffer();
          return await timeRuns(async () => {
            const response = await fetch(new URL(path, viewer.url), { headers });
            if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
            const body = (await response.json()) as { files?: unknown[]; tensors?: unknown[] };
            const count = body.files?.length ?? body.tensors?.length;
            if (count !== (variant === "ui-files" ? FILES : TENSORS)) throw new Error(`${path}: ${count} entries`);
          });
        } finally {
          await viewer.close();
        }
      }
      default:
        throw new Error(`unknown variant ${variant}`);
    }
  },
};

/** The first run's time as `seconds`, the median of the next WARM_RUNS as `extra.warmSeconds`. */
async function timeRuns(work: () => Promise<void>): Promise<VariantResult> {
  const once = async (): Promise<number> => {
    const start = performance.now();
    await work();
    return (performance.now() - start) / 1000;
  };
  const first = await once();
  const warm: number[] = [];
  for (let index = 0; index < WARM_RUNS; index++) warm.push(await once());
  warm.sort((a, b) => a - b);
  return { seconds: first, bytes: 0, peakRssBytes: process.memoryUsage().rss, extra: { warmSeconds: warm[Math.floor(WARM_RUNS / 2)] ?? first } };
}

/** The header, then `dataBytes` of zeros, streamed. */
function checkpointBody(header: Uint8Array, dataBytes: number): Readable {
  const chunk = new Uint8Array(8 * MiB);
  let left = dataBytes;
  let sentHeader = false;
  return new Readable({
    read() {
      if (!sentHeader) {
        sentHeader = true;
        this.push(header);
        return;
      }
      if (left <= 0) {
        this.push(null);
        return;
      }
      const size = Math.min(left, chunk.byteLength);
      left -= size;
      this.push(chunk.subarray(0, size));
    },
  });
}
