/**
 * The real test servers: MinIO, moto and fake-gcs-server, built from source into .cache by
 * scripts/build-servers.sh. MinIO and fake-gcs-server run as containers (testcontainers, servers/containers.ts)
 * when a container engine answers, else as local processes like moto, on free loopback ports with throw-away data.
 *
 * Library (scripts/test.ts, bench): `startTestServers()` returns the TEST_* variables test/support/servers.ts reads
 * and a `stop()`. CLI: `node scripts/test-servers.ts up` starts them, prints `export ...` lines on stdout and
 * keeps them running until Ctrl-C, for running single test files by hand.
 *
 * Environment:
 * - TEST_MINIO_ENDPOINT, TEST_MOTO_ENDPOINT, TEST_GCS_ENDPOINT set by the caller win: that server is not started,
 *   the caller's TEST_* variables for it pass through, and only its bucket is created if missing
 *   (e.g. servers from docker/compose.yaml).
 * - OPENCRATE_TEST_SERVERS: which servers to start, comma-separated from minio,moto,gcs (default all; "none").
 * - OPENCRATE_TEST_RUNNER: how MinIO and fake-gcs-server run: `auto` (default: containers when an engine answers,
 *   else processes with one loud line), `containers` (no engine fails the run) or `processes`.
 * - OPENCRATE_TEST_IMAGES: `local` (default: images built by scripts/build-images.ts) or `official` (pulled).
 * - CI=true: a server that cannot start fails the run. Elsewhere one loud line is printed and its suites skip.
 * - OPENCRATE_SERVERS_BUILT=1: skip the scripts/build-servers.sh call (scripts/dev.sh has just run it).
 * moto stays a process in every mode: it is a PyPI package, and no local image of Python is built for it.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { constants, tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import type { ServerDefinition } from "./servers/definition.ts";
import { fakeGcs } from "./servers/fake-gcs.ts";
import { buildImages } from "./build-images.ts";
import { engineUnavailable, removeOwnContainers, startContainerServers, type ContainerServerId, type ContainerServers } from "./servers/containers.ts";
import { imageSource } from "./servers/images.ts";
import { minio } from "./servers/minio.ts";
import { moto } from "./servers/moto.ts";
import { logTail, stopAllServers, type ServerProcess } from "./servers/process.ts";

export const TEST_BUCKET = "opencrate-test";
const START_TIMEOUT_MS = 60_000;
const ADOPT_TIMEOUT_MS = 15_000;
const LOG_RETENTION_MS = 2 * 24 * 3600 * 1000;
const DEFINITIONS: readonly ServerDefinition[] = [minio, moto, fakeGcs];

const root = fileURLToPath(new URL("..", import.meta.url));
const logsDir = join(root, ".cache", "logs");

export interface TestServers {
  /** TEST_* variables of the servers started here (the caller's own TEST_* variables are not repeated). */
  readonly env: Readonly<Record<string, string>>;
  /** Wanted servers that did not start (only possible outside CI). */
  readonly missing: readonly string[];
  readonly processes: readonly ServerProcess[];
  /** Stops the servers and removes their data. Idempotent. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Fail when a server cannot start instead of going on without it. Default: CI=true. */
  readonly strict?: boolean;
  /** How MinIO and fake-gcs-server run. Default: OPENCRATE_TEST_RUNNER, else "auto". */
  readonly runner?: "auto" | "containers" | "processes";
  /** Run scripts/build-servers.sh for the servers to start first. Default: unless OPENCRATE_SERVERS_BUILT=1. */
  readonly build?: boolean;
}

const say = (line: string): void => {
  process.stderr.write(`test-servers: ${line}\n`);
};

function wantedServers(): ServerDefinition[] {
  const setting = process.env.OPENCRATE_TEST_SERVERS?.trim();
  if (setting === undefined || setting === "" || setting === "all") return [...DEFINITIONS];
  if (setting === "none") return [];
  const ids = setting.split(",").map((id) => id.trim());
  const unknown = ids.filter((id) => !DEFINITIONS.some((definition) => definition.id === id));
  if (unknown.length > 0) {
    throw new Error(`OPENCRATE_TEST_SERVERS names unknown servers: ${unknown.join(", ")} (known: minio, moto, gcs)`);
  }
  return DEFINITIONS.filter((definition) => ids.includes(definition.id));
}

