/**
 * Runs the CLI as a subprocess (`node src/cli/main.ts …`) and builds local roots with the library itself.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { StorageBackend } from "../../src/backends/backend.ts";
import { LocalBackend } from "../../src/backends/local/index.ts";
import { Snapshot } from "../../src/index.ts";

export const MAIN = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly stdoutBytes: Buffer;
}

export interface CliOptions {
  readonly cwd?: string;
  /** Added to a clean copy of the environment (no OPENCRATE_*, no AWS_*, no CI colour). */
  readonly env?: NodeJS.ProcessEnv;
}

export function cliEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith("OPENCRATE_") && !name.startsWith("AWS_") && !name.startsWith("GOOGLE_")) env[name] = value;
  }
  return { ...env, NO_COLOR: "1", ...extra };
}

export interface RunningCli {
  readonly child: ChildProcess;
  /** Everything the CLI printed, once it has exited. */
  readonly result: Promise<CliResult>;
  /** Resolves once stdout (or stderr) so far contains `text`; rejects if the CLI exits first. */
  waitFor(text: string, from?: "stdout" | "stderr"): Promise<void>;
}

/** Starts the CLI and records its output from the first byte; the caller waits on it or kills it. */
export function startCli(args: readonly string[], options: CliOptions = {}): RunningCli {
  const child = spawn(process.execPath, [MAIN, ...args], {
    cwd: options.cwd ?? process.cwd(),
    env: cliEnv(options.env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const waiters = new Set<() => void>();
  const text = (from: "stdout" | "stderr"): string => Buffer.concat(from === "stdout" ? out : err).toString("utf8");
  child.stdout.on("data", (chunk: Buffer) => {
    out.push(chunk);
    for (const check of waiters) check();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    err.push(chunk);
    for (const check of waiters) check();
  });
  const result = new Promise<CliResult>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => {
      for (const check of waiters) check();
      const stdoutBytes = Buffer.concat(out);
      resolve({ code, signal, stdout: stdoutBytes.toString("utf8"), stderr: text("stderr"), stdoutBytes });
    });
  });
  const waitFor = (wanted: string, from: "stdout" | "stderr" = "stdout"): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (text(from).includes(wanted)) {
          waiters.delete(check);
          resolve();
        } else if (child.exitCode !== null || child.signalCode !== null) {
          waiters.delete(check);
          reject(new Error(`the CLI exited before printing ${JSON.stringify(wanted)} on ${from}; it printed: ${text(from)}`));
        }
      };
      waiters.add(check);
      check();
    });
  return { child, result, waitFor };
}

/** Runs the CLI to the end. */
export async function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  return startCli(args, options).result;
}

export async function tempDir(label: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `opencrate-cli-${label}-`));
}

export async function removeDir(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true });
}

export const MODEL_BYTES = Uint8Array.from({ length: 300_000 }, (_, index) => (index * 31 + 7) % 251);

/**
 * A local root with two snapshot names:
 *   train  v0:initial-run (json, text; resumed once, so it has a history)  v1 (run id job-42: json, checkpoint)
 *   eval   v0:baseline (yaml)
 */
export async function makeRoot(root: string): Promise<void> {
  await makeSnapshots(new LocalBackend({ root }));
}

/** The snapshots of {@link makeRoot} on any backend. */
export async function makeSnapshots(backend: StorageBackend): Promise<void> {
  const setup = (options: { name: string; start?: "new" | number; tag?: string; runId?: string }): Promise<Snapshot> =>
    Snapshot.setup({ ...options, backend, console: false });

  let run = await setup({ name: "train", tag: "initial-run" });
  run.info("first run of v0");
  await run.json("metrics.json").save({ loss: 0.5 });
  await run.text("notes.txt").save("first notes");
  await run.close();

  run = await setup({ name: "train", runId: "job-42" });
  run.info("first run of v1");
  await run.json("metrics.json").save({ loss: 0.25 });
  await run.checkpoint("model.bin").save(MODEL_BYTES);
  await run.close();

  run = await setup({ name: "train", start: 0, tag: "initial-run" });
  run.info("second run of v0");
  await run.close();

  run = await setup({ name: "eval", tag: "baseline" });
  await run.yaml("config.yaml").save({ lr: 0.001 });
  await run.close();
}
