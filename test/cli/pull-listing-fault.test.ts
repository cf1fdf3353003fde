/**
 * `pull` lists a version while it downloads. A listing that fails after its first page must stop the pull with the
 * store's error rather than report a partial pull as complete: MinIO behind the fault proxy, which answers 500 to
 * every listing that goes on after a key (the pull's second listing request), so the retries give up.
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
      plan: { decide: (request) => (request.url.includes("start-after=") ? "status-500" : "pass") },
    });
  });
  after(async () => {
    await proxy.close();
    await factory.cleanup();
    await removeDir(dir);
  });

  it("exits 1 with the listing's failure in one line and pulls nothing listed after the first page", async () => {
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
    const pulled = (await readdir(join(dest, "jsons")).catch(() => [] as string[])).filter((name) => name.endsWith(".json"));
    assert.ok(pulled.every((name) => name <= "item_199.json"), `only files of the first page: ${pulled.at(-1)}`);
  });
});