async function runBuild(targets: readonly string[]): Promise<boolean> {
  const child = spawn("bash", [join(root, "scripts", "build-servers.sh"), ...targets], {
    cwd: root,
    stdio: ["ignore", "inherit", "inherit"],
  });
  const code = await new Promise<number | null>((resolve) => {
    child.once("error", () => resolve(null));
    child.once("exit", (exitCode) => resolve(exitCode));
  });
  return code === 0;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Removes server logs older than two days, and data dirs left by a run that was SIGKILLed (its pid is gone). */
async function pruneLeftovers(): Promise<void> {
  await mkdir(logsDir, { recursive: true });
  for (const name of await readdir(logsDir)) {
    if (!/^(minio|moto|gcs)\.\d+\.log$/.test(name)) continue;
    const file = join(logsDir, name);
    if (Date.now() - (await stat(file)).mtimeMs > LOG_RETENTION_MS) await rm(file, { force: true });
  }
  for (const name of await readdir(tmpdir())) {
    const owner = /^opencrate-(?:minio|moto|gcs)-(\d+)-/.exec(name)?.[1];
    if (owner !== undefined && !isAlive(Number(owner))) await rm(join(tmpdir(), name), { recursive: true, force: true });
  }
}

interface Started {
  readonly process: ServerProcess;
  readonly env: Record<string, string>;
}

async function startOne(definition: ServerDefinition): Promise<Started> {
  const executable = definition.executable(root);
  if (!existsSync(executable)) {
    throw new Error(`${relative(root, executable)} is missing: run bash scripts/build-servers.sh ${definition.buildTarget}`);
  }
  const began = Date.now();
  const logFile = join(logsDir, `${definition.id}.${process.pid}.log`);
  for (let attempt = 1; ; attempt += 1) {
    const scratchDir = await mkdtemp(join(tmpdir(), `opencrate-${definition.id}-${process.pid}-`));
    const context = { root, scratchDir, logFile, deadline: Date.now() + START_TIMEOUT_MS };
    const spawned = await definition.spawn(context);
    try {
      await definition.waitReady(spawned, context.deadline);
      const env = definition.variables(spawned.endpoint, TEST_BUCKET);
      await definition.ensureBucket(env, context.deadline);
      const seconds = ((Date.now() - began) / 1000).toFixed(1);
      say(`${definition.id} ready at ${spawned.endpoint} in ${seconds}s (pid ${spawned.process.pid}, log ${relative(root, logFile)})`);
      return { process: spawned.process, env };
    } catch (error) {
      const exitedByItself = spawned.process.hasExited();
      await spawned.process.stop();
      // A server that died on its own most likely lost the race for its port: one more try on new ports.
      if (exitedByItself && attempt < 2) {
        say(`${definition.id} exited during start-up; retrying on new ports`);
        continue;
      }
      const reason = error instanceof Error ? error.message : String(error);
      const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : "";
      const tail = logTail(logFile).replace(/^/gm, `  ${definition.id}| `);
      throw new Error(`${reason}${cause}\n${tail}\n  (full log: ${relative(root, logFile)})`, { cause: error });
    }
  }
}

/** A server the caller runs (its endpoint variable is set): only make sure the test bucket exists there. */
async function adopt(definition: ServerDefinition): Promise<void> {
  const endpoint = process.env[definition.endpointVariable] ?? "";
  try {
    await definition.ensureBucket(process.env, Date.now() + ADOPT_TIMEOUT_MS);
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : "";
    throw new Error(`${definition.endpointVariable}=${endpoint} is set, but ${String(error)}${cause}`, { cause: error });
  }
  say(`${definition.id}: using ${definition.endpointVariable}=${endpoint} set by the caller`);
}

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

const CONTAINER_SERVERS: readonly string[] = ["minio", "gcs"] satisfies ContainerServerId[];

/**
 * Whether MinIO and fake-gcs-server run as containers. Under `auto`, a missing engine or a failed image build
 * means processes, said in one loud line (also under CI=true: the library's suites then still run on the same
 * server versions; .ci/run reports the container checks it could not run).
 */
async function useContainers(build: boolean, runner: string | undefined): Promise<boolean> {
  const setting = runner ?? (process.env.OPENCRATE_TEST_RUNNER?.trim() || "auto");
  if (!["auto", "containers", "processes"].includes(setting)) {
    throw new Error(`OPENCRATE_TEST_RUNNER must be auto, containers or processes, not "${setting}"`);
  }
  if (setting === "processes") return false;
  const fallBack = (reason: string): false => {
    if (setting === "containers") throw new Error(`OPENCRATE_TEST_RUNNER=containers, but ${reason}`);
    say(`!!! ${reason}: MinIO and fake-gcs-server run as LOCAL PROCESSES instead of containers (see docs/testing.md).`);
    return false;
  };
  const noEngine = await engineUnavailable();
  if (noEngine !== undefined) return fallBack(`no container engine answers (${noEngine})`);
  if (imageSource() === "local") {
    // The images pack the binaries scripts/build-servers.sh builds: those first (toxiproxy for the fault tests).
    // The images are checked even when the binaries were just built (OPENCRATE_SERVERS_BUILT=1): that costs seconds.
    if (build && !(await runBuild(["minio", "fake-gcs-server", "toxiproxy"]))) return fallBack("scripts/build-servers.sh failed");
    try {
      await buildImages(["minio", "gcs", "toxiproxy"]);
    } catch (error) {
      return fallBack(`the local images could not be built (${messageOf(error)})`);
    }
  }
  return true;
}

export async function startTestServers(options: StartOptions = {}): Promise<TestServers> {
  const strict = options.strict ?? process.env.CI === "true";
  const build = options.build ?? process.env.OPENCRATE_SERVERS_BUILT !== "1";
  const wanted = wantedServers();
  const toStart = wanted.filter((definition) => !process.env[definition.endpointVariable]);
  await pruneLeftovers();
  const containerCandidates = toStart.filter((definition) => CONTAINER_SERVERS.includes(definition.id));
  let inContainers = containerCandidates.length > 0 && (await useContainers(build, options.runner)) ? containerCandidates : [];
  let containers: ContainerServers | undefined;
  if (inContainers.length > 0) {
    try {
      const ids = inContainers.map((definition) => definition.id as ContainerServerId);
      containers = await startContainerServers(ids, TEST_BUCKET, say);
    } catch (error) {
      if ((options.runner ?? process.env.OPENCRATE_TEST_RUNNER) === "containers") throw error;
      say(`!!! the server containers did not start (${messageOf(error)}): MinIO and fake-gcs-server run as LOCAL PROCESSES instead.`);
      inContainers = [];
    }
  }
  const asProcesses = toStart.filter((definition) => !inContainers.includes(definition));
  if (build && asProcesses.length > 0) {
    // toxiproxy too: without containers the network-fault tests run it as a process.
    const targets = asProcesses.map((definition) => definition.buildTarget as string);
    if (asProcesses.some((definition) => CONTAINER_SERVERS.includes(definition.id))) targets.push("toxiproxy");
    const built = await runBuild(targets);
    if (!built && strict) throw new Error("scripts/build-servers.sh failed (see above)");
  }

  const outcomes = await Promise.allSettled(
    wanted
      .filter((definition) => !inContainers.includes(definition))
      .map((definition) => (asProcesses.includes(definition) ? startOne(definition) : adopt(definition))),
  );
  const started: Started[] = [];
  const missing: string[] = [];
  const notContained = wanted.filter((definition) => !inContainers.includes(definition));
  outcomes.forEach((outcome, index) => {
    const id = notContained[index]?.id ?? "?";
    if (outcome.status === "rejected") {
      missing.push(id);
      say(`${id} failed to start: ${messageOf(outcome.reason)}`);
    } else if (outcome.value !== undefined) {
      started.push(outcome.value);
    }
  });
  const stop = async (): Promise<void> => {
    await Promise.all([...started.map((server) => server.process.stop()), containers?.stop()]);
  };
  if (missing.length > 0 && strict) {
    await stop();
    throw new Error(`CI=true and test servers did not start: ${missing.join(", ")}`);
  }
  for (const id of missing) {
    say(`!!! ${id} IS NOT AVAILABLE: its test suites will be SKIPPED or fail (under CI=true this fails the run).`);
  }
  const env: Record<string, string> = Object.assign({}, containers?.env, ...started.map((server) => server.env));
  return { env, missing, processes: started.map((server) => server.process), stop };
}

let exiting = false;

/**
 * On SIGINT/SIGTERM/SIGHUP: run `cleanup` (which should stop servers and children), then exit 128+signal.
 * A second signal exits at once; the exit hook in servers/process.ts still kills the servers then.
 */
export function exitOnSignals(cleanup: () => Promise<void>): void {
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(signal, () => {
      const code = 128 + constants.signals[signal];
      if (exiting) process.exit(code);
      exiting = true;
      say(`${signal}: stopping the test servers`);
      void cleanup()
        .catch((error: unknown) => say(`cleanup failed: ${String(error)}`))
        .finally(() => process.exit(code));
    });
  }
}

