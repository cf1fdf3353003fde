/**
 * The one settle of conditional writes whose answer was lost (src/backends/conditional-write.ts), on its own:
 * what a read-back decides, conflicts sent again under the policy, unsettled writes resent with the same token.
 * The S3 and GCS backends and the version claims run through it; their real-server cases are in
 * test/faults/ambiguous-writes.test.ts, test/faults/mixed-operations.test.ts and the S3 / GCS specific suites.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { settleConditionalWrite, type ConditionalWrite, type ReadBack } from "../../src/backends/conditional-write.ts";
import { RetryPolicy } from "../../src/backends/retry-policy.ts";

const lostAnswer = new Error("reset after the request was sent");
const conflict = new Error("409 ConditionalRequestConflict");
const refused = new Error("403");

/** A spec whose write fails with `failures` in turn, then succeeds with "mine"; counts writes and reads. */
function scripted(failures: Error[], readBacks: (ReadBack<string, string> | Error)[], extra: Partial<ConditionalWrite<string, string>> = {}) {
  const counts = { writes: 0, reads: 0 };
  const spec: ConditionalWrite<string, string> = {
    write: async () => {
      const failure = failures[counts.writes++];
      if (failure !== undefined) throw failure;
      return "mine";
    },
    classify: (error) => (error === conflict ? "conflict" : error === lostAnswer ? "unknown" : "final"),
    readBack: async () => {
      const found = readBacks[counts.reads++];
      if (found === undefined) throw new Error("no read-back scripted");
      if (found instanceof Error) throw found;
      return found;
    },
    retry: new RetryPolicy({ attempts: 3, conflictAttempts: 4, sleep: async () => {} }),
    replayable: true,
    ...extra,
  };
  return { spec, counts };
}

describe("settleConditionalWrite", () => {
  it("returns what the write returned, without reading back", async () => {
    const { spec, counts } = scripted([], []);
    assert.deepEqual(await settleConditionalWrite(spec), { outcome: "written", value: "mine" });
    assert.deepEqual(counts, { writes: 1, reads: 0 });
  });

  it("settles a lost answer by the read-back: our token is written, another is taken, none is failed", async () => {
    const ours = scripted([lostAnswer], [{ ours: "read back" }]);
    assert.deepEqual(await settleConditionalWrite(ours.spec), { outcome: "written", value: "read back" });
    const theirs = scripted([lostAnswer], [{ theirs: "someone else's" }]);
    assert.deepEqual(await settleConditionalWrite(theirs.spec), { outcome: "taken", error: lostAnswer, stored: "someone else's" });
    const absent = scripted([lostAnswer], ["absent"]);
    assert.deepEqual(await settleConditionalWrite(absent.spec), { outcome: "failed", error: lostAnswer });
    assert.equal(absent.counts.writes, 1, "not resent unless asked");
  });

  it("leaves the outcome unknown when the read-back fails too, unless that failure is fatal", async () => {
    const readError = new Error("503 on the read");
    const unknown = scripted([lostAnswer], [readError]);
    assert.deepEqual(await settleConditionalWrite(unknown.spec), { outcome: "unknown", error: lostAnswer, readError });
    const corrupt = new Error("corrupt");
    const fatal = scripted([lostAnswer], [corrupt], { fatalReadError: (error) => error === corrupt });
    await assert.rejects(settleConditionalWrite(fatal.spec), (error: unknown) => error === corrupt);
  });

  it("takes a failure classified as another writer's object without reading back, and tells classify which send failed", async () => {
    const taken = new Error("already exists");
    const sends: number[] = [];
    const classify = (error: unknown, send: number) => {
      sends.push(send);
      return error === conflict ? "conflict" : error === taken && send > 1 ? "theirs" : "final";
    };
    const { spec, counts } = scripted([conflict, taken], [], { classify });
    const settled = await settleConditionalWrite(spec);
    assert.deepEqual(settled, { outcome: "taken", error: taken, stored: undefined });
    assert.deepEqual(sends, [1, 2]);
    assert.deepEqual(counts, { writes: 2, reads: 0 });
  });

  it("never reads back a final failure", async () => {
    const { spec, counts } = scripted([refused], []);
    assert.deepEqual(await settleConditionalWrite(spec), { outcome: "failed", error: refused });
    assert.deepEqual(counts, { writes: 1, reads: 0 });
  });

  it("sends a write that met a conflict (nothing written) again within the policy's attempts, never a body that cannot be replayed", async () => {
    const twice = scripted([conflict, conflict], []);
    assert.deepEqual(await settleConditionalWrite(twice.spec), { outcome: "written", value: "mine" });
    assert.equal(twice.counts.writes, 3);
    const always = scripted([conflict, conflict, conflict, conflict, conflict], []);
    assert.deepEqual(await settleConditionalWrite(always.spec), { outcome: "failed", error: conflict });
    assert.equal(always.counts.writes, 3, "the policy's 3 attempts");
    const once = scripted([conflict], [], { replayable: false });
    assert.deepEqual(await settleConditionalWrite(once.spec), { outcome: "failed", error: conflict });
    assert.equal(once.counts.writes, 1);
  });

  it("with resendUnsettled, sends the same write again while it reads back absent or unreadable, within attempts", async () => {
    const landsLater = scripted([lostAnswer, lostAnswer], ["absent", new Error("503")], { resendUnsettled: true });
    assert.deepEqual(await settleConditionalWrite(landsLater.spec), { outcome: "written", value: "mine" });
    assert.deepEqual(landsLater.counts, { writes: 3, reads: 2 });
    const never = scripted([lostAnswer, lostAnswer, lostAnswer, lostAnswer], ["absent", "absent", "absent", "absent"], { resendUnsettled: true });
    assert.deepEqual(await settleConditionalWrite(never.spec), { outcome: "failed", error: lostAnswer });
    assert.equal(never.counts.writes, 3, "the policy's 3 attempts");
  });

  it("reads nothing back once the caller's signal aborted: a stopped write never reached its commit", async () => {
    const controller = new AbortController();
    controller.abort();
    const { spec, counts } = scripted([lostAnswer], [{ ours: "x" }], { signal: controller.signal });
    assert.deepEqual(await settleConditionalWrite(spec), { outcome: "failed", error: lostAnswer });
    assert.equal(counts.reads, 0);
  });
});
