/**
 * `pull` lists a version while it downloads. A listing that fails after its first page must stop the downloads under
 * way and end the pull with the store's error, never report a partial pull as complete: MinIO behind the fault proxy,
 * which answers 500 to every listing that goes on after a key (the pull's second listing request), so the retries give
 * up, and holds every file's GET for far longer than that, so the first ones are still under way then.
 */
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { StorageBackend } from "../../src/backends/backend.ts";
import { type FaultProxy, startFaultProxy } from "../support/fault-proxy.ts";
import { minioFactory } from "../support/s3.ts";
import { minioEnv } from "../support/servers.ts";
import { makeManyFiles, removeDir, runCli, tempDir } from "./helpers.ts";

const server = minioEnv();
/** How long the proxy holds a file's GET: far longer than the listing's retries (backing off from 100 ms) take to give up. */
const HELD_MS = 20_000;
const factory = minioFactory();

describe("pull when the listing fails after its first page (MinIO)", { skip: factory.skip }, () => {
  let dir: string;
  let backend: StorageBackend;
  let proxy: FaultProxy;

  before(async () => {
    if (server === undefined) throw new Error("TEST_MINIO_ENDPOINT is not set");
    dir = await tempDir("pull-listing");
    backend = await factory.make();
    await makeManyFiles(backend);
    proxy = await startFaultProxy({
      target: server.endpoint,
      seed: 1,
      plan: {
        decide: (request) => (request.url.includes("start-after=") ? "status-500" : request.url.includes("/jsons/item_") ? "stall" : "pass"),
        stallMs: HELD_MS,
      },
    });
  });
  after(async () => {
    await proxy.close();
    await factory.cleanup();
    await removeDir(dir);
  });

  it("stops the downloads under way and exits 1 with the listing's failure in one line", async () => {
    assert.ok(server !== undefined);
    const root = backend.describe("").replace(/\/+$/, "");
    const dest = join(dir, "dest");
    const result = await runCli(["pull", `${root}/many/v0`, dest], {
      env: {
        AWS_ENDPOINT_URL_S3: proxy.endpoint,
        AWS_ACCESS_KEY_ID: server.accessKeyId,
        AWS_SECRET_ACCESS_KEY: server.secretAccessKey,
        AWS_REGION: server.region,
      },
    });
    assert.equal(result.code, 1, result.stderr);
    assert.ok(proxy.counters.injected["status-500"] >= 1, proxy.describe());
    const lines = result.stderr.trimEnd().split("\n");
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0] ?? "", /^opencrate: .*list/i);
    assert.doesNotMatch(result.stdout, /^Pulled /m, "no summary that could read as a finished pull");
    assert.ok(proxy.counters.injected.stall >= 1, `some GETs were held when the listing failed: ${proxy.describe()}`);
    const pulled = (await readdir(join(dest, "jsons")).catch(() => [] as string[])).filter((name) => name.endsWith(".json"));
    // Had the pull waited for the held GETs, their files would be here.
    assert.deepEqual(pulled, [], "the held downloads were stopped");
  });
});