function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

async function up(): Promise<void> {
  let started: TestServers | undefined;
  // stop() also removes the network; the others cover processes and containers of a start still under way.
  exitOnSignals(async () => {
    await started?.stop();
    await Promise.all([stopAllServers(), removeOwnContainers()]);
  });
  const servers = await startTestServers();
  started = servers;
  for (const [name, value] of Object.entries(servers.env)) process.stdout.write(`export ${name}=${shellQuote(value)}\n`);
  say("running; paste the export lines above into another shell, then run e.g.");
  say("  node --test --test-reporter=spec test/path/x.test.ts");
  say("Ctrl-C stops the servers and deletes their data.");
  setInterval(() => {}, 1 << 30); // keeps Node alive until a signal
  // A server that dies while in use would make every later test fail confusingly: say so and stop the others.
  const died = await Promise.race(servers.processes.map(async (server) => `${server.name} (${await server.exited})`));
  if (exiting) return; // the signal handler is stopping them
  say(`${died} exited unexpectedly; stopping the others`);
  await servers.stop();
  process.exit(1);
}

const invokedDirectly = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (invokedDirectly) {
  const command = process.argv[2];
  if (command === "up") {
    await up().catch(async (error: unknown) => {
      say(error instanceof Error ? error.message : String(error));
      await stopAllServers();
      process.exit(1);
    });
  } else {
    process.stderr.write("usage: node scripts/test-servers.ts up\n");
    process.exit(2);
  }
}
