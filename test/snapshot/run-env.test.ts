/** Run ids and ranks from options and the environment launchers set. */
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { Snapshot } from "../../src/index.ts";
import { rankWithoutRunIdWarning, resolveRank, resolveRunId, RUN_ID_MAX_ENCODED_BYTES, setupRunId } from "../../src/snapshot/run-env.ts";

describe("resolveRunId", () => {
  it("prefers the option, then OPENCRATE_RUN_ID, then TORCHELASTIC_RUN_ID", () => {
    const env = { OPENCRATE_RUN_ID: "ours", TORCHELASTIC_RUN_ID: "torch" };
    assert.equal(resolveRunId("given", env), "given");
    assert.equal(resolveRunId(undefined, env), "ours");
    assert.equal(resolveRunId(undefined, { TORCHELASTIC_RUN_ID: "torch" }), "torch");
    assert.equal(resolveRunId(undefined, {}), undefined);
    assert.equal(resolveRunId(undefined, { OPENCRATE_RUN_ID: "" }), undefined);
  });

  it('ignores the "none" torchrun exports when no --rdzv-id is given', () => {
    assert.equal(resolveRunId(undefined, { TORCHELASTIC_RUN_ID: "none" }), undefined);
    assert.equal(resolveRunId(undefined, { TORCHELASTIC_RUN_ID: "none", OPENCRATE_RUN_ID: "job" }), "job");
  });

  it("rejects run ids with separators or control characters", () => {
    for (const bad of ["a/b", "a\\b", "..", "x\ny", "x".repeat(257)]) {
      assert.throws(() => resolveRunId(bad, {}), { code: "INVALID_ARGUMENT" }, bad);
    }
  });

  it("takes a run id whose record's file name fits, percent-encoded, with room for .json and a #<count>", async () => {
    assert.equal(RUN_ID_MAX_ENCODED_BYTES, 238);
    const longest = "r".repeat(238);
    assert.equal(resolveRunId(longest, {}), longest);
    // ":" is "%3A" and "é" is "%C3%A9" in the file name.
    for (const fits of [":".repeat(79), "é".repeat(39) + "ab", "run-\u{1F600}"]) assert.equal(resolveRunId(fits, {}), fits);
    for (const over of ["r".repeat(239), ":".repeat(80), "é".repeat(40)]) {
      assert.throws(() => resolveRunId(over, {}), { code: "INVALID_ARGUMENT", message: /bytes as a file name/ }, over);
      assert.throws(() => resolveRunId(undefined, { OPENCRATE_RUN_ID: over }), { code: "INVALID_ARGUMENT", message: /OPENCRATE_RUN_ID/ });
    }
    const root = await mkdtemp(join(tmpdir(), "oc-run-id-long-"));
    try {
      // 251 characters passed the old check but made a 256-byte file name: now refused before anything is written.
      await assert.rejects(Snapshot.setup({ name: "long", root, console: false, runId: "x".repeat(251) }), { code: "INVALID_ARGUMENT" });
      assert.deepEqual(await readdir(root), []);
      // At the limit, with the #<count> of a second setup from the environment, the records are written.
      process.env.OPENCRATE_RUN_ID = longest;
      try {
        for (let round = 1; round <= 2; round++) {
          const snapshot = await Snapshot.setup({ name: "long", root, console: false });
          await snapshot.close();
        }
      } finally {
        delete process.env.OPENCRATE_RUN_ID;
      }
      assert.deepEqual((await readdir(join(root, "long", ".opencrate", "runs"))).sort(), [`${longest}%232.json`, `${longest}.json`]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe("runId option and run ids that are not strings or not well-formed", () => {
  it("refuses a runId that is not a string, rather than falling back to the environment", async () => {
    const env = { OPENCRATE_RUN_ID: "job-typed" };
    for (const bad of [null, 7, {}, ["a"], true]) {
      assert.throws(() => resolveRunId(bad as never, env), { code: "INVALID_ARGUMENT", message: /^runId must be a string/ }, String(bad));
      assert.throws(() => setupRunId(bad as never, "typed", env), { code: "INVALID_ARGUMENT", message: /runId/ });
    }
    const root = await mkdtemp(join(tmpdir(), "oc-run-id-null-"));
    try {
      await assert.rejects(Snapshot.setup({ name: "typed", root, console: false, runId: null as never }), {
        code: "INVALID_ARGUMENT",
        message: /runId must be a string, got null/,
      });
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it("refuses a run id holding a lone surrogate with INVALID_ARGUMENT, not a URIError", async () => {
    assert.throws(() => resolveRunId("a\uD800b", {}), { code: "INVALID_ARGUMENT" });
    assert.throws(() => resolveRunId(undefined, { OPENCRATE_RUN_ID: "\uDC00" }), { code: "INVALID_ARGUMENT", message: /OPENCRATE_RUN_ID/ });
    assert.equal(resolveRunId("run-\u{1F600}", {}), "run-\u{1F600}", "a surrogate pair is fine");
    const root = await mkdtemp(join(tmpdir(), "oc-run-id-surrogate-"));
    try {
      await assert.rejects(Snapshot.setup({ name: "lone", root, console: false, runId: "x\uD800" }), { code: "INVALID_ARGUMENT" });
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it("refuses a blank run id, naming where it came from; an empty variable is unset", () => {
    for (const blank of [" ", "\t", "  "]) {
      assert.throws(() => resolveRunId(undefined, { OPENCRATE_RUN_ID: blank }), { code: "INVALID_ARGUMENT", message: /from OPENCRATE_RUN_ID/ });
      assert.throws(() => resolveRunId(undefined, { TORCHELASTIC_RUN_ID: blank }), { code: "INVALID_ARGUMENT", message: /from TORCHELASTIC_RUN_ID/ });
      assert.throws(() => resolveRunId(blank, {}), { code: "INVALID_ARGUMENT", message: /from runId/ });
    }
    assert.equal(resolveRunId(undefined, { OPENCRATE_RUN_ID: "", TORCHELASTIC_RUN_ID: "torch" }), "torch");
  });

  it("names the variable a malformed run id came from", () => {
    assert.throws(() => resolveRunId(undefined, { OPENCRATE_RUN_ID: "a/b" }), { message: /from OPENCRATE_RUN_ID/ });
    assert.throws(() => resolveRunId(undefined, { TORCHELASTIC_RUN_ID: "a/b" }), { message: /from TORCHELASTIC_RUN_ID/ });
    assert.throws(() => resolveRunId(undefined, { SLURM_JOB_ID: "9/1", SLURM_STEP_ID: "0", SLURM_PROCID: "0" }), {
      message: /from SLURM_JOB_ID/,
    });
    assert.throws(() => resolveRunId("a/b", { OPENCRATE_RUN_ID: "fine" }), { message: /from runId/ });
  });
});

describe("setupRunId", () => {
  it("numbers a process's later setups of one name under the environment's run id; an option is taken as it is", () => {
    const env = { OPENCRATE_RUN_ID: "job-7" };
    const runIdOf = (name: string, option?: string): string | undefined => setupRunId(option, name, env).runId;
    assert.deepEqual([1, 2, 3].map(() => runIdOf("sweep-a")), ["job-7", "job-7#2", "job-7#3"]);
    assert.equal(runIdOf("sweep-b"), "job-7", "another name is counted apart");
    assert.deepEqual([1, 2].map(() => runIdOf("sweep-c", "given")), ["given", "given"]);
    assert.equal(setupRunId(undefined, "sweep-d", {}).runId, undefined);
  });

  it("a setup that failed before its version was resolved gives its number back, unless a later one took another", () => {
    const env = { OPENCRATE_RUN_ID: "job-8" };
    const failed = setupRunId(undefined, "retried", env);
    assert.equal(failed.runId, "job-8");
    failed.release();
    assert.equal(setupRunId(undefined, "retried", env).runId, "job-8", "made again under the same id");
    const first = setupRunId(undefined, "retried", env);
    const second = setupRunId(undefined, "retried", env);
    assert.deepEqual([first.runId, second.runId], ["job-8#2", "job-8#3"], "setups made at once get ids of their own");
    first.release();
    assert.equal(setupRunId(undefined, "retried", env).runId, "job-8#4");
  });
});

describe("setups under the environment's run id in one process", () => {
  it("two setups of one name made at once take versions of their own, each with its own log", async () => {
    const root = await mkdtemp(join(tmpdir(), "oc-run-id-"));
    process.env.OPENCRATE_RUN_ID = "job-at-once";
    try {
      const [a, b] = await Promise.all(["a", "b"].map(() => Snapshot.setup({ name: "at-once", root, console: false })));
      assert.ok(a !== undefined && b !== undefined);
      assert.deepEqual([a.version, b.version].sort(), [0, 1]);
      const [versionA, versionB] = [a.version, b.version];
      a.info("from a");
      b.info("from b");
      await Promise.all([a.close(), b.close()]);
      assert.match(await readFile(join(root, "at-once", `v${versionA}`, "at-once.log"), "utf8"), /from a\n$/);
      assert.match(await readFile(join(root, "at-once", `v${versionB}`, "at-once.log"), "utf8"), /from b\n$/);
    } finally {
      delete process.env.OPENCRATE_RUN_ID;
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe("resolveRank", () => {
  it("reads RANK, checks it against WORLD_SIZE", () => {
    assert.equal(resolveRank({}), undefined);
    assert.equal(resolveRank({ RANK: "3", WORLD_SIZE: "4" }), 3);
    assert.throws(() => resolveRank({ RANK: "4", WORLD_SIZE: "4" }), { code: "INVALID_ARGUMENT" });
    assert.throws(() => resolveRank({ RANK: "-1" }), { code: "INVALID_ARGUMENT" });
    assert.throws(() => resolveRank({ RANK: "one" }), { code: "INVALID_ARGUMENT" });
  });
});

describe("launchers other than torchrun", () => {
  it("reads the rank from Open MPI, MPICH and Slurm when RANK is unset (RANK first)", () => {
    assert.equal(resolveRank({ OMPI_COMM_WORLD_RANK: "2" }), 2);
    assert.equal(resolveRank({ PMI_RANK: "5" }), 5);
    assert.equal(resolveRank({ SLURM_PROCID: "7" }), 7);
    assert.equal(resolveRank({ RANK: "1", SLURM_PROCID: "7" }), 1);
    assert.throws(() => resolveRank({ PMI_RANK: "x" }), { code: "INVALID_ARGUMENT", message: /PMI_RANK/ });
  });

  it("takes the rank from LOCAL_RANK when RANK is unset and LOCAL_RANK tells the job's rank", () => {
    assert.equal(resolveRank({ LOCAL_RANK: "3" }), 3, "one machine");
    assert.equal(resolveRank({ LOCAL_RANK: "3", NODE_RANK: "0" }), 3);
    assert.equal(resolveRank({ LOCAL_RANK: "3", NODE_RANK: "2", LOCAL_WORLD_SIZE: "4" }), 11);
    assert.equal(resolveRank({ LOCAL_RANK: "3", NODE_RANK: "2" }), undefined, "ambiguous without LOCAL_WORLD_SIZE");
    assert.equal(resolveRank({ LOCAL_RANK: "3", RANK: "9" }), 9, "RANK wins");
    assert.equal(resolveRank({ LOCAL_RANK: "1", SLURM_PROCID: "5" }), 5, "a global rank wins");
    assert.throws(() => resolveRank({ LOCAL_RANK: "x" }), { code: "INVALID_ARGUMENT", message: /LOCAL_RANK/ });
    assert.throws(() => resolveRank({ LOCAL_RANK: "1", NODE_RANK: "-1" }), { code: "INVALID_ARGUMENT", message: /NODE_RANK/ });
    assert.throws(() => resolveRank({ LOCAL_RANK: "4", NODE_RANK: "1", LOCAL_WORLD_SIZE: "4" }), { message: /LOCAL_WORLD_SIZE/ });
    assert.throws(() => resolveRank({ LOCAL_RANK: "2", WORLD_SIZE: "2" }), { message: /WORLD_SIZE/ });
  });

  it("warns under a run id when LOCAL_RANK is set but the job's rank cannot be told", () => {
    assert.equal(rankWithoutRunIdWarning("job", { LOCAL_RANK: "1" }), undefined);
    assert.equal(rankWithoutRunIdWarning("job", { LOCAL_RANK: "1", NODE_RANK: "1", LOCAL_WORLD_SIZE: "2" }), undefined);
    assert.match(rankWithoutRunIdWarning("job", { LOCAL_RANK: "1", NODE_RANK: "1" }) ?? "", /^LOCAL_RANK=1 is set .* collide/);
  });

  it("ranks known only by LOCAL_RANK under one run id write logs of their own", async () => {
    const root = await mkdtemp(join(tmpdir(), "oc-local-rank-"));
    const saved = process.env.LOCAL_RANK;
    try {
      const snapshots = [];
      for (const local of ["0", "1"]) {
        process.env.LOCAL_RANK = local;
        snapshots.push(await new Snapshot().setup({ name: "lr", root, console: false, runId: "local-rank-job" }));
      }
      const [first, second] = snapshots;
      assert.ok(first !== undefined && second !== undefined);
      assert.equal(first.version, second.version, "the two ranks share one version");
      first.info("from local rank 0");
      second.info("from local rank 1");
      const folder = join(root, "lr", `v${first.version}`);
      await Promise.all(snapshots.map((snapshot) => snapshot.close()));
      assert.match(await readFile(join(folder, "lr.log"), "utf8"), /from local rank 0/);
      const files = await readdir(folder);
      const other = files.find((file) => file !== "lr.log" && file.endsWith(".log") && !file.includes("history"));
      assert.ok(other !== undefined, files.join(", "));
      const otherText = await readFile(join(folder, other), "utf8");
      assert.match(otherText, /from local rank 1/);
      assert.doesNotMatch(otherText, /from local rank 0/);
    } finally {
      if (saved === undefined) delete process.env.LOCAL_RANK;
      else process.env.LOCAL_RANK = saved;
      await rm(root, { recursive: true, force: true });
    }
  });

  it("names a run started by srun after its job and step, never after Slurm's batch step", () => {
    assert.equal(resolveRunId(undefined, { SLURM_JOB_ID: "991", SLURM_STEP_ID: "0", SLURM_PROCID: "3" }), "slurm-991.0");
    assert.equal(resolveRunId(undefined, { SLURM_JOB_ID: "991", SLURM_STEP_ID: "4294967291", SLURM_PROCID: "0" }), undefined);
    assert.equal(resolveRunId(undefined, { SLURM_JOB_ID: "991", SLURM_PROCID: "0" }), undefined);
    assert.equal(resolveRunId(undefined, { SLURM_JOB_ID: "991", SLURM_STEP_ID: "0", SLURM_PROCID: "0", OPENCRATE_RUN_ID: "mine" }), "mine");
  });

  it("warns about a rank without a run id, naming the variable that is set", () => {
    assert.equal(rankWithoutRunIdWarning(undefined, {}), undefined);
    assert.equal(rankWithoutRunIdWarning("job", { RANK: "1" }), undefined);
    for (const variable of ["RANK", "LOCAL_RANK", "OMPI_COMM_WORLD_RANK", "PMI_RANK", "SLURM_PROCID"]) {
      assert.match(rankWithoutRunIdWarning(undefined, { [variable]: "0" }) ?? "", new RegExp(`^${variable}=0 is set .* set OPENCRATE_RUN_ID`));
    }
  });
});
