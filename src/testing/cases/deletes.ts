/**
 * Conditional deletes (`delete(key, { ifRevision })`), on backends that declare `conditionalDelete`. A backend that
 * finds its store ignores the condition throws NotSupportedError: the case then checks nothing was deleted and
 * reports itself skipped, naming the store's refusal.
 */
import assert from "node:assert/strict";
import type { TestContext } from "node:test";
import type { StorageBackend } from "../../backends/backend.ts";
import { isOpenCrateError } from "../../errors.ts";
import type { ConformanceFixture } from "../fixture.ts";
import { listKeys, readText, rejectsWithCode } from "../helpers.ts";

/**
 * Runs the first conditional delete of a case. False (the case skipped) when the store ignores the condition and
 * the backend said so with NotSupportedError, after checking that `key` is still there.
 */
async function firstConditionalDelete(
  backend: StorageBackend,
  context: TestContext,
  key: string,
  attempt: () => Promise<void>,
): Promise<"ran" | "refused" | Error> {
  try {
    await attempt();
    return "ran";
  } catch (error) {
    if (!isOpenCrateError(error, "NOT_SUPPORTED")) return error as Error;
    await backend.head(key); // a refused conditional delete deletes nothing
    context.skip(`the store ignores conditional deletes: ${error.message}`);
    return "refused";
  }
}

export function deleteCases(fixture: ConformanceFixture): void {
  fixture.itNeeding(["conditionalDelete"], "a delete at the current revision removes the object", async (backend, context) => {
    const written = await backend.put("records/a.json", "a");
    const outcome = await firstConditionalDelete(backend, context, "records/a.json", () =>
      backend.delete("records/a.json", { ifRevision: written.revision }),
    );
    if (outcome === "refused") return;
    if (outcome instanceof Error) throw outcome;
    await rejectsWithCode(backend.head("records/a.json"), "NOT_FOUND", "head after the delete");
    // The revisions a head and a listing give are good for it too.
    await backend.put("records/b.json", "b");
    await backend.delete("records/b.json", { ifRevision: (await backend.head("records/b.json")).revision });
    await backend.put("records/c.json", "c");
    for await (const info of backend.list("records/")) await backend.delete(info.key, { ifRevision: info.revision });
    assert.deepEqual(await listKeys(backend, ""), []);
  });

  fixture.itNeeding(["conditionalDelete"], "a delete at a stale revision fails with PRECONDITION_FAILED and leaves the object", async (backend, context) => {
    const first = await backend.put("records/run.json", "first");
    const second = await backend.put("records/run.json", "second");
    const outcome = await firstConditionalDelete(backend, context, "records/run.json", () =>
      backend.delete("records/run.json", { ifRevision: first.revision }),
    );
    if (outcome === "refused") return;
    assert.ok(outcome instanceof Error, "a delete at a stale revision must fail");
    assert.ok(isOpenCrateError(outcome, "PRECONDITION_FAILED"), `expected PRECONDITION_FAILED, got ${String(outcome)}`);
    await rejectsWithCode(backend.delete("records/run.json", { ifRevision: "not-a-revision" }), "PRECONDITION_FAILED", "made up");
    assert.equal(await readText(backend, "records/run.json"), "second");
    assert.equal((await backend.head("records/run.json")).revision, second.revision);
  });

  fixture.itNeeding(["conditionalDelete"], "a conditional delete of a missing key resolves, as a plain delete does", async (backend, context) => {
    const gone = await backend.put("records/gone.json", "x");
    await backend.delete("records/gone.json");
    await backend.put("records/witness.json", "w");
    const outcome = await firstConditionalDelete(backend, context, "records/witness.json", () =>
      backend.delete("records/gone.json", { ifRevision: gone.revision }),
    );
    if (outcome === "refused") return;
    if (outcome instanceof Error) throw outcome;
    await backend.delete("records/never.json", { ifRevision: gone.revision });
    await backend.delete("records/never.json", { ifRevision: "not-a-revision" });
    assert.deepEqual(await listKeys(backend, ""), ["records/witness.json"]);
  });

  fixture.itNeeding(
    ["conditionalDelete"],
    "a conditional delete sent again after it landed resolves, and one landing after the key was written anew deletes nothing",
    async (backend, context) => {
      const old = await backend.put("v0/metrics.json", "old run");
      const outcome = await firstConditionalDelete(backend, context, "v0/metrics.json", () =>
        backend.delete("v0/metrics.json", { ifRevision: old.revision }),
      );
      if (outcome === "refused") return;
      if (outcome instanceof Error) throw outcome;
      // The same request again, as a retry whose first attempt landed: done.
      await backend.delete("v0/metrics.json", { ifRevision: old.revision });
      // The new run writes the key; the old request lands late: the new object stays.
      await backend.put("v0/metrics.json", "new run");
      await rejectsWithCode(backend.delete("v0/metrics.json", { ifRevision: old.revision }), "PRECONDITION_FAILED", "late delete");
      assert.equal(await readText(backend, "v0/metrics.json"), "new run");
    },
  );
}
