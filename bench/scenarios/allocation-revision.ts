/**
 * Version allocation against an earlier revision of this repository, both at the same time: PROCESSES processes
 * running the revision's sources and PROCESSES running this tree's, one common start, each side on a root of its
 * own on the same store, every process calling `setup({ start: "new" })` + `close()` PER_PROCESS times. Each rate
 * counts the allocations finished while both sides were still running, so both meet the same load (alternating
 * whole runs could not be compared on a shared machine: the load moved the raw baseline itself by up to 14×).
 *
 * The revision (OPENCRATE_BENCH_BASELINE_REVISION, default c4099ad, the code before run records and foreign
 * folders) is checked out once into .cache/bench-revisions/ and runs from its sources with this tree's
 * node_modules. Workers run outside any git checkout, so a run record's `git status` is not part of the rate.
 */
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import type { StorageBackend } from "../../src/backends/backend.ts";
import { gcsEnv, minioEnv } from "../../test/support/servers.ts";
import type { VariantResult } from "../harness.ts";
import { deleteEverything } from "./shared.ts";
import type { Scenario } from "./types.ts";

const run = promisify(execFile);
const repository = fileURLToPath(new URL("../../", import.meta.url));
const childScript = fileURLToPath(new URL("../child.ts", import.meta.url));
const REVISION = process.env.OPENCRATE_BENCH_BASELINE_REVISION ?? "c4099ad";
const PROCESSES = Number(process.env.OPENCRATE_BENCH_ALLOC_PROCESSES ?? 16);
const PER_PROCESS = Number(process.env.OPENCRATE_BENCH_REVISION_PER_PROCESS ?? 25);
/** Lets every worker load Node and the SDKs before the common start. */
const START_DELAY_MS = 8_000;

type Kind = "local" | "s3" | "gcs";
type Side = "revision" | "this tree";

interface SideRun {
  /** Completion times (epoch ms) of every allocation, and the versions got, of all the side's processes. */
  readonly done: number[];
  readonly versions: number[];
}

export const allocationRevision: Scenario = {
  name: "allocation-revision",
  title: `Version allocation against revision ${REVISION}: both at once on one store`,
  unavailable: () => (existsSync(join(repository, ".git")) ? undefined : "not a git checkout"),

  async run({ repeats }) {
    const revisionTree = await checkedOut(REVISION);
    const kinds: { kind: Kind; label: string }[] = [{ kind: "local", label: "local disk" }];
    if (minioEnv() !== undefined) kinds.push({ kind: "s3", label: "MinIO" });
    if (gcsEnv() !== undefined) kinds.push({ kind: "gcs", label: "fake-gcs-server" });
    const rows: string[] = [];
    for (const { kind, label } of kinds) {
      const ratios: number[] = [];
      const rates: string[] = [];
      for (let round = 0; round < repeats; round++) {
        const sides = await runBoth(kind, { revision: revisionTree, "this tree": repository });
        const window = Math.min(...[sides.revision, sides["this tree"]].map((side) => Math.max(...side.done))) - sides.startAt;
        const rate = (side: SideRun): number => side.done.filter((at) => at <= sides.startAt + window).length / (window / 1000);
        const [theirs, ours] = [rate(sides.revision), rate(sides["this tree"])];
        ratios.push(ours / theirs);
        rates.push(`${theirs.toFixed(1)} / ${ours.toFixed(1)}`);
      }
      const median = [...ratios].sort((a, b) => a - b)[Math.floor(ratios.length / 2)] ?? 0;
      rows.push(`| ${label} | ${rates.join("; ")} | **${median.toFixed(2)}×** (${ratios.map((ratio) => ratio.toFixed(2)).join(", ")}) |`);
    }
    return {
      markdown: [
        `| store | allocations/s, ${REVISION} / this tree, per run | this tree vs ${REVISION}: median (runs) |`,
        "|---|---|---|",
        ...rows,
        "",
        `${PROCESSES} processes of each side × ${PER_PROCESS} \`setup({ start: "new" })\` + \`close()\` each, all starting together, ` +
          "each side on a root of its own on the same store; a rate counts the allocations finished before the first side " +
          "finished. Every run's versions are checked distinct and contiguous on both sides. " +
          `${REVISION} runs from its own sources (checked out under .cache/bench-revisions/) with this tree's node_modules; ` +
          "workers run outside any git checkout. Test servers as the bench found them.",
      ].join("\n"),
    };
  },

  async runVariant(variant, args) {
    if (variant !== "worker") throw new Error(`unknown variant ${variant}`);
    return allocateWorker(args);
  },
};

/** The revision's sources, checked out once, with this tree's node_modules. */
async function checkedOut(revision: string): Promise<string> {
  const tree = join(repository, ".cache", "bench-revisions", revision);
  if (!existsSync(join(tree, "package.json"))) {
    await run("git", ["worktree", "add", "--force", "--detach", tree, revision], { cwd: repository });
  }
  if (!existsSync(join(tree, "node_modules"))) await symlink(join(repository, "node_modules"), join(tree, "node_modules"));
  return tree;
}

