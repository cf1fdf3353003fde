/**
 * `npm run bench [-- scenario ...]`: runs the named scenarios (all by default), each against its raw baseline in
 * the same run, and rewrites BENCHMARKS.md with the machine, the date, the command and the results.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { cpus, totalmem, tmpdir } from "node:os";
import { join } from "node:path";
import { startTestServers, type TestServers } from "../scripts/test-servers.ts";
import { scenarios } from "./scenarios/index.ts";

const wanted = process.argv.slice(2).filter((arg) => !arg.startsWith("-"));
const repeats = Number(process.env.OPENCRATE_BENCH_REPEATS ?? 3);
const selected = wanted.length === 0 ? scenarios : scenarios.filter((scenario) => wanted.includes(scenario.name));
const output = new URL("../BENCHMARKS.md", import.meta.url);
/** Starts the hand-written notes on the recorded run; scenario sections come before it. */
const NOTES_HEADING = "## Conditions of the recorded run";

const sections = new Map<string, string>(await existingSections());
// Scenarios on MinIO / fake-gcs-server get the same throw-away servers the tests use (explicit TEST_* win).
let servers: TestServers | undefined;
if (selected.some((scenario) => scenario.unavailable() !== undefined)) {
  // Processes unless asked otherwise: the recorded numbers were measured on loopback, and a container's published
  // port adds Docker's proxy to every byte.
  const runner = process.env.OPENCRATE_TEST_RUNNER === "containers" ? "containers" : "processes";
  servers = await startTestServers({ strict: false, runner });
  Object.assign(process.env, servers.env);
}
try {
  for (const scenario of selected) {
    const missing = scenario.unavailable();
    if (missing !== undefined) {
      console.warn(`skipping ${scenario.name}: ${missing}`);
      continue;
    }
    console.log(`running ${scenario.name} (${repeats} runs per variant)…`);
    const scratch = await mkdtemp(join(process.env.OPENCRATE_BENCH_DIR ?? tmpdir(), "opencrate-bench-"));
    try {
      const report = await scenario.run({ repeats, scratch });
      const stamp = `Measured ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC on ${cpus().length} × ${cpus()[0]?.model ?? "CPU"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, with \`npm run bench -- ${scenario.name}\`.`;
      sections.set(scenario.name, `## ${scenario.title}\n\n${stamp}\n\n${report.markdown}\n`);
      console.log(report.markdown);
      // Written after each scenario, so a later one that fails does not lose the results of those before it.
      await writeReport();
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }
} finally {
  await servers?.stop();
}

async function writeReport(): Promise<void> {
  const ordered = scenarios.map((scenario) => sections.get(scenario.name)).filter((text) => text !== undefined);
  const notes = await handWrittenNotes();
  await writeFile(
    output,
    `# Benchmarks\n\nEach scenario runs opencrate and its raw baseline in the same run on the same machine; the ratio column is ` +
      `opencrate relative to the baseline as each table says. Every variant runs in a fresh process so peak RSS is its own, and ` +
      `baseline and opencrate runs alternate. Regenerate with \`npm run bench\` ` +
      `(\`bash scripts/dev.sh bench\` starts the test servers too).\n\n${ordered.join("\n")}${notes === undefined ? "" : `\n${notes}`}`,
  );
}

/** The hand-written section at the end (NOTES_HEADING to the end of the file), kept across runs. */
async function handWrittenNotes(): Promise<string | undefined> {
  const text = await readFile(output, "utf8").catch(() => "");
  const start = text.indexOf(NOTES_HEADING);
  return start === -1 ? undefined : `${text.slice(start).trimEnd()}\n`;
}

async function existingSections(): Promise<[string, string][]> {
  let text: string;
  try {
    text = await readFile(output, "utf8");
  } catch {
    return [];
  }
  const found: [string, string][] = [];
  for (const scenario of scenarios) {
    const start = text.indexOf(`## ${scenario.title}`);
    if (start === -1) continue;
    const next = text.indexOf("\n## ", start + 1);
    found.push([scenario.name, `${text.slice(start, next === -1 ? undefined : next + 1).trimEnd()}\n`]);
  }
  return found;
}
