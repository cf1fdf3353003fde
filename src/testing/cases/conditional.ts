/** Create-only and compare-and-swap writes, through put, putStream and copy. */
import assert from "node:assert/strict";
import { CREATE_ONLY, ifRevision } from "../../backends/backend.ts";
import type { ConformanceFixture } from "../fixture.ts";
import { listKeys, readText, rejectsWithCode } from "../helpers.ts";

async function* chunks(...parts: string[]): AsyncGenerator<Uint8Array> {
  for (const part of parts) yield Buffer.from(part);
}

export function conditionalCases(fixture: ConformanceFixture): void {
  fixture.itNeeding(["createOnly"], "create-only writes once; a second create fails and leaves the content", async (backend) => {
    const created = await backend.put("claims/0001.json", "first", { mode: CREATE_ONLY });
    const error = await rejectsWithCode(
      backend.put("claims/0001.json", "second", { mode: CREATE_ONLY }),
      "ALREADY_EXISTS",
      "second create",
    );
    assert.ok(error.message.includes("claims/0001.json"), `the message names the key: ${error.message}`);
    await rejectsWithCode(
      backend.putStream("claims/0001.json", chunks("third"), { mode: CREATE_ONLY }),
      "ALREADY_EXISTS",
      "create by putStream",
    );
    assert.equal(await readText(backend, "claims/0001.json"), "first");
    assert.equal((await backend.head("claims/0001.json")).revision, created.revision);
    assert.deepEqual(await listKeys(backend, ""), ["claims/0001.json"], "a failed create leaves nothing behind");
  });

  fixture.itNeeding(["createOnly"], "create-only works by putStream and again after a delete", async (backend) => {
    await backend.putStream("claims/stream.json", chunks("a", "b", "c"), { mode: CREATE_ONLY });
    assert.equal(await readText(backend, "claims/stream.json"), "abc");
    await backend.delete("claims/stream.json");
    await backend.put("claims/stream.json", "again", { mode: CREATE_ONLY });
    assert.equal(await readText(backend, "claims/stream.json"), "again");
  });

  fixture.itNeeding(["compareAndSwap"], "replace with the current revision succeeds and returns a new revision", async (backend) => {
    const first = await backend.put("counter.txt", "1");
    const second = await backend.put("counter.txt", "2", { mode: ifRevision(first.revision) });
    assert.notEqual(second.revision, first.revision);
    assert.equal((await backend.head("counter.txt")).revision, second.revision);
    assert.equal(await readText(backend, "counter.txt"), "2");
    const third = await backend.putStream("counter.txt", chunks("3"), { mode: ifRevision(second.revision) });
    assert.notEqual(third.revision, second.revision);
    assert.equal(await readText(backend, "counter.txt"), "3");
  });

  fixture.itNeeding(["compareAndSwap"], "replace with a stale revision fails and leaves the content", async (backend) => {
    const first = await backend.put("counter.txt", "1");
    const second = await backend.put("counter.txt", "2");
    await rejectsWithCode(backend.put("counter.txt", "x", { mode: ifRevision(first.revision) }), "PRECONDITION_FAILED", "put");
    await rejectsWithCode(
      backend.putStream("counter.txt", chunks("y"), { mode: ifRevision(first.revision) }),
      "PRECONDITION_FAILED",
      "putStream",
    );
    await rejectsWithCode(backend.put("counter.txt", "z", { mode: ifRevision("not-a-revision") }), "PRECONDITION_FAILED", "made up");
    assert.equal(await readText(backend, "counter.txt"), "2");
    assert.equal((await backend.head("counter.txt")).revision, second.revision);
    assert.deepEqual(await listKeys(backend, ""), ["counter.txt"], "failed replaces leave nothing behind");
  });

  fixture.itNeeding(["compareAndSwap"], "replace on a missing key fails with PRECONDITION_FAILED", async (backend) => {
    const gone = await backend.put("was-here.txt", "x");
    await backend.delete("was-here.txt");
    await rejectsWithCode(backend.put("was-here.txt", "y", { mode: ifRevision(gone.revision) }), "PRECONDITION_FAILED", "deleted");
    await rejectsWithCode(backend.put("never.txt", "y", { mode: ifRevision(gone.revision) }), "PRECONDITION_FAILED", "never");
    assert.deepEqual(await listKeys(backend, ""), []);
  });

  fixture.itNeeding(["copyCreateOnly"], "copy honours create-only: onto a free key it works, onto a taken one it fails", async (backend) => {
    await backend.put("ckpt/model.bin", "weights");
    await backend.copy("ckpt/model.bin", "ckpt/model.backup_a.bin", { mode: CREATE_ONLY });
    assert.equal(await readText(backend, "ckpt/model.backup_a.bin"), "weights");
    await backend.put("ckpt/model.bin", "new weights");
    await rejectsWithCode(
      backend.copy("ckpt/model.bin", "ckpt/model.backup_a.bin", { mode: CREATE_ONLY }),
      "ALREADY_EXISTS",
      "copy onto a taken key",
    );
    assert.equal(await readText(backend, "ckpt/model.backup_a.bin"), "weights");
  });
}
