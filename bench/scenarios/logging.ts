/**
 * Log calls per second: a snapshot's logger (pino, the file line format, lines buffered and flushed into
 * `<name>.log` and `<name>.history.log` on local disk) against raw pino writing to a file, same number of calls,
 * until everything is on disk.
 */
import { mkdir, readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { Snapshot } from "../../src/index.ts";
import { LocalBackend } from "../../src/backends/local/index.ts";
import { measurePair, timed, type Measurement, type VariantResult } from "../harness.ts";
import type { Scenario } from "./types.ts";

const CALLS = Number(process.env.OPENCRATE_BENCH_LOG_CALLS ?? 200_000);

export const logging: Scenario = {
  name: "logging",
  title: `${CALLS.toLocaleString("en-US")} log calls on local disk vs raw pino writing to a file`,
  unavailable: () => undefined,

  async run({ repeats, scratch }) {
    const { baseline, ours } = await measurePair(this.name, { baseline: "raw-pino", ours: "snapshot" }, { scratch }, repeats);
    const rate = (m: Measurement): number => CALLS / m.seconds;
    return {
      markdown: [
        "| logger | calls/s | bytes written | peak RSS |",
        "|---|---|---|---|",
        `| raw pino → file | ${rate(baseline).toFixed(0)} | ${(baseline.bytes / 2 ** 20).toFixed(1)} MiB | ${(baseline.peakRssBytes / 2 ** 20).toFixed(0)} MiB |`,
        `| opencrate \`snapshot.info\` → \`.log\` | ${rate(ours).toFixed(0)} | ${(ours.bytes / 2 ** 20).toFixed(1)} MiB | ${(ours.peakRssBytes / 2 ** 20).toFixed(0)} MiB |`,
        `| ratio | **${(rate(ours) / rate(baseline)).toFixed(2)}×** | | |`,
        "",
        `${CALLS.toLocaleString("en-US")} \`info\` calls with a short message and a counter, timed until the last line is on disk: ` +
          "raw pino with `pino.destination` (asynchronous, 8 KiB write buffer, flushed and ended); opencrate through `Snapshot.setup({ root })` on a " +
          "fresh local root, its console off, until `close()` has flushed `.log`. opencrate writes its line format (time, level, " +
          `run, message) and keeps every line. Median of ${repeats} runs, each in a fresh process. No target: this is what logging costs.`,
      ].join("\n"),
    };
  },

  async runVariant(variant, args) {
    const folder = join(args.scratch ?? "", `logging-${process.pid}`);
    await mkdir(folder, { recursive: true });
    try {
      const result = variant === "raw-pino" ? await timed(() => rawPino(join(folder, "raw.log"))) : await timed(() => snapshotLogs(folder));
      await assertEveryCallLogged(result.value.path);
      return { seconds: result.seconds, bytes: result.value.bytes, peakRssBytes: result.peakRssBytes } satisfies VariantResult;
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  },
};

/** Where a variant's lines went, and how many bytes they take. */
interface Written {
  readonly path: string;
  readonly bytes: number;
}

/** Fails the run unless every call's line is in the file, in order, once. */
async function assertEveryCallLogged(path: string): Promise<void> {
  const lines = (await readFile(path, "utf8")).split("\n");
  let next = 0;
  for (const line of lines) {
    if (line.includes(`step ${next} loss`)) next += 1;
  }
  if (next !== CALLS) throw new Error(`${path} holds ${next} of the ${CALLS} lines in order`);
}

async function rawPino(path: string): Promise<Written> {
  const { pino } = await import("pino");
  const destination = pino.destination({ dest: path, sync: false, minLength: 8192 });
  await new Promise<void>((resolve) => destination.once("ready", () => resolve()));
  const logger = pino(destination);
  for (let i = 0; i < CALLS; i++) logger.info(`step ${i} loss 0.125`);
  await new Promise<void>((resolve, reject) => {
    destination.flush((error) => (error ? reject(error) : resolve()));
  });
  destination.end();
  return { path, bytes: (await stat(path)).size };
}

async function snapshotLogs(root: string): Promise<Written> {
  const snapshot = await Snapshot.setup({ name: "bench", backend: new LocalBackend({ root }), console: false });
  for (let i = 0; i < CALLS; i++) snapshot.info(`step ${i} loss 0.125`);
  await snapshot.close();
  for await (const info of new LocalBackend({ root }).list("")) {
    if (info.key.endsWith("/bench.log")) return { path: join(root, info.key), bytes: info.size };
  }
  throw new Error(`no bench.log under ${root}`);
}
