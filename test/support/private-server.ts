/**
 * A MinIO or fake-gcs-server process of a test's own, from the binaries scripts/build-servers.sh builds into
 * .cache/bin, with its own port, data and bucket: a test may freeze it (SIGSTOP) and thaw it (SIGCONT) without
 * disturbing the shared servers other tests use. Stopped (and its data removed) by `stop()`, or when the test
 * process exits.
 */
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import type { ServerDefinition } from "../../scripts/servers/definition.ts";
import { fakeGcs } from "../../scripts/servers/fake-gcs.ts";
import { minio } from "../../scripts/servers/minio.ts";
import type { ServerProcess } from "../../scripts/servers/process.ts";
import { GcsBackend, type GcsBackendOptions } from "../../src/backends/gcs/index.ts";
import { S3Backend, type S3BackendOptions } from "../../src/backends/s3/index.ts";
import { gcsOptions } from "./gcs.ts";
import { s3Options } from "./s3.ts";
import { gcsEnv, minioEnv } from "./servers.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const START_TIMEOUT_MS = 60_000;
const BUCKET = "opencrate-private";

export type PrivateServerKind = "minio" | "gcs";

const definitions: Record<PrivateServerKind, ServerDefinition> = { minio, gcs: fakeGcs };

export interface PrivateServer {
  readonly label: string;
  readonly endpoint: string;
  /**
   * SIGSTOP: the process stops answering; the kernel still accepts connections and buffers their bytes. Resolves
   * once every thread of it is stopped (on Linux; elsewhere at once), so no request sent afterwards is answered.
   */
  freeze(): Promise<void>;
  /** SIGCONT, then waits until the server answers its health check again. */
  thaw(): Promise<void>;
  stop(): Promise<void>;
}

/** The `skip` option for a suite that needs a private server of `kind`. Under CI=true a missing binary fails. */
export function privateServerSkip(kind: PrivateServerKind): false | string {
  const executable = definitions[kind].executable(root);
  if (existsSync(executable)) return false;
  const reason = `${executable} is missing: run scripts/build-servers.sh (npm test does)`;
  if (process.env.CI === "true") throw new Error(`CI=true but ${reason}.`);
  console.warn(`\n!!! SKIPPING private-server suites: ${reason}.\n`);
  return reason;
}

export async function startPrivateServer(kind: PrivateServerKind): Promise<PrivateServer> {
  const definition = definitions[kind];
  const scratchDir = await mkdtemp(join(tmpdir(), `opencrate-private-${kind}-`));
  const deadline = Date.now() + START_TIMEOUT_MS;
  const spawned = await definition.spawn({ root, scratchDir, logFile: join(scratchDir, "server.log"), deadline });
  const server: ServerProcess = spawned.process;
  try {
    await definition.waitReady(spawned, deadline);
    await definition.ensureBucket(definition.variables(spawned.endpoint, BUCKET), deadline);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return {
    label: kind === "minio" ? "MinIO" : "fake-gcs-server",
    endpoint: spawned.endpoint,
    async freeze() {
      process.kill(server.pid, "SIGSTOP");
      await allThreadsStopped(server.pid, Date.now() + START_TIMEOUT_MS);
    },
    async thaw() {
      process.kill(server.pid, "SIGCONT");
      await definition.waitReady(spawned, Date.now() + START_TIMEOUT_MS);
    },
    async stop() {
      // A frozen process would only end by SIGKILL, after the stop's grace period.
      if (!server.hasExited()) process.kill(server.pid, "SIGCONT");
      await server.stop();
    },
  };
}

/**
 * Waits until every thread of `pid` is in the stopped state ("T" in /proc/<pid>/task/<tid>/stat): a thread busy on
 * another core when SIGSTOP arrives may still answer a request before it stops. Without /proc, returns at once.
 */
async function allThreadsStopped(pid: number, deadline: number): Promise<void> {
  const tasks = `/proc/${pid}/task`;
  if (!existsSync(tasks)) return;
  while (Date.now() < deadline) {
    const states = await Promise.all(
      (await readdir(tasks)).map(async (tid) => {
        const stat = await readFile(join(tasks, tid, "stat"), "utf8").catch(() => ") T");
        return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
      }),
    );
    if (states.every((state) => state === "T" || state === "t")) return;
    await sleep(10);
  }
  throw new Error(`process ${pid} did not stop after SIGSTOP`);
}

/** Time-outs for a backend, by what they mean rather than by each backend's option names. */
export interface Timeouts {
  readonly connectMs: number;
  readonly idleMs: number;
}

/** A backend on `server` under `prefix`; with `timeouts`, those instead of the backend's defaults. */
export function privateBackend(kind: PrivateServerKind, server: PrivateServer, prefix: string, timeouts?: Timeouts): S3Backend | GcsBackend {
  const variables = definitions[kind].variables(server.endpoint, BUCKET);
  if (kind === "minio") {
    const env = minioEnv(variables);
    if (env === undefined) throw new Error("no MinIO variables");
    const options: Partial<S3BackendOptions> =
      timeouts === undefined ? {} : { connectionTimeoutMs: timeouts.connectMs, requestTimeoutMs: timeouts.idleMs };
    return new S3Backend(s3Options(env, { ...options, prefix }));
  }
  const env = gcsEnv(variables);
  if (env === undefined) throw new Error("no fake-gcs-server variables");
  const options: Partial<GcsBackendOptions> =
    timeouts === undefined ? {} : { connectTimeoutMs: timeouts.connectMs, requestTimeoutMs: timeouts.idleMs };
  return new GcsBackend(gcsOptions(env, { ...options, prefix }));
}
