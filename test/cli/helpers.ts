/**
 * Runs the CLI as a subprocess (`node src/cli/main.ts …`) and builds local roots with the library itself.
 */
import assert from "node:assert/strict";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, realpath, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
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
  /** The script to run instead of {@link MAIN}, e.g. {@link STALLING_MAIN}. */
  readonly main?: string;
}

/** The CLI whose stdout says it is a terminal (see tty-cli.ts). */
export const TTY_MAIN = fileURLToPath(new URL("./tty-cli.ts", import.meta.url));

/** The CLI whose object streams stop after STALL_AFTER_BYTES bytes (see stalling-cli.ts). */
export const STALLING_MAIN = fileURLToPath(new URL("./stalling-cli.ts", import.meta.url));

/** The CLI as PID 1 of a container, which a signal it has no handler for does not end (see pid1-cli.ts). */
export const PID1_MAIN = fileURLToPath(new URL("./pid1-cli.ts", import.meta.url));

/** The CLI whose local reads find one object saved again just before it is read (see replacing-cli.ts). */
export const REPLACING_MAIN = fileURLToPath(new URL("./replacing-cli.ts", import.meta.url));

/** The CLI that SIGKILLs itself right after its KILL_AFTER_LINKS-th link() of a download into place (killing-cli.ts). */
export const KILLING_MAIN = fileURLToPath(new URL("./killing-cli.ts", import.meta.url));

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
  const child = spawn(process.execPath, [options.main ?? MAIN, ...args], {
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

/**
 * Runs the CLI to the end as `nobody` when the tests run as root (root reads and writes any folder, so a
 * permission refusal needs another user); as the current user otherwise. The paths it uses must be reachable.
 */
export async function runCliAsNobody(args: readonly string[], options: { readonly cwd?: string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const user = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { ...user, ...options, env: cliEnv(), timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 1, stdout, stderr });
    });
  });
}

/** Runs the CLI to the end. */
export async function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  return startCli(args, options).result;
}

export interface KilledPull {
  /** The partial file left in the folder. */
  readonly partial: string;
  /** Its size once the CLI is dead. */
  readonly size: number;
}

/**
 * Runs `opencrate pull <args>` with object streams stalled after `stallAfter` bytes, waits until a partial file
 * (`.ocpart-*`) in `folder` holds at least `grownTo` bytes, and SIGKILLs the CLI. Because the streams stall, the
 * kill always lands mid-file; the CLI exiting first, or no partial growing within a minute, is an error.
 */
export async function pullKilledMidFile(
  args: readonly string[],
  options: { readonly folder: string; readonly stallAfter: number; readonly grownTo: number; readonly env?: NodeJS.ProcessEnv },
): Promise<KilledPull> {
  const cli = startCli(["pull", ...args], { main: STALLING_MAIN, env: { ...options.env, STALL_AFTER_BYTES: String(options.stallAfter) } });
  const deadline = Date.now() + 60_000;
  let partial: string | undefined;
  try {
    while (partial === undefined) {
      if (cli.child.exitCode !== null || cli.child.signalCode !== null) {
        const result = await cli.result;
        throw new Error(`the pull ended (code ${result.code}) before a partial file grew to ${options.grownTo} bytes: ${result.stderr}`);
      }
      if (Date.now() > deadline) throw new Error(`no partial file in ${options.folder} grew to ${options.grownTo} bytes within a minute`);
      const names = await readdir(options.folder).catch(() => [] as string[]);
      for (const name of names.filter((entry) => entry.startsWith(".ocpart-"))) {
        const size = (await stat(join(options.folder, name)).catch(() => undefined))?.size ?? 0;
        if (size >= options.grownTo) partial = join(options.folder, name);
      }
      if (partial === undefined) await sleep(10);
    }
  } finally {
    cli.child.kill("SIGKILL");
  }
  const result = await cli.result;
  if (result.signal !== "SIGKILL") throw new Error(`the pull was not killed mid-file (code ${result.code}): ${result.stderr}`);
  return { partial, size: (await stat(partial)).size };
}

