/**
 * A run set up inside a worker thread is closed by the main thread's exit and signal hooks: when the main thread
 * exits, throws, or the process gets SIGTERM / SIGINT, every line the worker logged is stored and the run's record
 * is ended (real processes, local disk).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, describe, it } from "node:test";
import { LocalBackend } from "../../src/backends/local/index.ts";
import { listRunRecords } from "../../src/snapshot/run-records.ts";
import { readText, withoutTime } from "./helpers.ts";

const SCRIPT = fileURLToPath(new URL("./fixtures/worker-thread-run.ts", import.meta.url));
const LINES = 3000;

const folders: string[] = [];
after(() => Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true }))));

interface Ended {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
}

/** Runs the fixture; sends `signal` once the worker has logged every line. */
function runFixture(root: string, mode: string, signal?: NodeJS.Signals): Promise<Ended> {
  const child = spawn(process.execPath, [SCRIPT, root, mode], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
    if (signal !== undefined && stdout.split("\n").includes("logged")) child.kill(signal);
  });
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("exit", (code, exitSignal) => resolve({ code, signal: exitSignal, stderr }));
  });
}

async function check(mode: string, signal: NodeJS.Signals | undefined, expected: { status: string; exitCode: number | null; signal: string | null }): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), "opencrate-worker-run-"));
  folders.push(root);
  const ended = await runFixture(root, mode, signal);
  assert.doesNotMatch(ended.stderr, /opencrate: could not store/, ended.stderr);
  const backend = new LocalBackend({ root });
  const text = await readText(backend, "worker/v0/worker.log").catch(() => "");
  const lines = text.split("\n").filter((line) => line !== "").map(withoutTime);
  assert.deepEqual(lines, Array.from({ length: LINES }, (_, i) => `INFO     line ${i}`), `${mode}: every line stored once, in order`);
  const records = await listRunRecords(backend, "worker", 0);
  assert.deepEqual(
    records.map((record) => ({ status: record.status, exitCode: record.exitCode, signal: record.signal })),
    [expected],
  );
}

describe("a run set up in a worker thread", () => {
  it("is stored when the main thread calls process.exit", async () => {
    await check("exit", undefined, { status: "failed", exitCode: 4, signal: null });
  });

  it("is stored when the main thread throws", async () => {
    await check("throw", undefined, { status: "failed", exitCode: 1, signal: null });
  });

  it("is stored when the process gets SIGTERM", async () => {
    await check("signal", "SIGTERM", { status: "killed", exitCode: null, signal: "SIGTERM" });
  });

  it("is stored when the process gets SIGINT", async () => {
    await check("signal", "SIGINT", { status: "killed", exitCode: null, signal: "SIGINT" });
  });
});
