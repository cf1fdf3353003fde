/**
 * Lines are never joined into one string past a bound (V8 refuses strings past about 2^29 characters): a batch
 * beyond it is cut into several strings, and a log written in such batches still holds every line once, in order.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { joinBounded, MAX_JOINED_CHARS } from "../../src/logs/bounded-join.ts";
import { LogObjectWriter } from "../../src/logs/log-object.ts";
import { memoryFactory } from "../support/backends.ts";
import { readText } from "./helpers.ts";

describe("joinBounded", () => {
  it("joins a small batch into one string", () => {
    assert.deepEqual(joinBounded(["a", "b", "c"], "\n"), ["a\nb\nc"]);
    assert.deepEqual(joinBounded([], "\n"), []);
  });

  it("cuts between pieces so that no string passes the bound; a longer piece stands alone", () => {
    const pieces = ["aaaa", "bb", "cc", "dddddddddd", "e", "f"];
    const joined = joinBounded(pieces, "\n", 6);
    assert.deepEqual(joined, ["aaaa", "bb\ncc", "dddddddddd", "e\nf"]);
    assert.equal(joined.join("\n"), pieces.join("\n"), "nothing is lost or moved");
  });

  it("keeps the default bound far below V8's string limit", () => {
    assert.ok(MAX_JOINED_CHARS <= 2 ** 28);
  });
});

describe("a log whose buffered lines pass the join bound", () => {
  for (const resume of [false, true]) {
    it(`stores every line once, in order (${resume ? "resumed, with its history" : "new run"})`, async () => {
      const backend = await memoryFactory().make();
      const writer = new LogObjectWriter({
        backend,
        logKey: "run/v0/run.log",
        historyKey: "run/v0/run.history.log",
        resume,
        flushIntervalMs: 3_600_000,
        flushBytes: 1 << 30,
        maxBatchChars: 40,
      });
      await writer.start();
      const lines = Array.from({ length: 50 }, (_, i) => `line ${i}`);
      for (const line of lines) writer.write(line);
      await writer.close();
      const expected = `${lines.join("\n")}\n`;
      assert.equal(await readText(backend, "run/v0/run.log"), expected);
      if (resume) assert.equal(await readText(backend, "run/v0/run.history.log"), expected);
    });
  }
});