/**
 * Runs `opencrate pull <args>` with object streams stalled after `stallAfter` bytes (0: every read is answered only
 * as it is aborted), waits until a partial file (`.ocpart-*`) in `folder` holds at least `grownTo` bytes (default 0),
 * and interrupts the CLI with SIGINT, as Ctrl-C does; resolves with what it printed once it exited. The CLI exiting
 * first, or no such partial file within a minute, is an error.
 */
export async function pullInterrupted(
  args: readonly string[],
  options: { readonly folder: string; readonly stallAfter: number; readonly grownTo?: number; readonly env?: NodeJS.ProcessEnv },
): Promise<CliResult> {
  const cli = startCli(["pull", ...args], { main: STALLING_MAIN, env: { ...options.env, STALL_AFTER_BYTES: String(options.stallAfter) } });
  const deadline = Date.now() + 60_000;
  try {
    for (;;) {
      if (cli.child.exitCode !== null || cli.child.signalCode !== null) {
        const result = await cli.result;
        throw new Error(`the pull ended (code ${result.code}) before a partial file was in ${options.folder}: ${result.stderr}`);
      }
      if (Date.now() > deadline) throw new Error(`no partial file in ${options.folder} within a minute`);
      const names = await readdir(options.folder).catch(() => [] as string[]);
      const sizes = await Promise.all(
        names.filter((name) => name.startsWith(".ocpart-")).map(async (name) => (await stat(join(options.folder, name)).catch(() => undefined))?.size),
      );
      if (sizes.some((size) => size !== undefined && size >= (options.grownTo ?? 0))) break;
      await sleep(10);
    }
    cli.child.kill("SIGINT");
  } catch (error) {
    cli.child.kill("SIGKILL");
    throw error;
  }
  return cli.result;
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

/** A snapshot `name` whose v0 holds artifacts named with a leading "." (and one without); their paths, sorted. */
export async function makeDotFiles(backend: StorageBackend, name = "dots"): Promise<string[]> {
  const run = await Snapshot.setup({ name, backend, console: false });
  await run.text(".env").save("TOKEN=1");
  await run.json("cfg/.hidden.json").save({ hidden: false });
  await run.json("visible.json").save({ visible: true });
  await run.close();
  return ["dots.log", "jsons/cfg/.hidden.json", "jsons/visible.json", "texts/.env"];
}

/** Files in a version pulled across the listing's first page (200 keys) and into the next. */
export const MANY_FILES = 250;

/** A snapshot `name` whose v0 holds {@link MANY_FILES} JSON files, `{ index: i }` each; their names, in key order. */
export async function makeManyFiles(backend: StorageBackend, name = "many"): Promise<string[]> {
  const run = await Snapshot.setup({ name, backend, console: false });
  const names = Array.from({ length: MANY_FILES }, (_, i) => `item_${String(i).padStart(3, "0")}.json`);
  for (let i = 0; i < names.length; i += 25) await Promise.all(names.slice(i, i + 25).map((file, j) => run.json(file).save({ index: i + j })));
  await run.close();
  return names;
}

/** Where pull records the files it placed that no checksum verified (local sources, objects uploaded in parts). */
export const PULL_RECORD = ".opencrate/pulled.json";

/**
 * Checks a pull of {@link makeManyFiles}'s version into `dest`: every JSON file once with its content, nothing else
 * but the logs, and a summary that counts them all as downloaded.
 */
export async function assertPulledMany(dest: string, names: readonly string[], stdout: string): Promise<void> {
  const entries = await readdir(dest, { recursive: true, withFileTypes: true });
  const files = entries
    .filter((entry) => !entry.isDirectory())
    .map((entry) => relative(dest, join(entry.parentPath, entry.name)))
    .filter((path) => path !== PULL_RECORD)
    .sort();
  assert.deepEqual(files.filter((path) => path.startsWith("jsons/")), names.map((name) => `jsons/${name}`));
  assert.deepEqual(files.filter((path) => !path.startsWith("jsons/") && !path.endsWith(".log")), [], "nothing but the files and the logs");
  assert.match(stdout, new RegExp(`^Pulled ${files.length} of ${files.length} files .*: ${files.length} downloaded, 0 already complete\\.$`, "m"));
  for (const index of [0, 199, 200, names.length - 1]) {
    assert.deepEqual(JSON.parse(await readFile(join(dest, "jsons", names[index] ?? ""), "utf8")), { index });
  }
}


/** A snapshot `name` whose v0 and v1 hold `jsons/metrics.json` and `texts/notes.txt`, with contents naming the version. */
export async function makeTwoVersions(backend: StorageBackend, name: string): Promise<void> {
  for (const version of [0, 1]) {
    const run = await Snapshot.setup({ name, backend, console: false });
    await run.json("metrics.json").save({ version });
    await run.text("notes.txt").save(`notes of v${version}`);
    await run.close();
  }
}

/**
 * Pulls {@link makeTwoVersions}'s versions (`uriOf(version)`) into `dest`: a file of the user's own is left as it is,
 * named, and the pull exits 1, until `--overwrite`; a file an earlier pull placed is refreshed when the stored
 * object differs; one the user edited after the pull is left as it is again.
 */
export async function assertKeepsOwnFiles(uriOf: (version: number) => string, dest: string, env: NodeJS.ProcessEnv = {}): Promise<void> {
  await mkdir(join(dest, "jsons"), { recursive: true });
  await writeFile(join(dest, "jsons/metrics.json"), '{"mine":"precious local work"}');
  const real = await realpath(dest);
  const metrics = (): Promise<string> => readFile(join(dest, "jsons/metrics.json"), "utf8");
  const notes = (): Promise<string> => readFile(join(dest, "texts/notes.txt"), "utf8");
  const line = (path: string): RegExp =>
    new RegExp(`^opencrate: not replaced ${path}: ${escapeRegExp(join(real, path))} exists and was not placed by a pull \\(or changed since\\); pass --overwrite to replace it\\.$`, "m");

  const kept = await runCli(["pull", uriOf(0), dest], { env });
  assert.equal(kept.code, 1, kept.stderr);
  assert.match(kept.stderr, line("jsons/metrics.json"));
  assert.match(kept.stderr, /^opencrate: pull incomplete: 2 of 3 files .*: 2 downloaded, 0 already complete, 1 not replaced\.$/m);
  assert.doesNotMatch(kept.stdout, /metrics\.json/);
  assert.equal(await metrics(), '{"mine":"precious local work"}');
  assert.equal(await notes(), "notes of v0");

  const overwritten = await runCli(["pull", uriOf(0), dest, "--overwrite"], { env });
  assert.equal(overwritten.code, 0, overwritten.stderr);
  assert.match(overwritten.stdout, /^pulled {4}jsons\/metrics\.json /m);
  assert.deepEqual(JSON.parse(await metrics()), { version: 0 });

  // Both files were placed by a pull and are unchanged: the next version's replace them.
  const refreshed = await runCli(["pull", uriOf(1), dest], { env });
  assert.equal(refreshed.code, 0, refreshed.stderr);
  assert.match(refreshed.stdout, /^pulled {4}texts\/notes\.txt /m);
  assert.deepEqual(JSON.parse(await metrics()), { version: 1 });
  assert.equal(await notes(), "notes of v1");

  // A pulled file edited since is the user's again.
  await writeFile(join(dest, "texts/notes.txt"), "my edits");
  const edited = await runCli(["pull", uriOf(0), dest], { env });
  assert.equal(edited.code, 1, edited.stderr);
  assert.match(edited.stderr, line("texts/notes.txt"));
  assert.equal(await notes(), "my edits");
  assert.deepEqual(JSON.parse(await metrics()), { version: 0 }, "the unchanged pulled file is refreshed");
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
