/**
 * `pull` interrupted with SIGINT (Ctrl-C) while the store is silent mid-file: MinIO and fake-gcs-server behind the
 * fault proxy, which sends half of each answer for the big file and then nothing. The CLI exits 1 with its one
 * `interrupted` line (no stack, nothing else), places nothing under the unfinished file's name, keeps what it got
 * under the partial file's name, and folds its journal into the record; the next pull, with the store answering
 * again, continues that partial and places the stored bytes.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, it } from "node:test";
import type { StorageBackend } from "../../src/backends/backend.ts";
import { Snapshot } from "../../src/index.ts";
import { formatSize } from "../../src/io/size.ts";
import type { BackendFactory } from "../support/backends.ts";
import { type FaultProxy, startFaultProxy } from "../support/fault-proxy.ts";
import { gcsFactory } from "../support/gcs.ts";
import { minioFactory } from "../support/s3.ts";
import { gcsEnv, minioEnv } from "../support/servers.ts";
import { PULL_RECORD, removeDir, runCli, startCli, tempDir } from "./helpers.ts";

/** Over 1 MiB (streamed), under 32 MiB (one stream). */
const BIG_BYTES = 3 * 1024 * 1024 + 77;

interface Target {
  readonly label: string;
  readonly factory: BackendFactory;
  /** The store's own endpoint, which the proxy forwards to. */
  readonly endpoint: string | undefined;
  /** The CLI's environment for a store reached at `endpoint`. */
  env(endpoint: string): NodeJS.ProcessEnv;
  /** Whether a proxied request reads the big file's bytes. */
  readsBig(method: string, url: string): boolean;
}

const minio = minioEnv();
const gcs = gcsEnv();
const targets: Target[] = [
  {
    label: "MinIO",
    factory: minioFactory(),
    endpoint: minio?.endpoint,
    env: (endpoint) => ({
      AWS_ENDPOINT_URL_S3: endpoint,
      AWS_ACCESS_KEY_ID: minio?.accessKeyId,
      AWS_SECRET_ACCESS_KEY: minio?.secretAccessKey,
      AWS_REGION: minio?.region,
    }),
    readsBig: (method, url) => method === "GET" && url.split("?")[0]?.endsWith("/checkpoints/big.bin") === true,
  },
  {
    label: "fake-gcs-server",
    factory: gcsFactory(),
    endpoint: gcs?.endpoint,
    env: (endpoint) => ({ STORAGE_EMULATOR_HOST: endpoint, GOOGLE_CLOUD_PROJECT: gcs?.projectId }),
    readsBig: (method, url) => method === "GET" && url.includes("alt=media") && decodeURIComponent(url).includes("/checkpoints/big.bin"),
  },
];

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The partial files in `folder`, with their sizes. */
async function partialsIn(folder: string): Promise<{ name: string; size: number }[]> {
  const names = (await readdir(folder).catch(() => [] as string[])).filter((name) => name.startsWith(".ocpart-"));
  return Promise.all(names.map(async (name) => ({ name, size: (await stat(join(folder, name)).catch(() => undefined))?.size ?? 0 })));
}

for (const target of targets) {
  describe(`pull interrupted while ${target.label} is silent mid-file`, { skip: target.factory.skip }, () => {
    let dir: string;
    let backend: StorageBackend;
    let proxy: FaultProxy;
    const big = new Uint8Array(BIG_BYTES).map((_, index) => (index * 7 + (index >>> 10)) & 0xff);

    before(async () => {
      dir = await tempDir("pull-interrupt");
      backend = await target.factory.make();
      const run = await Snapshot.setup({ name: "stalled", backend, console: false });
      await run.text("notes.txt").save("notes");
      await run.checkpoint("big.bin").save(big);
      await run.close();
      proxy = await startFaultProxy({
        target: target.endpoint ?? "",
        seed: 1,
        plan: { decide: (request) => (target.readsBig(request.method, request.url) ? "stall-body" : "pass") },
      });
    });
    after(async () => {
      await proxy?.close();
      await target.factory.cleanup();
      if (dir !== undefined) await removeDir(dir);
    });

    it("exits 1 with its one line, keeps the partial under its own name, and the next pull continues it", async () => {
      const uri = `${backend.describe("").replace(/\/+$/, "")}/stalled/v0`;
      const dest = join(dir, "dest");
      const checkpoints = join(dest, "checkpoints");
      const cli = startCli(["pull", uri, dest], { env: target.env(proxy.endpoint) });
      const deadline = Date.now() + 60_000;
      // The store is silent, the partial holds what came before, and the two small files are in place (on a busy
      // machine the big file's first bytes can come before them).
      const smallPlaced = (): boolean => existsSync(join(dest, "stalled.log")) && existsSync(join(dest, "texts", "notes.txt"));
      while (proxy.counters.held === 0 || !(await partialsIn(checkpoints)).some((partial) => partial.size > 0) || !smallPlaced()) {
        if (cli.child.exitCode !== null) assert.fail(`the pull ended before it was interrupted: ${(await cli.result).stderr}`);
        assert.ok(Date.now() < deadline, `the big file's read was not held within a minute: ${proxy.describe()}`);
        await sleep(10);
      }
      cli.child.kill("SIGINT");
      const stopped = await cli.result;
      assert.equal(stopped.code, 1, stopped.stderr);
      assert.match(stopped.stderr, /^opencrate: interrupted: \d+ of 3 files \(.*\) in .*, 1 unfinished\. Run the same pull again to finish it\.\n$/);

      assert.ok(!existsSync(join(checkpoints, "big.bin")), "nothing under the unfinished file's name");
      const partials = await partialsIn(checkpoints);
      assert.equal(partials.length, 1, `one partial file: ${partials.map((partial) => partial.name).join(", ")}`);
      const kept = partials[0]?.size ?? 0;
      assert.ok(kept > 0 && kept <= Math.floor(BIG_BYTES / 2), `the partial holds what came before the store went silent: ${kept} bytes`);
      assert.ok(!existsSync(join(dest, ".opencrate/pulled.journal")), "the pull's end folded its journal into the record");
      const record = JSON.parse(await readFile(join(dest, PULL_RECORD), "utf8")) as { files: Record<string, unknown> };
      assert.deepEqual(Object.keys(record.files).sort(), ["stalled.log", "texts/notes.txt"], "the record names the files placed");

      proxy.setPlan({});
      const finished = await runCli(["pull", uri, dest], { env: target.env(proxy.endpoint) });
      assert.equal(finished.code, 0, finished.stderr);
      assert.match(finished.stdout, new RegExp(`^pulled {4}checkpoints/big\\.bin \\(3\\.00 MB, resumed at ${escapeRegExp(formatSize(kept))}(, \\w+ verified)?\\)$`, "m"));
      assert.equal(sha256(await readFile(join(checkpoints, "big.bin"))), sha256(big));
      assert.deepEqual(await readdir(checkpoints), ["big.bin"], "no partial file is left");
    });
  });
}
