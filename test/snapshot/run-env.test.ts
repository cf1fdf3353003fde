/** Run ids and ranks from options and the environment launchers set. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { resolveRank, resolveRunId } from "../../src/snapshot/run-env.ts";

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
