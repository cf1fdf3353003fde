/** The optional `append`: bytes at the end, a new revision, compare-and-swap on `ifRevision`, nothing on failure. */
import assert from "node:assert/strict";
import { isOpenCrateError } from "../../errors.ts";
import type { ConformanceFixture } from "../fixture.ts";
import { listKeys, readText, rejectsWithCode } from "../helpers.ts";

const bytes = (text: string): Uint8Array => Buffer.from(text, "utf8");

export function appendCases(fixture: ConformanceFixture): void {
  fixture.itAppend("append adds the bytes at the end under a new revision", async (backend, append) => {
    const first = await backend.put("logs/run.log", "one\n");
    const second = await append("logs/run.log", bytes("two\n"));
    assert.notEqual(second.revision, first.revision);
    assert.equal(second.size, 8);
    assert.equal(second.key, "logs/run.log");
    const head = await backend.head("logs/run.log");
    assert.equal(head.revision, second.revision);
    assert.equal(head.size, 8);
    const third = await append("logs/run.log", bytes("three\n"), { ifRevision: second.revision });
    assert.notEqual(third.revision, second.revision);
    assert.equal(await readText(backend, "logs/run.log"), "one\ntwo\nthree\n");
  });

  fixture.itAppend("append keeps the metadata unless given new metadata, which replaces it", async (backend, append) => {
    if (backend.capabilities.userMetadata === false) {
      await backend.put("meta.log", "a\n", { metadata: { owner: "x" } });
      await append("meta.log", bytes("b\n"), { metadata: { owner: "y" } });
      assert.equal(await readText(backend, "meta.log"), "a\nb\n", "metadata is dropped, the bytes are not");
      return;
    }
    await backend.put("meta.log", "a\n", { metadata: { owner: "x", batches: "1" } });
    await append("meta.log", bytes("b\n"));
    assert.deepEqual({ ...(await backend.head("meta.log")).metadata }, { owner: "x", batches: "1" });
    await append("meta.log", bytes("c\n"), { metadata: { batches: "1 2" } });
    assert.deepEqual({ ...(await backend.head("meta.log")).metadata }, { batches: "1 2" });
    assert.equal(await readText(backend, "meta.log"), "a\nb\nc\n");
  });

  fixture.itAppend("append with a stale revision fails with PRECONDITION_FAILED and changes nothing", async (backend, append) => {
    const first = await backend.put("stale.log", "v1\n");
    const second = await backend.put("stale.log", "v2\n");
    await rejectsWithCode(append("stale.log", bytes("late\n"), { ifRevision: first.revision }), "PRECONDITION_FAILED", "stale");
    await rejectsWithCode(append("stale.log", bytes("late\n"), { ifRevision: "not-a-revision" }), "PRECONDITION_FAILED", "made up");
    assert.equal(await readText(backend, "stale.log"), "v2\n");
    assert.equal((await backend.head("stale.log")).revision, second.revision);

    const appended = await append("stale.log", bytes("ok\n"), { ifRevision: second.revision });
    await rejectsWithCode(append("stale.log", bytes("twice\n"), { ifRevision: second.revision }), "PRECONDITION_FAILED", "reused");
    assert.equal(await readText(backend, "stale.log"), "v2\nok\n");
    assert.equal((await backend.head("stale.log")).revision, appended.revision);
  });

  fixture.itAppend("append to a missing key fails with NOT_FOUND and creates nothing", async (backend, append) => {
    await rejectsWithCode(append("missing/run.log", bytes("x\n")), "NOT_FOUND", "no revision");
    await rejectsWithCode(append("missing/run.log", bytes("x\n"), { ifRevision: "1" }), "NOT_FOUND", "with a revision");
    await backend.put("missing/other.log", "keep\n");
    await rejectsWithCode(append("missing", bytes("x\n")), "NOT_FOUND", "a folder");
    assert.deepEqual(await listKeys(backend, ""), ["missing/other.log"]);
  });

  fixture.itAppend("append of no bytes changes nothing but still checks the revision", async (backend, append) => {
    const first = await backend.put("empty.log", "x\n");
    const same = await append("empty.log", new Uint8Array(0), { ifRevision: first.revision });
    assert.equal(same.revision, first.revision);
    assert.equal(same.size, 2);
    await backend.put("empty.log", "y\n");
    await rejectsWithCode(append("empty.log", new Uint8Array(0), { ifRevision: first.revision }), "PRECONDITION_FAILED", "stale");
  });

  fixture.itAppend("append refuses an invalid key before any I/O", async (backend, append) => {
    await rejectsWithCode(append("../escape.log", bytes("x")), "INVALID_ARGUMENT", "dot-dot");
    await rejectsWithCode(append("/abs.log", bytes("x")), "INVALID_ARGUMENT", "absolute");
  });

  // A race: left out with `races: false`, for stores whose compare-and-swap is not atomic (moto).
  if (fixture.options.races === false) return;
  fixture.itAppend("appenders racing with head + append(ifRevision) each land every line exactly once", async (backend, append) => {
    await backend.put("race.log", "");
    const writers = 4;
    const linesEach = 8;
    await Promise.all(
      Array.from({ length: writers }, async (_, writer) => {
        for (let line = 0; line < linesEach; line++) {
          for (;;) {
            const { revision } = await backend.head("race.log");
            try {
              await append("race.log", bytes(`w${writer} ${line}\n`), { ifRevision: revision });
              break;
            } catch (error) {
              if (!isOpenCrateError(error, "PRECONDITION_FAILED")) throw error;
            }
          }
        }
      }),
    );
    const lines = (await readText(backend, "race.log")).split("\n").filter(Boolean);
    assert.equal(lines.length, writers * linesEach);
    assert.equal(new Set(lines).size, lines.length, "no line twice");
    for (let writer = 0; writer < writers; writer++) {
      const own = lines.filter((line) => line.startsWith(`w${writer} `));
      assert.deepEqual(own, Array.from({ length: linesEach }, (_, line) => `w${writer} ${line}`), `w${writer} in order`);
    }
  });
}
