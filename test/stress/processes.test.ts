/**
 * Many processes on one root, on every store whose conditional writes are atomic: local disk, MinIO and
 * fake-gcs-server. (moto is left out on purpose: its If-None-Match / If-Match checks are not atomic under
 * concurrent requests, so two processes can both "win" a claim there; research/conditional-writes.md §5.)
 * - 16 processes × 25 `setup({ start: "new" })` each, all at once, on a root where another tool (Python
 *   OpenCrate) already wrote the folders `v0:python-run` and `v2` without claims → exactly the versions 3..402,
 *   one claim each, and the foreign folders keep their bytes.
 * - 8 processes × 1,000 lines into one history (resumed runs of one version) → every line exactly once, in order
 *   per process.
 * - ranks of one torchrun job (TORCHELASTIC_RUN_ID, RANK, WORLD_SIZE) share one version with one claim and write
 *   `<name>.log` (rank 0) and `<name>.rank<r>.log`; OPENCRATE_RUN_ID takes precedence over TORCHELASTIC_RUN_ID.
 * - ranks of one job replacing a version, started one after another: the old run's files are gone, and every
 *   rank's log and artifact are there whole.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { after, describe, it } from "node:test";
import type { StorageBackend } from "../../src/backends/backend.ts";
import { Snapshot } from "../../src/index.ts";
import { VersionStore } from "../../src/snapshot/versions.ts";
import { collectKeys, readText } from "../support/assertions.ts";
import { backendFor, places } from "../faults/targets.ts";

const run = promisify(execFile);
const ALLOCATE = fileURLToPath(new URL("./fixtures/allocate-child.ts", import.meta.url));
const HISTORY = fileURLToPath(new URL("./fixtures/history-child.ts", import.meta.url));
const REPLACE = fileURLToPath(new URL("./fixtures/replace-child.ts", import.meta.url));
const SETUP = fileURLToPath(new URL("../snapshot/fixtures/setup-child.ts", import.meta.url));
const CHILD_TIMEOUT_MS = 240_000;
/** Lets every child load Node and the SDKs before the common start, so they really overlap. */
const START_DELAY_MS = 2_000;

async function child(script: string, args: readonly string[], env: Record<string, string> = {}): Promise<string> {
  return (await childOutput(script, args, env)).stdout;
}

async function childOutput(script: string, args: readonly string[], env: Record<string, string> = {}): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, [script, ...args], {
    env: { ...process.env, ...env },
    timeout: CHILD_TIMEOUT_MS,
    maxBuffer: 16 * 1024 * 1024,
  });
}

function lastJson<T>(stdout: string): T {
  return JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as T;
}