/** Both sides at once on `kind`, each in a fresh place; their versions checked. */
async function runBoth(kind: Kind, trees: Record<Side, string>): Promise<Record<Side, SideRun> & { startAt: number }> {
  const cwd = await mkdtemp(join(tmpdir(), "opencrate-bench-revision-"));
  const startAt = Date.now() + START_DELAY_MS;
  const cloudPlaces: string[] = [];
  try {
    const sides = await Promise.all(
      (Object.entries(trees) as [Side, string][]).map(async ([side, tree]) => {
        const place = kind === "local" ? await mkdtemp(join(cwd, "root-")) : `bench-revision-${randomUUID()}`;
        if (kind !== "local") cloudPlaces.push(place);
        const workers = await Promise.all(
          Array.from({ length: PROCESSES }, async () => {
            const json = JSON.stringify({ tree, kind, place, startAt: String(startAt) });
            const { stdout } = await run(process.execPath, [childScript, "allocation-revision", "worker", json], {
              cwd,
              maxBuffer: 16 * 1024 * 1024,
              timeout: 30 * 60_000,
            });
            const result = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as VariantResult;
            return result.extra ?? {};
          }),
        );
        const done = workers.flatMap((extra) => Object.entries(extra).filter(([name]) => name.startsWith("done")).map(([, at]) => at));
        const versions = workers.flatMap((extra) => Object.entries(extra).filter(([name]) => name.startsWith("version")).map(([, at]) => at));
        const sorted = [...versions].sort((a, b) => a - b);
        if (sorted.length !== PROCESSES * PER_PROCESS || sorted.some((version, index) => version !== index)) {
          throw new Error(`${side} on ${kind}: expected versions 0..${PROCESSES * PER_PROCESS - 1}, got ${sorted.length} (${sorted.slice(0, 5).join(", ")}…)`);
        }
        return [side, { done, versions }] as const;
      }),
    );
    return { ...(Object.fromEntries(sides) as Record<Side, SideRun>), startAt };
  } finally {
    await rm(cwd, { recursive: true, force: true });
    for (const place of cloudPlaces) await removeCloudPlace(kind, place);
  }
}

async function removeCloudPlace(kind: Kind, place: string): Promise<void> {
  const backend = await backendFor(kind, place, async (path) => import(pathToFileURL(join(repository, path)).href));
  try {
    await deleteEverything(backend);
  } finally {
    await backend.close();
  }
}

/** One worker: PER_PROCESS setups + closes with `tree`'s sources; reports each completion time and version. */
async function allocateWorker(args: Readonly<Record<string, string>>): Promise<VariantResult> {
  const tree = args.tree ?? repository;
  const from = async <T>(path: string): Promise<T> => (await import(pathToFileURL(join(tree, path)).href)) as T;
  const { Snapshot } = await from<typeof import("../../src/index.ts")>("src/index.ts");
  const backend = await backendFor(args.kind as Kind, args.place ?? "", from);
  const wait = Number(args.startAt) - Date.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  const extra: Record<string, number> = {};
  for (let i = 0; i < PER_PROCESS; i++) {
    const snapshot = await Snapshot.setup({ name: "alloc", start: "new", backend, console: false });
    extra[`version${i}`] = snapshot.version as number;
    await snapshot.close();
    extra[`done${i}`] = Date.now();
  }
  await backend.close();
  return { seconds: 0, bytes: 0, peakRssBytes: process.resourceUsage().maxRSS * 1024, extra };
}

/** The tree's own backend classes and test option helpers (each loads its SDK before the start). */
async function backendFor(kind: Kind, place: string, from: <T>(path: string) => Promise<T>): Promise<StorageBackend> {
  if (kind === "local") {
    const { LocalBackend } = await from<typeof import("../../src/backends/local/index.ts")>("src/backends/local/index.ts");
    return new LocalBackend({ root: place });
  }
  const servers = await from<typeof import("../../test/support/servers.ts")>("test/support/servers.ts");
  if (kind === "s3") {
    const { S3Backend } = await from<typeof import("../../src/backends/s3/index.ts")>("src/backends/s3/index.ts");
    const { s3Options } = await from<typeof import("../../test/support/s3.ts")>("test/support/s3.ts");
    const server = servers.minioEnv();
    if (server === undefined) throw new Error("TEST_MINIO_ENDPOINT is not set");
    await import("@aws-sdk/client-s3");
    return new S3Backend(s3Options(server, { prefix: place }));
  }
  const { GcsBackend } = await from<typeof import("../../src/backends/gcs/index.ts")>("src/backends/gcs/index.ts");
  const { gcsOptions } = await from<typeof import("../../test/support/gcs.ts")>("test/support/gcs.ts");
  const server = servers.gcsEnv();
  if (server === undefined) throw new Error("TEST_GCS_ENDPOINT is not set");
  await import("@google-cloud/storage");
  return new GcsBackend(gcsOptions(server, { prefix: place }));
}
