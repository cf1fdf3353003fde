/** The process-wide session shape: lines before setup are kept and land in the first snapshot's .log only. */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, describe, it } from "node:test";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { createSession } from "../../src/snapshot/session.ts";
import { expectCode, readText } from "../support/assertions.ts";
import { allBackendFactories } from "../support/backends.ts";

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

for (const factory of allBackendFactories()) {
  describe(`lines logged after close() on ${factory.label}`, { skip: factory.skip }, () => {
    after(() => factory.cleanup());

    it("are not stored, in the closed run's log or the next run's (one OPENCRATE_LOG_CLOSED warning); setup's own lines are the new run's", async () => {
      const oc = createSession();
      const backend = await factory.make();
      const warnings: string[] = [];
      const onWarning = (warning: Error & { code?: string }): void => {
        warnings.push(warning.code ?? "");
      };
      process.on("warning", onWarning);
      try {
        oc.snapshot.logger.setConsole(false);
        oc.info("before any setup");
        await oc.snapshot.setup({ name: "a", backend, console: false });
        oc.info("a: last line");
        await oc.close();
        oc.info("after a was closed");
        oc.warning("still after a was closed");
        await oc.snapshot.setup({ name: "b", start: "last", backend, console: false }); // warns: no version yet
        oc.info("b: first line");
        await oc.close();
        await new Promise((resolve) => setImmediate(resolve));
      } finally {
        process.off("warning", onWarning);
      }
      const lines = async (key: string): Promise<string[]> =>
        (await readText(backend, key))
          .split("\n")
          .filter(Boolean)
          .map((line) => line.replace(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d - /, ""));
      assert.deepEqual(await lines("a/v0/a.log"), ["INFO     before any setup", "INFO     a: last line"]);
      const b = await lines("b/v0/b.log");
      assert.match(b[0] ?? "", /^WARNING  No version of 'b' exists at .*; created v0\.$/, "setup's own warning is the new run's");
      assert.deepEqual(b.slice(1), ["INFO     b: first line"]);
      assert.deepEqual(warnings, ["OPENCRATE_LOG_CLOSED"]);
    });

    it("lines logged while a second setup() closes the previous run go into the new run's log", async () => {
      const oc = createSession();
      const backend = await factory.make();
      oc.snapshot.logger.setConsole(false);
      await oc.snapshot.setup({ name: "c", backend, console: false });
      oc.info("c: last line");
      const next = oc.snapshot.setup({ name: "d", backend, console: false });
      oc.info("logged while setup(d) runs");
      await next;
      oc.info("d: first line");
      await oc.close();
      const lines = (await readText(backend, "d/v0/d.log")).split("\n").filter(Boolean).map((line) => line.slice(22));
      assert.deepEqual(lines, ["INFO     logged while setup(d) runs", "INFO     d: first line"]);
      assert.doesNotMatch(await readText(backend, "c/v0/c.log"), /setup\(d\)/);
    });
  });
}
