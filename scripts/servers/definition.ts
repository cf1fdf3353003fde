/** What each test server module (minio.ts, moto.ts, fake-gcs.ts) provides to scripts/test-servers.ts. */
import type { ServerProcess } from "./process.ts";

export interface StartContext {
  /** The repository root; executables live under .cache there. */
  readonly root: string;
  /** A fresh temporary directory for this server: its working directory and data. */
  readonly scratchDir: string;
  readonly logFile: string;
  /** Epoch milliseconds by which the server must be ready and its bucket created. */
  readonly deadline: number;
}

export interface SpawnedServer {
  readonly process: ServerProcess;
  /** The base URL clients use, e.g. http://127.0.0.1:40123. */
  readonly endpoint: string;
}

export interface ServerDefinition {
  /** Short name used in OPENCRATE_TEST_SERVERS and log file names. */
  readonly id: "minio" | "moto" | "gcs";
  /** The target name scripts/build-servers.sh takes. */
  readonly buildTarget: "minio" | "moto" | "fake-gcs-server";
  /** When the caller has set this variable, the server is not started and the caller's variables are kept. */
  readonly endpointVariable: string;
  executable(root: string): string;
  /** Starts the server on free loopback ports. */
  spawn(context: StartContext): Promise<SpawnedServer>;
  /** Resolves once the started server answers its health check; throws at the deadline or if it exits. */
  waitReady(spawned: SpawnedServer, deadline: number): Promise<void>;
  /** The TEST_* variables test/support/servers.ts reads, for a server started here. */
  variables(endpoint: string, bucket: string): Record<string, string>;
  /** Creates the bucket the TEST_* variables in `env` name unless it exists (also for a caller's own server). */
  ensureBucket(env: NodeJS.ProcessEnv, deadline: number): Promise<void>;
}
