/**
 * A local attacker races `opencrate pull`: while the pull fills dest/jsons/many, another process renames that folder
 * away and puts a symbolic link to an outside folder in its place. Nothing may land outside, and the pull must stop
 * with an error naming the swapped folder. Local disk and MinIO, one file at a time and sixteen.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdir, readdir, realpath } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import type { StorageBackend } from "../../src/backends/backend.ts";
import { LocalBackend } from "../../src/backends/local/index.ts";
import { Snapshot } from "../../src/index.ts";
import { minioFactory } from "../support/s3.ts";
import { minioEnv } from "../support/servers.ts";
import { removeDir, startCli, tempDir } from "./helpers.ts";

const SWAPPER = fileURLToPath(new URL("./folder-swapper.ts", import.meta.url));

/** Saves `count` small JSON artifacts under jsons/many/ of snapshot "race" v0. */
async function fillSnapshot(backend: StorageBackend, count: number): Promise<void> {
  const run = await Snapshot.setup({ name: "race", backend, console: false });
  const names = Array.from({ length: count }, (_, i) => `many/item_${String(i).padStart(4, "0")}.json`);
  for (let i = 0; i < names.length; i += 32) {
    await Promise.all(names.slice(i, i + 32).map((name) => run.json(name).save({ name, padding: "x".repeat(200) })));
  }
  await run.close();
}

/** Pulls `uri` into a fresh dest while the swapper process attacks dest/jsons/many; checks the outcome. */
async function raceOnce(dir: string, label: string, uri: string, concurrency: number, env: NodeJS.ProcessEnv = {}): Promise<void> {
  const dest = join(dir, `dest-${label}-${concurrency}`);
  const outside = join(dir, `outside-${label}-${concurrency}`);
  await mkdir(dest);
  await mkdir(outside);
  const realDest = await realpath(dest);
  const swapper = spawn(process.execPath, [SWAPPER, join(dest, "jsons", "many"), outside, "20"], { stdio: ["ignore", "pipe", "inherit"] });
  const swapped = new Promise<number | null>((resolve) => swapper.once("close", resolve));
  const pull = startCli(["pull", uri, dest, "--concurrency", String(concurrency), "--quiet"], { env });
  const result = await pull.result;
  const swapperCode = await swapped;

  assert.equal(swapperCode, 0, "the attacker swapped the folder mid-pull");
  assert.deepEqual(await readdir(outside), [], "nothing landed outside dest");
  assert.equal(result.code, 1, result.stderr);
  assert.match(
    result.stderr,
    new RegExp(`${escape(join(realDest, "jsons", "many"))} was moved or replaced while files were being written into it`),
  );
  const kept = (await readdir(join(dest, "jsons", "many-moved"))).filter((name) => !name.startsWith("."));
  assert.ok(kept.length >= 20, `the files pulled before the swap stay in the moved folder (${kept.length})`);
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

describe("pull against a racing local attacker (local disk)", () => {
  let dir: string;
  let root: string;

  before(async () => {
    dir = await tempDir("race-local");
    root = join(dir, "snapshots");
    await fillSnapshot(new LocalBackend({ root }), 1500);
  });
  after(() => removeDir(dir));

  for (const concurrency of [1, 16]) {
    it(`writes nothing outside dest and names the swapped folder (--concurrency ${concurrency})`, async () => {
      await raceOnce(dir, "local", `${root}/race/v0`, concurrency);
    });
  }
});

const minio = minioFactory();
describe("pull against a racing local attacker (MinIO)", { skip: minio.skip }, () => {
  let dir: string;
  let backend: StorageBackend;

  before(async () => {
    dir = await tempDir("race-s3");
    backend = await minio.make();
    await fillSnapshot(backend, 600);
  });
  after(async () => {
    await minio.cleanup();
    await removeDir(dir);
  });

  for (const concurrency of [1, 16]) {
    it(`writes nothing outside dest and names the swapped folder (--concurrency ${concurrency})`, async () => {
      const server = minioEnv();
      assert.ok(server !== undefined);
      await raceOnce(dir, "s3", `${backend.describe("")}/race/v0`, concurrency, {
        AWS_ENDPOINT_URL_S3: server.endpoint,
        AWS_ACCESS_KEY_ID: server.accessKeyId,
        AWS_SECRET_ACCESS_KEY: server.secretAccessKey,
        AWS_REGION: server.region,
      });
    });
  }
});
