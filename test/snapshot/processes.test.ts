/**
 * Many processes against one root: 12 `start: "new"` setups at the same moment get exactly 0..11 (and, where
 * another tool already wrote unclaimed folders, exactly the 12 numbers after them); ranks sharing a
 * run id share one version with one claim and write their own rank logs. Runs on local disk and on the real
 * servers whose conditional writes are atomic (MinIO, fake-gcs-server); moto's are not, so it is left out here.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import type { StorageBackend } from "../../src/backends/backend.ts";
import { allBackendFactories } from "../support/backends.ts";
import { collectKeys, readText } from "../support/assertions.ts";

const run = promisify(execFile);
const child = fileURLToPath(new URL("./fixtures/setup-child.ts", import.meta.url));

async function spawnSetup(
  root: string,
  name: string,
  env: Record<string, string> = {},
  count = 1,
  startAt = 0,
  start = "new",
): Promise<number[]> {
  const { stdout } = await run(process.execPath, [child, root, name, start, String(count), String(startAt)], {
    env: { ...process.env, ...env },
    timeout: 120_000,
  });
  return (JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as { versions: number[] }).versions;
}

const multiProcess = allBackendFactories().filter((factory) => /^(local|minio|gcs)\b/.test(factory.label));

for (const factory of multiProcess) {
  describe(`many processes on ${factory.label}`, { skip: factory.skip }, () => {
    let backend: StorageBackend;
    before(async () => {
      backend = await factory.make();
    });
    after(() => factory.cleanup());

    it("12 processes calling setup({ start: 'new' }) at once get exactly 0..11", async () => {
      // Every child waits for the same moment, so node's start-up time does not spread the setups out.
      const startAt = Date.now() + 5000;
      const versions = (
        await Promise.all(Array.from({ length: 12 }, () => spawnSetup(backend.describe(""), "race", {}, 1, startAt)))
      ).flat();
      assert.deepEqual(versions.sort((a, b) => a - b), Array.from({ length: 12 }, (_, i) => i));
      const claims = await collectKeys(backend, "race/.opencrate/versions/");
      assert.equal(claims.length, 12);
    });

    it("12 processes at once past unclaimed foreign folders get exactly the next 12 numbers and leave those folders alone", async () => {
      const foreign = { "py/v0:initial-run/py.log": "a\n", "py/v1:major-update/py.log": "b\n", "py/v4/jsons/x.json": "{}" };
      for (const [key, body] of Object.entries(foreign)) await backend.put(key, body);
      const startAt = Date.now() + 5000;
      const versions = (
        await Promise.all(Array.from({ length: 12 }, () => spawnSetup(backend.describe(""), "py", {}, 1, startAt)))
      ).flat();
      assert.deepEqual(versions.sort((a, b) => a - b), Array.from({ length: 12 }, (_, i) => i + 5));
      for (const [key, body] of Object.entries(foreign)) assert.equal(await readText(backend, key), body, key);
      assert.deepEqual(await collectKeys(backend, "py/v0:initial-run/"), ["py/v0:initial-run/py.log"]);
    });

    it("ranks sharing a run id share one version, with one claim and a log per rank", async () => {
      const env = (rank: number): Record<string, string> => ({ OPENCRATE_RUN_ID: "job-42", RANK: String(rank), WORLD_SIZE: "4" });
      const versions = (await Promise.all([0, 1, 2, 3].map((rank) => spawnSetup(backend.describe(""), "ranked", env(rank))))).flat();
      assert.deepEqual(versions, [0, 0, 0, 0]);
      assert.deepEqual(await collectKeys(backend, "ranked/.opencrate/versions/"), ["ranked/.opencrate/versions/0000000000.json"]);
      assert.deepEqual(await collectKeys(backend, "ranked/v0/"), [
        "ranked/v0/ranked.log",
        "ranked/v0/ranked.rank1.log",
        "ranked/v0/ranked.rank2.log",
        "ranked/v0/ranked.rank3.log",
      ]);
      const next = await spawnSetup(backend.describe(""), "ranked", { OPENCRATE_RUN_ID: "job-43" });
      assert.deepEqual(next, [1], "another run id allocates the next version");
      const plainTorchrun = { TORCHELASTIC_RUN_ID: "none", RANK: "0", WORLD_SIZE: "1" };
      const launches = [await spawnSetup(backend.describe(""), "ranked", plainTorchrun), await spawnSetup(backend.describe(""), "ranked", plainTorchrun)];
      assert.deepEqual(launches.flat(), [2, 3], 'torchrun\'s "none" run id names no run: each launch gets its own version');
    });

    it("ranks of one run id resuming 'last' share the version the first rank picked, even after another job claims a higher one", async () => {
      const root = backend.describe("");
      const rank = (n: number): Record<string, string> => ({ OPENCRATE_RUN_ID: "job-last", RANK: String(n), WORLD_SIZE: "2" });
      assert.deepEqual(await spawnSetup(root, "resumed"), [0]);
      assert.deepEqual(await spawnSetup(root, "resumed", rank(0), 1, 0, "last"), [0]);
      assert.deepEqual(await spawnSetup(root, "resumed"), [1], "an unrelated job claims the next version");
      assert.deepEqual(await spawnSetup(root, "resumed", rank(1), 1, 0, "last"), [0], "rank 1 joins its job's version, not the newer one");
      assert.deepEqual(await collectKeys(backend, "resumed/v1/"), ["resumed/v1/resumed.log"], "the other job's version is untouched");
      assert.ok((await collectKeys(backend, "resumed/v0/")).includes("resumed/v0/resumed.rank1.log"));
      assert.deepEqual(await spawnSetup(root, "resumed", {}, 1, 0, "last"), [1], "without a run id 'last' is still the highest");
      // A job starting on an empty name: both ranks land in the v0 the first one created.
      const fresh = (n: number): Record<string, string> => ({ OPENCRATE_RUN_ID: "job-fresh", RANK: String(n), WORLD_SIZE: "2" });
      const startAt = Date.now() + 3000;
      const both = await Promise.all([0, 1].map((n) => spawnSetup(root, "fresh", fresh(n), 1, startAt, "last")));
      assert.deepEqual(both.flat(), [0, 0]);
      assert.deepEqual(await collectKeys(backend, "fresh/.opencrate/versions/"), ["fresh/.opencrate/versions/0000000000.json"]);
    });

    it("processes sharing a run id without a rank all join the version the first one claims, round after round", async () => {
      // The joiners look for the run's `.log` while its creator may not have written it yet: none may fail setup.
      const env = { OPENCRATE_RUN_ID: "job-norank" };
      const startAt = Date.now() + 3000;
      const rounds = 8;
      const all = await Promise.all([0, 1, 2].map(() => spawnSetup(backend.describe(""), "norank", env, rounds, startAt)));
      const expected = Array.from({ length: rounds }, (_, i) => i);
      for (const versions of all) assert.deepEqual(versions, expected, "each process's n-th setup joins the n-th version");
      assert.equal((await collectKeys(backend, "norank/.opencrate/versions/")).length, rounds);
    });

    it("a task that sets up the same name again under the job's run id (a sweep) gets a new version each time, shared by its ranks", async () => {
      const slurm = (rank: number): Record<string, string> => ({ SLURM_JOB_ID: "4242", SLURM_STEP_ID: "0", SLURM_PROCID: String(rank), SLURM_NTASKS: "2" });
      const startAt = Date.now() + 3000;
      const [rank0, rank1] = await Promise.all([0, 1].map((rank) => spawnSetup(backend.describe(""), "sweep", slurm(rank), 3, startAt)));
      assert.deepEqual(rank0, [0, 1, 2]);
      assert.deepEqual(rank1, [0, 1, 2], "the ranks' n-th setups share a version");
      assert.deepEqual(await collectKeys(backend, "sweep/.opencrate/runs/"), [
        "sweep/.opencrate/runs/slurm-4242.0%232.json",
        "sweep/.opencrate/runs/slurm-4242.0%233.json",
        "sweep/.opencrate/runs/slurm-4242.0.json",
      ]);
      const alone = await spawnSetup(backend.describe(""), "sweep", { ...slurm(0), SLURM_JOB_ID: "4243" }, 3);
      assert.deepEqual(alone, [3, 4, 5], "a single task's sweep never reuses a version");
    });
  });
}
