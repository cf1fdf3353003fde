/**
 * toxiproxy in front of a test server, for faults of the connection itself: latency, bandwidth caps, tiny TCP
 * segments (slicer), resets, a connection that goes silent (timeout), a cut after N bytes.
 *
 * Where it runs follows where the servers run (scripts/test-servers.ts):
 * - servers in containers (TEST_DOCKER_NETWORK and TEST_<SERVER>_UPSTREAM set): a toxiproxy container from
 *   @testcontainers/toxiproxy on the same network, forwarding to the server by its network name;
 * - servers as processes, or a server the caller runs: toxiproxy-server (built by scripts/build-servers.sh) as a
 *   local process forwarding to the server's loopback port.
 *
 * toxiproxy works on TCP streams and knows nothing of HTTP requests, so faults aimed at one request (this PUT, the
 * third GET), answers invented by the proxy (503 with an S3 or GCS error body, a 200 carrying an error) and
 * "apply the request, then lose the answer" stay with test/support/fault-proxy.ts and s3-proxy.ts.
 */
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type * as Client from "toxiproxy-node-client";
import type { StartedTestContainer } from "testcontainers";
import { OWNER_LABEL, publishedHost, pullPolicy } from "../../scripts/servers/containers.ts";
import { imageFor } from "../../scripts/servers/images.ts";
import { answers200, freePort, spawnServer, waitUntilReady, type ServerProcess } from "../../scripts/servers/process.ts";

export type ToxicType = Client.ToxicType;
export type ToxicDirection = Client.ToxicDirection;

export interface ToxicSpec<T extends Client.ToxicAttributeTypes> {
  readonly type: ToxicType;
  readonly stream: ToxicDirection;
  readonly attributes: T;
  /** Chance that a new connection gets this toxic (default 1). */
  readonly toxicity?: number;
}

export interface NetworkFaults {
  /** The base URL clients use instead of the server's. */
  readonly endpoint: string;
  /** Where toxiproxy runs, for the test's name. */
  readonly where: "container" | "process";
  /** Adds a toxic to every later connection (and the open ones); resolves to its remover. */
  add<T extends Client.ToxicAttributeTypes>(spec: ToxicSpec<T>): Promise<() => Promise<void>>;
  /** Removes every toxic. */
  clear(): Promise<void>;
  close(): Promise<void>;
}

const START_TIMEOUT_MS = 60_000;
let toxicCount = 0;

function wrap(proxy: Client.Proxy, endpoint: string, where: NetworkFaults["where"], stop: () => Promise<void>): NetworkFaults {
  const added = new Set<Client.Toxic<unknown>>();
  return {
    endpoint,
    where,
    async add(spec) {
      const toxic = await proxy.addToxic({ name: `toxic-${++toxicCount}`, toxicity: 1, ...spec });
      added.add(toxic as Client.Toxic<unknown>);
      return async () => {
        if (added.delete(toxic as Client.Toxic<unknown>)) await toxic.remove();
      };
    },
    async clear() {
      for (const toxic of [...added]) {
        added.delete(toxic);
        await toxic.remove();
      }
    },
    close: stop,
  };
}

async function inContainer(network: string, upstream: string): Promise<NetworkFaults> {
  process.env.TESTCONTAINERS_RYUK_DISABLED ??= "true";
  const { ToxiProxyContainer } = await import("@testcontainers/toxiproxy");
  const container = await new ToxiProxyContainer(imageFor("toxiproxy"))
    .withPullPolicy(pullPolicy(await import("testcontainers")))
    .withNetworkMode(network)
    .withLabels({ [OWNER_LABEL]: String(process.pid) })
    .start();
  const stop = async (): Promise<void> => {
    await (container as StartedTestContainer).stop({ remove: true, removeVolumes: true });
  };
  try {
    const created = await container.createProxy({ name: "server", upstream });
    return wrap(created.instance, `http://${publishedHost(created.host)}:${created.port}`, "container", stop);
  } catch (error) {
    await stop();
    throw error;
  }
}

async function asProcess(serverEndpoint: string): Promise<NetworkFaults> {
  const { Toxiproxy } = await import("toxiproxy-node-client");
  const root = new URL("../..", import.meta.url).pathname;
  const [apiPort, listenPort] = [await freePort(), await freePort()];
  const scratchDir = await mkdtemp(join(tmpdir(), `opencrate-toxiproxy-${process.pid}-`));
  const executable = join(root, ".cache", "bin", "toxiproxy-server");
  const server: ServerProcess = spawnServer("toxiproxy-server", executable, ["-host", "127.0.0.1", "-port", String(apiPort)], {
    cwd: scratchDir,
    env: process.env,
    logFile: join(scratchDir, "toxiproxy.log"),
    scratchDir,
  });
  try {
    const api = `http://127.0.0.1:${apiPort}`;
    await waitUntilReady(server, "answering", () => answers200(`${api}/version`), Date.now() + START_TIMEOUT_MS);
    const client = new Toxiproxy(api);
    const upstream = new URL(serverEndpoint).host;
    const proxy = await client.createProxy({ name: "server", listen: `127.0.0.1:${listenPort}`, upstream });
    return wrap(proxy, `http://127.0.0.1:${listenPort}`, "process", () => server.stop());
  } catch (error) {
    await server.stop();
    throw error;
  }
}

/**
 * A toxiproxy forwarding to the server at `serverEndpoint`; `upstreamVariable` names the variable holding the
 * server's address on the container network, when the servers run as containers.
 */
export async function startNetworkFaults(serverEndpoint: string, upstreamVariable: "TEST_MINIO_UPSTREAM" | "TEST_GCS_UPSTREAM"): Promise<NetworkFaults> {
  const network = process.env.TEST_DOCKER_NETWORK;
  const upstream = process.env[upstreamVariable];
  if (network && upstream) return inContainer(network, upstream);
  return asProcess(serverEndpoint);
}
