/** The process-wide session shape: lines before setup are kept and land in the first snapshot's .log only. */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { createSession } from "../../src/snapshot/session.ts";
import { expectCode, readText } from "../support/assertions.ts";

describe("the oc session", () => {
  it("keeps log lines from before setup and writes them into the first snapshot's .log", async () => {
    const oc = createSession();
    const backend = new MemoryBackend({ name: `session-${randomUUID()}` });
    oc.snapshot.logger.setConsole(false);
    oc.info("before", "setup", 42);
    oc.debug("filtered at info");
    await oc.snapshot.setup({ name: "early", backend, console: false });
    oc.success("after setup");
    await oc.snapshot.setup({ name: "early", backend, console: false });
    oc.warning("second run");
    await oc.close();
    const first = await readText(backend, "early/v0/early.log");
    assert.match(first, /- INFO {5}before setup 42\n/);
    assert.match(first, /- SUCCESS {2}after setup\n/);
    assert.doesNotMatch(first, /filtered at info/);
    const second = await readText(backend, "early/v1/early.log");
    assert.doesNotMatch(second, /before setup/);
    assert.match(second, /- WARNING {2}second run\n/);
  });

  it("exception logs the error's stack on the following lines", async () => {
    const oc = createSession();
    const backend = new MemoryBackend({ name: `session-${randomUUID()}` });
    await oc.snapshot.setup({ name: "boom", backend, console: false });
    try {
      JSON.parse("{");
    } catch (error) {
      oc.exception("parsing failed", error);
    }
    await oc.flush();
    const log = await readText(backend, "boom/v0/boom.log");
    assert.match(log, /- ERROR {4}parsing failed\nSyntaxError: [^\n]+\n {4}at /);
    await oc.close();
  });

  it("saving after close() says the snapshot was closed, naming it; a new setup writes again", async () => {
    const oc = createSession();
    const backend = new MemoryBackend({ name: `session-${randomUUID()}` });
    const before = await expectCode(() => oc.snapshot.json("a.json").save({ a: 1 }), "NOT_SET_UP");
    assert.match(before.message, /is not set up: call `await oc\.snapshot\.setup/);
    await oc.snapshot.setup({ name: "closed", backend, console: false });
    await oc.close();
    const after = await expectCode(() => oc.snapshot.json("a.json").save({ a: 1 }), "NOT_SET_UP");
    assert.match(after.message, /^The snapshot at memory:\/\/[^ ]+\/closed\/v0 was closed \(close\(\) ends the run\): call setup\(\) again/);
    assert.match(after.path ?? "", /closed\/v0$/);
    await oc.snapshot.setup({ name: "closed", start: "last", backend, console: false });
    await oc.snapshot.json("a.json").save({ a: 1 });
    await oc.close();
    assert.deepEqual(JSON.parse(await readText(backend, "closed/v0/jsons/a.json")), { a: 1 });
  });
});
