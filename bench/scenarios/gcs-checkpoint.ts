/**
 * On the test fake-gcs-server, in the same run: a 1 GiB checkpoint saved and loaded through opencrate against raw
 * `file.createWriteStream` (resumable, same chunk size) / `file.createReadStream`.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { randomUUID } from "node:crypto";
import { Snapshot } from "../../src/index.ts";
import { GcsBackend } from "../../src/backends/gcs/index.ts";
import { EMULATOR_REQUEST_TIMEOUT_MS } from "../../test/support/gcs.ts";
import { gcsEnv } from "../../test/support/servers.ts";
import { MiB, measurePair, timed, type VariantResult } from "../harness.ts";
import { CHECKPOINT_BYTES, deleteEverything, RATIO_HEADER, ratioRow, writePseudoRandomFile } from "./shared.ts";
import type { Scenario } from "./types.ts";


export const gcsCheckpoint: Scenario = {
  name: "gcs-checkpoint",
  title: `Checkpoint of ${CHECKPOINT_BYTES / MiB} MiB on fake-gcs-server vs the raw @google-cloud/storage client`,
  unavailable: () => (gcsEnv() === undefined ? "no fake-gcs-server (TEST_GCS_ENDPOINT)" : undefined),

  async run({ repeats, scratch }) {
    const source = join(scratch, "checkpoint.bin");
    await writePseudoRandomFile(source, CHECKPOINT_BYTES);
    const args = { source, scratch, prefix: `bench-${randomUUID()}` };
    const rows: string[] = [];
    for (const [label, baseline, ours] of [
      ["save", "raw-write", "save"],
      ["load", "raw-read", "load"],
    ] as const) {
      const pair = await measurePair(this.name, { baseline, ours }, args, repeats);
      rows.push(ratioRow(label, pair.baseline, pair.ours));
    }
    await rm(source, { force: true });
    return {
      markdown: [
        ...RATIO_HEADER,
        ...rows,
        "",
        "Baselines, each the SDK's plain call: `file.createWriteStream({ resumable: true })` fed from a file stream (one " +
          "streamed request), and `file.createReadStream()` piped to a file. opencrate: `checkpoint(...).saveFile` (a " +
          "resumable session streamed from the file in one request plus a final one with the CRC32C) / `downloadTo`. " +
          `Median of ${repeats} runs, each in a fresh process. Targets: ≥ 0.95× throughput, peak RSS < 256 MiB.`,
      ].join("\n"),
    };
  },

  async runVariant(variant, args) {
    const server = gcsEnv();
    if (server === undefined) throw new Error("TEST_GCS_ENDPOINT is not set");
    const source = args.source ?? "";
    const target = join(args.scratch ?? "", `out-${process.pid}.bin`);
    const bytes = (await stat(source)).size;
    const { Storage } = await import("@google-cloud/storage");
    const storage = new Storage({ apiEndpoint: server.endpoint, projectId: server.projectId });
    const file = storage.bucket(server.bucket).file(`${args.prefix}/raw/${variant}-${process.pid}.bin`);
    const backend = new GcsBackend({
      bucket: server.bucket,
      prefix: `${args.prefix}/lib-${process.pid}`,
      apiEndpoint: server.endpoint,
      projectId: server.projectId,
      // The emulator answers a request of a resumable upload only after hashing the whole session.
      requestTimeoutMs: EMULATOR_REQUEST_TIMEOUT_MS,
    });
    const snapshot = await Snapshot.setup({ name: "bench", backend, console: false });
    const write = (): Promise<void> => pipeline(createReadStream(source), file.createWriteStream({ resumable: true }));
    try {
      switch (variant) {
        case "raw-write":
          return done(await timed(write), bytes);
        case "raw-read":
          await write();
          return done(await timed(() => pipeline(file.createReadStream(), createWriteStream(target))), bytes);
        case "save":
          return done(await timed(() => snapshot.checkpoint("model.bin").saveFile(source)), bytes);
        case "load": {
          const artifact = snapshot.checkpoint("model.bin");
          await artifact.saveFile(source);
          return done(await timed(() => artifact.downloadTo(target)), bytes);
        }
        default:
          throw new Error(`unknown variant ${variant}`);
      }
    } finally {
      await snapshot.close();
      await rm(target, { force: true });
      // fake-gcs-server keeps objects in memory: a run that left its gigabytes behind would exhaust the machine.
      await file.delete({ ignoreNotFound: true });
      await deleteEverything(backend);
      await backend.close();
    }
  },
};

function done(result: { seconds: number; peakRssBytes: number }, bytes: number): VariantResult {
  return { seconds: result.seconds, bytes, peakRssBytes: result.peakRssBytes };
}
