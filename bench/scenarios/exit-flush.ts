/**
 * The exit flush on MinIO: a run holding LINES buffered log lines calls process.exit(0); how long the `exit`
 * listener blocks until the log-writer thread has stored them (and the final run record), against one raw
 * PutObject of the same bytes through the same backend (a warm client).
 */
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { S3Backend } from "../../src/backends/s3/index.ts";
import { s3Options } from "../../test/support/s3.ts";
import { minioEnv } from "../../test/support/servers.ts";
import { measurePair, timed, type VariantResult } from "../harness.ts";
import { deleteEverything } from "./shared.ts";
import type { Scenario } from "./types.ts";

const LINES = Number(process.env.OPENCRATE_BENCH_EXIT_LINES ?? 10_000);
const RUN = fileURLToPath(new URL("../exit-flush-run.ts", import.meta.url));
const run = promisify(execFile);

export const exitFlush: Scenario = {
  name: "exit-flush",
  title: `Exit flush of ${LINES.toLocaleString("en-US")} buffered log lines to MinIO at process.exit()`,
  unavailable: () => (minioEnv() === undefined ? "no MinIO (TEST_MINIO_ENDPOINT)" : undefined),

  async run({ repeats }) {
    const prefix = `bench-${randomUUID()}`;
    const { baseline, ours } = await measurePair(this.name, { baseline: "raw-put", ours: "exit-flush" }, { prefix }, repeats);
    const server = minioEnv();
    if (server !== undefined) {
      const cleaner = new S3Backend(s3Options(server, { prefix }));
      await deleteEverything(cleaner);
      await cleaner.close();
    }
    const ms = (seconds: number): string => (seconds * 1000).toFixed(0);
    return {
      markdown: [
        "| what | time | bytes |",
        "|---|---|---|",
        `| raw \`PutObject\` of the same lines (warm client) | ${ms(baseline.seconds)} ms | ${(baseline.bytes / 1024).toFixed(0)} KiB |`,
        `| opencrate exit flush at \`process.exit(0)\` (\`.log\` + run record) | ${ms(ours.seconds)} ms | ${(ours.bytes / 1024).toFixed(0)} KiB |`,
        `| ratio | **${(ours.seconds / baseline.seconds).toFixed(2)}×** | |`,
        "",
        `${LINES.toLocaleString("en-US")} \`info\` lines logged with the flush interval at an hour, so all of them wait for the exit. ` +
          "opencrate's time runs from `process.exit(0)` to the end of its `exit` listener, which blocks the main thread " +
          "(`Atomics.wait`) until the log-writer thread has appended the lines to `.log` and written the final run record; " +
          `target under 1 s. Median of ${repeats} runs, each in a fresh process.`,
      ].join("\n"),
    };
  },

  async runVariant(variant, args) {
    const server = minioEnv();
    if (server === undefined) throw new Error("TEST_MINIO_ENDPOINT is not set");
    const prefix = `${args.prefix ?? "bench"}/${variant}-${randomUUID()}`;
    if (variant === "exit-flush") {
      const { stdout } = await run(process.execPath, [RUN, prefix, String(LINES)], { env: process.env, timeout: 120_000 });
      const elapsed = Number(/exit-flush-ms ([\d.]+)/.exec(stdout)?.[1] ?? Number.NaN);
      const backend = new S3Backend(s3Options(server, { prefix }));
      const log = Buffer.from(await backend.get("bench/v0/bench.log")).toString("utf8");
      await backend.close();
      const stored = log.split("\n").filter((line) => line.includes(" loss ")).length;
      if (stored !== LINES || Number.isNaN(elapsed)) throw new Error(`the exit flush stored ${stored} of ${LINES} lines`);
      return { seconds: elapsed / 1000, bytes: Buffer.byteLength(log), peakRssBytes: 0 } satisfies VariantResult;
    }
    const backend = new S3Backend(s3Options(server, { prefix }));
    const line = (i: number): string => `2026-01-01 00:00:00 - INFO     step ${i} loss 0.125 accuracy 0.875\n`;
    const body = Array.from({ length: LINES }, (_, i) => line(i)).join("");
    await backend.put("warm-up", "x");
    const result = await timed(() => backend.put("bench/v0/bench.log", body));
    await backend.close();
    return { seconds: result.seconds, bytes: Buffer.byteLength(body), peakRssBytes: result.peakRssBytes } satisfies VariantResult;
  },
};
