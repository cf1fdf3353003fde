/**
 * MinIO and fake-gcs-server as containers (testcontainers), on the images of servers/images.ts, attached to one
 * network per run so containers a test starts (toxiproxy) reach them by name. The TEST_* variables they export
 * are the ones the process runner exports, plus TEST_DOCKER_NETWORK and TEST_<SERVER>_UPSTREAM (host:port on that
 * network).
 *
 * testcontainers' Ryuk (which removes containers of a dead test process) is an image no local build provides, so
 * it is off: `stop()` removes what was started, and the next run removes containers whose owner process is gone
 * (label OWNER_LABEL). scripts/test.ts calls `stop()` on exit and on signals; .ci/run also removes every
 * container carrying OWNER_LABEL at its end.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { StartedNetwork, StartedTestContainer } from "testcontainers";
import { fakeGcs } from "./fake-gcs.ts";
import { imageFor, imageSource } from "./images.ts";
import { minio } from "./minio.ts";
import { freePort } from "./process.ts";

export const OWNER_LABEL = "org.opencrate.test-owner-pid";
const ENGINE_PROBE_MS = 15_000;
const START_TIMEOUT_MS = 120_000;
const MINIO_PORT = 9000;
const GCS_PORT = 4443;

export type ContainerServerId = "minio" | "gcs";

export interface ContainerServers {
  readonly env: Readonly<Record<string, string>>;
  /** Removes the containers and the network. Idempotent. */
  stop(): Promise<void>;
}

type Testcontainers = typeof import("testcontainers");

async function loadTestcontainers(): Promise<Testcontainers> {
  process.env.TESTCONTAINERS_RYUK_DISABLED ??= "true";
  return import("testcontainers");
}

