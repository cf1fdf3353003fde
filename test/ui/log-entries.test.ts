/** How the log view groups a log's lines into entries: levels found whatever the line ends, work linear in lines. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { appendEntries, type LogEntry } from "../../src/ui/web/log-entries.ts";

const shape = (entries: readonly LogEntry[]): [string | null, string[]][] => entries.map((entry) => [entry.level, [...entry.lines]]);

/**
 * How many array elements `work` walks through the iteration protocol (for…of, spread, Array.from): the way lines
 * are copied into an entry. Counting them tells linear from quadratic work without timing anything.
 */
function countIterated(work: () => void): number {
  const original = Array.prototype[Symbol.iterator];
  let steps = 0;
  Array.prototype[Symbol.iterator] = function counted(this: unknown[]) {
    const inner = original.call(this);
    return {
      next: () => {
        steps++;
        return inner.next();
      },
      [Symbol.iterator]() {
        return this;
      },
    } as ArrayIterator<unknown>;
  };
  try {
    work();
  } finally {
    Array.prototype[Symbol.iterator] = original;
  }
  return steps;
}

describe("the log view's entries", () => {
  it("reads CRLF lines and lines redrawn with carriage returns by their level", () => {
    const crlf = "2026-01-01 00:00:00 - INFO     one\r\n2026-01-01 00:00:01 - ERROR    two\r\n  at f (x.py:1)\r\n";
    assert.deepEqual(shape(appendEntries([], crlf)), [
      ["INFO", ["one"]],
      ["ERROR", ["two", "  at f (x.py:1)"]],
    ]);
    const progress = "2026-01-01 00:00:00 - INFO     start\r  0%|   |\r 50%|#  |\r100%|###|\n\r 10%|#\r2026-01-01 00:00:02 - WARNING  after the bar\n";
    const entries = appendEntries([], progress);
    assert.deepEqual(entries.map((entry) => entry.level), ["INFO", "WARNING"]);
    assert.equal(entries[1]?.lines[0], "after the bar");
  });

  it("keeps each line of a log in another format on its own, and joins continuation lines to the entry above", () => {
    assert.deepEqual(shape(appendEntries([], "plain one\nplain two\n")), [
      [null, ["plain one"]],
      [null, ["plain two"]],
    ]);
    const first = appendEntries([], "2026-01-01 00:00:00 - ERROR    boom\nTraceback\n");
    const second = appendEntries(first, '  File "x.py"\n2026-01-01 00:00:01 - INFO     next\n');
    assert.deepEqual(shape(second), [
      ["ERROR", ["boom", "Traceback", '  File "x.py"']],
      ["INFO", ["next"]],
    ]);
    assert.deepEqual(shape(first), [["ERROR", ["boom", "Traceback"]]], "the earlier entries are not changed");
  });

  it("does work linear in the lines: a long stack or a log in another format copies no line list per line", () => {
    const lines = 20_000;
    const stack = `2026-01-01 00:00:00 - ERROR    boom\n${"  at frame\n".repeat(lines)}`;
    let entries: LogEntry[] = [];
    const steps = countIterated(() => {
      entries = appendEntries([], stack);
    });
    assert.equal(entries.length, 1);
    assert.equal(entries[0]?.lines.length, lines + 1);
    assert.ok(steps < 4 * lines, `${steps} elements walked for ${lines} lines`);
    const continued = countIterated(() => {
      entries = appendEntries(entries, "  at one more\n".repeat(lines));
    });
    assert.equal(entries[0]?.lines.length, 2 * lines + 1);
    assert.ok(continued < 6 * lines, `${continued} elements walked for ${lines} more lines`);
    const plain = countIterated(() => {
      entries = appendEntries([], "plain output line\n".repeat(lines));
    });
    assert.equal(entries.length, lines);
    assert.ok(plain < 4 * lines, `${plain} elements walked for ${lines} plain lines`);
  });
});
