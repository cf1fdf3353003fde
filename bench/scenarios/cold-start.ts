/**
 * Cold start, as a training script pays it: a fresh `node` process that imports the built package, and one that
 * also sets up a snapshot on a fresh local root and closes it, against a bare `node` process.
 */
import { execFile } from "node:child_process";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { measureAlternating, timed, type Measurement, type VariantResult } from "../harness.ts";
import type { Scenario } from "./types.ts";

const run = promisify(execFile);
const repository = fileURLToPath(new URL("../../", import.meta.url));
const builtIndex = pathToFileURL(join(repository, "dist/index.js")).href;

/** What each variant's fresh process runs. */
const PROGRAMS: Readonly<Record<string, (root: string) => string>> = {
  node: () => "",
  import: () => `await import(${JSON.stringify(builtIndex)});`,
  setup: (root) =>
    `const { oc } = await import(${JSON.stringify(builtIndex)});` +
    `await oc.snapshot.setup({ name: "bench", root: ${JSON.stringify(root)}, console: false });` +
    "oc.info('started');" +
    "await oc.snapshot.close();",
};

export const coldStart: Scenario = {
  name: "cold-start",
  title: "Cold start: import and setup in a fresh process vs a bare node process",
  unavailable: () => undefined,

  async run({ repeats, scratch }) {
    await run("npm", ["run", "--silent", "build"], { cwd: repository, timeout: 10 * 60_000 });
    const variants = Object.keys(PROGRAMS);
    const measured = await measureAlternating(this.name, variants, { scratch }, Math.max(repeats, 5));
    const [bare] = measured;
    const ms = (m: Measurement | undefined): string => ((m?.seconds ?? 0) * 1000).toFixed(0);
    const labels: Readonly<Record<string, string>> = {
      node: "`node` with an empty module",
      import: "`import(\"opencrate\")`",
      setup: "import + `oc.snapshot.setup({ root })` on a fresh local root + one log line + `close()`",
    };
    return {
      markdown: [
        "| process | wall time | over bare node |",
        "|---|---|---|",
        ...variants.map((variant, index) => {
          const m = measured[index];
          return `| ${labels[variant] ?? variant} | ${ms(m)} ms | ${variant === "node" ? "—" : `+${((m?.seconds ?? 0) * 1000 - (bare?.seconds ?? 0) * 1000).toFixed(0)} ms`} |`;
        }),
        "",
        "Each a fresh `node --input-type=module` process running the built package (`dist/`), timed from spawn to exit. " +
          "Importing loads no cloud SDK and no sharp; setup claims v0 with a create-only write and creates the log objects. " +
          `Median of ${Math.max(repeats, 5)} runs. No target.`,
      ].join("\n"),
    };
  },

  async runVariant(variant, args) {
    const program = PROGRAMS[variant];
    if (program === undefined) throw new Error(`unknown variant ${variant}`);
    const root = join(args.scratch ?? "", `cold-${process.pid}`);
    try {
      const result = await timed(() => run(process.execPath, ["--input-type=module", "-e", program(root)], { cwd: repository }));
      return { seconds: result.seconds, bytes: 0, peakRssBytes: result.peakRssBytes } satisfies VariantResult;
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  },
};