/** Undefined when a container engine answers; otherwise why not. */
export async function engineUnavailable(): Promise<string | undefined> {
  try {
    const { getContainerRuntimeClient } = await loadTestcontainers();
    const probe = getContainerRuntimeClient().then(() => undefined);
    const timeout = sleep(ENGINE_PROBE_MS, `no answer within ${ENGINE_PROBE_MS / 1000}s`);
    return await Promise.race([probe, timeout]);
  } catch (error) {
    return error instanceof Error ? error.message.split("\n")[0] : String(error);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Removes the containers this process started, by their owner label: also those still starting when a signal came
 * (the caller's stop() only knows the started ones). Without an engine or testcontainers, nothing to do.
 */
export async function removeOwnContainers(): Promise<void> {
  const tc = await loadTestcontainers().catch(() => undefined);
  const client = await tc?.getContainerRuntimeClient().catch(() => undefined);
  if (client === undefined) return;
  for (const info of await client.container.list()) {
    if (info.Labels[OWNER_LABEL] !== String(process.pid)) continue;
    await client.container.remove(client.container.getById(info.Id), { removeVolumes: true }).catch(() => {});
  }
}

/** Removes the containers a SIGKILLed earlier run left (their owner pid is gone). */
async function pruneOrphans(tc: Testcontainers): Promise<void> {
  const client = await tc.getContainerRuntimeClient();
  for (const info of await client.container.list()) {
    const owner = info.Labels[OWNER_LABEL];
    if (owner === undefined || isAlive(Number(owner))) continue;
    await client.container.remove(client.container.getById(info.Id), { removeVolumes: true }).catch(() => {});
  }
}

/**
 * The address tests use for a port a container published. An engine on this machine publishes on every interface,
 * so that is 127.0.0.1 (not "localhost", which may resolve to ::1 first, which some engines do not forward). The
 * trap: when this machine is itself a container (`/.dockerenv`), testcontainers answers the bridge gateway
 * (172.17.0.1) even for an engine running right here; the fault proxy and fake-gcs-server's -external-url need
 * loopback. Only a remote engine (DOCKER_HOST over tcp/http) keeps the host testcontainers reports.
 */
export function publishedHost(reported: string, dockerHost = process.env.DOCKER_HOST): string {
  const remote = dockerHost !== undefined && dockerHost !== "" && !dockerHost.startsWith("unix:");
  return remote && reported !== "localhost" ? reported : "127.0.0.1";
}

const hostOf = (container: StartedTestContainer): string => publishedHost(container.getHost());

async function startMinio(tc: Testcontainers, network: StartedNetwork): Promise<{ container: StartedTestContainer; env: Record<string, string> }> {
  const { MinioContainer } = await import("@testcontainers/minio");
  const credentials = minio.variables("", "");
  const container = await new MinioContainer(imageFor("minio"))
    .withUsername(credentials.TEST_MINIO_ACCESS_KEY ?? "")
    .withPassword(credentials.TEST_MINIO_SECRET_KEY ?? "")
    // MINIO_CI_CD: the data folder is on the container's root file system, which MinIO otherwise refuses.
    .withEnvironment({ MINIO_UPDATE: "off", MINIO_CI_CD: "on" })
    .withNetwork(network)
    .withNetworkAliases("minio")
    .withLabels({ [OWNER_LABEL]: String(process.pid) })
    .withPullPolicy(pullPolicy(tc))
    .withStartupTimeout(START_TIMEOUT_MS)
    .start();
  const endpoint = `http://${hostOf(container)}:${container.getPort()}`;
  return {
    container,
    env: { ...credentials, TEST_MINIO_ENDPOINT: endpoint, TEST_MINIO_UPSTREAM: `minio:${MINIO_PORT}` },
  };
}

async function startGcs(tc: Testcontainers, network: StartedNetwork): Promise<{ container: StartedTestContainer; env: Record<string, string> }> {
  // fake-gcs-server writes its own URL into resumable-upload Location headers (-external-url), so the host port is
  // chosen first and bound explicitly; a port taken in between fails the start, which is retried once.
  for (let attempt = 1; ; attempt += 1) {
    const port = await freePort();
    const endpoint = `http://127.0.0.1:${port}`;
    const args = ["-scheme", "http", "-host", "0.0.0.0", "-port", String(GCS_PORT), "-backend", "memory"];
    args.push("-public-host", `127.0.0.1:${port}`, "-external-url", endpoint);
    try {
      const container = await new tc.GenericContainer(imageFor("gcs"))
        .withCommand(args)
        .withExposedPorts({ container: GCS_PORT, host: port })
        .withWaitStrategy(tc.Wait.forHttp("/_internal/healthcheck", GCS_PORT))
        .withNetwork(network)
        .withNetworkAliases("fake-gcs-server")
        .withLabels({ [OWNER_LABEL]: String(process.pid) })
        .withPullPolicy(pullPolicy(tc))
        .withStartupTimeout(START_TIMEOUT_MS)
        .start();
      return { container, env: { TEST_GCS_ENDPOINT: endpoint, TEST_GCS_UPSTREAM: `fake-gcs-server:${GCS_PORT}` } };
    } catch (error) {
      if (attempt >= 2) throw error;
    }
  }
}

/** Official images are pulled every time: a local build may carry the same name (servers/images.ts). */
export const pullPolicy = (tc: Testcontainers) => (imageSource() === "official" ? tc.PullPolicy.alwaysPull() : tc.PullPolicy.defaultPolicy());

export async function startContainerServers(
  ids: readonly ContainerServerId[],
  bucket: string,
  say: (line: string) => void,
): Promise<ContainerServers> {
  const tc = await loadTestcontainers();
  await pruneOrphans(tc);
  const network = await new tc.Network().start();
  const containers: StartedTestContainer[] = [];
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await Promise.all(containers.map((container) => container.stop({ remove: true, removeVolumes: true }).catch(() => {})));
      await network.stop().catch(() => {});
    })();
    return stopping;
  };
  try {
    const env: Record<string, string> = { TEST_DOCKER_NETWORK: network.getName() };
    const began = Date.now();
    const started = await Promise.allSettled(ids.map((id) => (id === "minio" ? startMinio(tc, network) : startGcs(tc, network))));
    for (const outcome of started) if (outcome.status === "fulfilled") containers.push(outcome.value.container);
    const failure = started.find((outcome) => outcome.status === "rejected");
    if (failure !== undefined) throw failure.reason;
    for (const outcome of started) if (outcome.status === "fulfilled") Object.assign(env, outcome.value.env);
    const deadline = Date.now() + START_TIMEOUT_MS;
    if (ids.includes("minio")) {
      env.TEST_MINIO_BUCKET = bucket;
      await minio.ensureBucket(env, deadline);
    }
    if (ids.includes("gcs")) {
      env.TEST_GCS_BUCKET = bucket;
      await fakeGcs.ensureBucket(env, deadline);
    }
    const images = ids.map((id) => imageFor(id)).join(", ");
    say(`containers ready in ${((Date.now() - began) / 1000).toFixed(1)}s: ${images} (network ${network.getName()})`);
    return { env, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
