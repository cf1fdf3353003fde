/**
 * Bench harness: each variant of a scenario runs in its own child process (so peak RSS belongs to that variant
 * alone), several times; the report keeps the median time and the highest peak RSS.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const childScript = fileURLToPath(new URL("./child.ts", import.meta.url));

export interface VariantResult {
  readonly seconds: number;
  readonly bytes: number;
  readonly peakRssBytes: number;
  /** Extra numbers a variant reports (round trips, operations…). */
  readonly extra?: Readonly<Record<string, number>>;
}

export interface Measurement extends VariantResult {
  /** Each run's seconds, in the order they ran (for measureAlternating: one per round). */
  readonly runSeconds: readonly number[];
}

/** Runs `scenario`'s `variant` in `repeats` fresh processes; median seconds, max peak RSS. */
export async function measure(
  scenario: string,
  variant: string,
  args: Readonly<Record<string, string>>,
  repeats: number,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Measurement> {
  const results: VariantResult[] = [];
  for (let i = 0; i < repeats; i++) results.push(await runOnce(scenario, variant, args, env));
  return summarize(scenario, variant, results);
}

/**
 * Runs a baseline and opencrate's variant alternately (baseline, ours, then ours, baseline…), so load that comes and
 * goes on a shared machine falls on both sides instead of skewing the ratio; each side is summarized as by measure().
 */
export async function measurePair(
  scenario: string,
  variants: { readonly baseline: string; readonly ours: string },
  args: Readonly<Record<string, string>>,
  repeats: number,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ baseline: Measurement; ours: Measurement }> {
  const [baseline, ours] = await measureAlternating(scenario, [variants.baseline, variants.ours], args, repeats, env);
  if (baseline === undefined || ours === undefined) throw new Error(`no runs of ${scenario}`);
  return { baseline, ours };
}

/** Runs every variant once per round, `repeats` rounds; one Measurement per variant, in the order given. */
export async function measureAlternating(
  scenario: string,
  variants: readonly string[],
  args: Readonly<Record<string, string>>,
  repeats: number,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Measurement[]> {
  const results = variants.map((): VariantResult[] => []);
  const order = [...variants.keys()];
  for (let i = 0; i < repeats; i++) {
    // Reversed every other round, so no variant always runs right after the same one (warming the server for it).
    for (const index of i % 2 === 0 ? order : [...order].reverse()) {
      const result = await runOnce(scenario, variants[index] ?? "", args, env);
      results[index]?.push(result);
      // Each run as it ends, so a median hiding two kinds of runs can be seen in the log.
      console.error(`  ${scenario} ${variants[index] ?? ""}, round ${i + 1}: ${result.seconds.toFixed(2)} s, ${(result.peakRssBytes / MiB).toFixed(0)} MiB`);
    }
  }
  return variants.map((variant, index) => summarize(scenario, variant, results[index] ?? []));
}

async function runOnce(
  scenario: string,
  variant: string,
  args: Readonly<Record<string, string>>,
  env: NodeJS.ProcessEnv,
): Promise<VariantResult> {
  const { stdout } = await run(process.execPath, ["--expose-gc", childScript, scenario, variant, JSON.stringify(args)], {
    env,
    maxBuffer: 16 * 1024 * 1024,
    timeout: 30 * 60_000,
  });
  return JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as VariantResult;
}

function summarize(scenario: string, variant: string, results: readonly VariantResult[]): Measurement {
  const sorted = [...results].sort((a, b) => a.seconds - b.seconds);
  const median = sorted[Math.floor(sorted.length / 2)] ?? sorted[0];
  if (median === undefined) throw new Error(`no runs of ${scenario}/${variant}`);
  return {
    ...median,
    peakRssBytes: Math.max(...results.map((r) => r.peakRssBytes)),
    runSeconds: results.map((r) => r.seconds),
  };
}

/** Samples RSS every 10 ms while `work` runs; returns its result, the elapsed seconds and the peak RSS. */
export async function timed<T>(work: () => Promise<T>): Promise<{ value: T; seconds: number; peakRssBytes: number }> {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 10);
  const started = process.hrtime.bigint();
  try {
    const value = await work();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    peak = Math.max(peak, process.memoryUsage().rss);
    return { value, seconds, peakRssBytes: peak };
  } finally {
    clearInterval(timer);
  }
}

export const MiB = 1024 * 1024;

export function mbPerSecond(bytes: number, seconds: number): number {
  return bytes / MiB / seconds;
}