for (const place of places()) {
  describe(`many processes on ${place.label}`, { skip: place.skip }, () => {
    const backends: StorageBackend[] = [];
    after(async () => {
      await Promise.all(backends.map((backend) => backend.close()));
      await place.cleanup();
    });

    async function fresh(): Promise<{ where: string; backend: StorageBackend }> {
      const where = await place.fresh();
      const backend = await backendFor(place.kind, where);
      backends.push(backend);
      return { where, backend };
    }

    it("16 processes × 25 setup({ start: 'new' }) at once, past foreign folders, get exactly 3..402, one claim each", async () => {
      const { where, backend } = await fresh();
      const foreign = { "stress/v0:python-run/stress.log": "python line\n", "stress/v2/texts/notes.txt": "kept" };
      for (const [key, body] of Object.entries(foreign)) await backend.put(key, body);
      const startAt = String(Date.now() + START_DELAY_MS);
      const outputs = await Promise.all(
        Array.from({ length: 16 }, () => child(ALLOCATE, [place.kind, where, "25", startAt])),
      );
      const perProcess = outputs.map((stdout) => lastJson<{ versions: number[] }>(stdout).versions);
      for (const versions of perProcess) {
        assert.equal(versions.length, 25);
        assert.deepEqual(versions, [...versions].sort((a, b) => a - b), "each process's versions increase");
      }
      const all = perProcess.flat().sort((a, b) => a - b);
      assert.deepEqual(all, Array.from({ length: 400 }, (_, i) => i + 3), "distinct, contiguous, past the foreign folders");
      for (const [key, body] of Object.entries(foreign)) assert.equal(await readText(backend, key), body, key);
      const claims = await new VersionStore(backend, "stress").listClaims();
      assert.deepEqual(
        claims.map((claim) => claim.version),
        all,
        "one claim per version",
      );
      assert.equal(new Set(claims.map((claim) => claim.token)).size, 400);
    });

    it("8 processes × 1,000 lines into one history: none lost, none duplicated", async () => {
      const { where, backend } = await fresh();
      const first = await Snapshot.setup({ name: "hist", backend, console: false });
      first.info("first run");
      await first.close();
      const startAt = String(Date.now() + START_DELAY_MS);
      await Promise.all(Array.from({ length: 8 }, (_, id) => child(HISTORY, [place.kind, where, String(id), "1000", startAt])));
      const lines = (await readText(backend, "hist/v0/hist.history.log"))
        .split("\n")
        .filter((line) => line !== "")
        .map((line) => line.replace(/^.*?\bINFO\s+/, ""));
      assert.equal(lines[0], "first run");
      assert.equal(lines.length, 1 + 8 * 1000, "no line lost or duplicated");
      for (let id = 0; id < 8; id++) {
        assert.deepEqual(
          lines.filter((line) => line.startsWith(`w${id} `)),
          Array.from({ length: 1000 }, (_, i) => `w${id} ${i}`),
          `process ${id}'s lines, each once, in order`,
        );
      }
    });

    it("ranks of one torchrun job share one version and write one log each", async () => {
      const { backend } = await fresh();
      const root = backend.describe("");
      const rankEnv = (rank: number, extra: Record<string, string>): Record<string, string> => ({
        RANK: String(rank),
        WORLD_SIZE: "4",
        ...extra,
      });
      const torchrun = await Promise.all(
        [0, 1, 2, 3].map((rank) => child(SETUP, [root, "ranked", "new"], rankEnv(rank, { TORCHELASTIC_RUN_ID: "elastic-1" }))),
      );
      assert.deepEqual(torchrun.map((stdout) => lastJson<{ versions: number[] }>(stdout).versions), [[0], [0], [0], [0]]);
      assert.deepEqual(await collectKeys(backend, "ranked/.opencrate/versions/"), ["ranked/.opencrate/versions/0000000000.json"]);
      assert.deepEqual(await collectKeys(backend, "ranked/v0/"), [
        "ranked/v0/ranked.log",
        "ranked/v0/ranked.rank1.log",
        "ranked/v0/ranked.rank2.log",
        "ranked/v0/ranked.rank3.log",
      ]);

      // OPENCRATE_RUN_ID wins over TORCHELASTIC_RUN_ID (here different on every rank).
      const both = await Promise.all(
        [0, 1, 2, 3].map((rank) =>
          child(SETUP, [root, "ranked", "new"], rankEnv(rank, { OPENCRATE_RUN_ID: "job-2", TORCHELASTIC_RUN_ID: `elastic-${rank + 10}` })),
        ),
      );
      assert.deepEqual(both.map((stdout) => lastJson<{ versions: number[] }>(stdout).versions), [[1], [1], [1], [1]]);
      assert.equal((await collectKeys(backend, "ranked/.opencrate/versions/")).length, 2);
    });

    it("ranks of one job replacing a version, started apart, delete the old run and none of each other's files", async () => {
      const { where, backend } = await fresh();
      for (const rank of [0, 1]) {
        process.env.RANK = String(rank);
        try {
          const old = await Snapshot.setup({ name: "dist", start: rank === 0 ? "new" : 0, runId: "old-job", backend, console: false });
          old.info(`old rank ${rank}`);
          await old.text(`old${rank}.txt`).save("old");
          await old.close();
        } finally {
          delete process.env.RANK;
        }
      }
      const resumed = await Snapshot.setup({ name: "dist", start: 0, backend, console: false });
      await resumed.close();
      assert.ok((await collectKeys(backend, "dist/v0/")).includes("dist/v0/dist.history.log"));

      // Rank 1 first, rank 2 a quarter second later, rank 0 half a second later: each writes while the next starts.
      const startAt = Date.now() + START_DELAY_MS;
      const ranks = [1, 2, 0];
      const outputs = await Promise.all(
        ranks.map((rank, order) =>
          childOutput(REPLACE, [place.kind, where, "dist", "50", String(startAt + order * 250)], {
            RANK: String(rank),
            WORLD_SIZE: "3",
            OPENCRATE_RUN_ID: "replace-job",
          }),
        ),
      );
      for (const [order, { stdout, stderr }] of outputs.entries()) {
        assert.deepEqual(lastJson<{ versionName: string }>(stdout), { versionName: "v0" });
        assert.doesNotMatch(stderr, /OPENCRATE_LOG_REPLACED/, `rank ${ranks[order]}'s log was not replaced`);
      }
      assert.deepEqual(await collectKeys(backend, "dist/v0/"), [
        "dist/v0/dist.log",
        "dist/v0/dist.rank1.log",
        "dist/v0/dist.rank2.log",
        "dist/v0/texts/rank0.txt",
        "dist/v0/texts/rank1.txt",
        "dist/v0/texts/rank2.txt",
      ]);
      for (const rank of [0, 1, 2]) {
        const log = await readText(backend, rank === 0 ? "dist/v0/dist.log" : `dist/v0/dist.rank${rank}.log`);
        const lines = log.split("\n").filter((line) => line !== "").map((line) => line.replace(/^.*?\bINFO\s+/, ""));
        assert.deepEqual(lines, Array.from({ length: 50 }, (_, i) => `r${rank} ${i}`), `rank ${rank}'s lines, whole`);
        assert.equal(await readText(backend, `dist/v0/texts/rank${rank}.txt`), `rank ${rank}`);
      }
    });
  });
}
