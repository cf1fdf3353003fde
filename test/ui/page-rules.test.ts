/** The page's small rules on their own (no browser): the bounds on its work, and what it shows for odd values. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { csvLayout, PLOT_SERIES, TABLE_COLUMNS } from "../../src/ui/web/csv-layout.ts";
import { MAX_EDITS, MAX_LINES, sideBySide } from "../../src/ui/web/diff-rows.ts";
import { formatDuration, runDuration } from "../../src/ui/web/format.ts";
import { FIRST_CHILDREN, shownChildren } from "../../src/ui/web/json-children.ts";

describe("the page's bounds", () => {
  it("reads only the first children of a JSON level, doubling at each 'show more'", () => {
    const keys = Object.fromEntries(Array.from({ length: 250 }, (_, index) => [`k${index}`, index]));
    const first = shownChildren(keys);
    assert.deepEqual([first.entries.length, first.total, first.next], [FIRST_CHILDREN, 250, 200]);
    assert.deepEqual(first.entries[0], ["k0", 0]);
    const second = shownChildren(keys, first.next);
    assert.deepEqual([second.entries.length, second.next], [200, 250]);
    assert.deepEqual([shownChildren(keys, second.next).entries.length, shownChildren(keys, second.next).next], [250, undefined]);
    assert.deepEqual(shownChildren([1, 2]), { entries: [["0", 1], ["1", 2]], total: 2, next: undefined });
  });

  it("caps a wide CSV's table columns and plot lines, and tells numeric columns and the x column", () => {
    const header = ["epoch", "name", ...Array.from({ length: 6000 }, (_, index) => `c${index}`)];
    const rows = Array.from({ length: 20 }, (_, row) => header.map((_, column) => (column === 1 ? `run ${row}` : String(row + column))));
    const layout = csvLayout({ size: 1, header, rows, truncated: false });
    assert.equal(layout.tableColumns, TABLE_COLUMNS);
    assert.equal(layout.xColumn, 0);
    assert.equal(layout.series.length, PLOT_SERIES);
    assert.deepEqual(layout.series.slice(0, 2), [2, 3]);
    assert.equal(layout.plottable, 6000);
    assert.deepEqual(layout.numeric.slice(0, 3), [true, false, true]);
    const sparse = csvLayout({ size: 1, header: ["a", "b"], rows: [["1", ""], ["", ""]], truncated: false });
    assert.deepEqual([sparse.numeric, sparse.xColumn, sparse.series], [[true, false], undefined, [0]]);
  });

  it("diffs two texts side by side, and says when they are too large or too different rather than diff on", () => {
    const diff = sideBySide("a\nb\nc\n", "a\nB\nc\nd\n");
    assert.deepEqual(diff.kind === "rows" ? diff.rows.map((row) => [row.kind, row.left, row.right]) : diff, [
      ["same", "a", "a"],
      ["changed", "b", "B"],
      ["same", "c", "c"],
      ["added", null, "d"],
    ]);
    const added = sideBySide("", "x\ny\n");
    assert.deepEqual(added.kind === "rows" ? added.rows.map((row) => row.kind) : added, ["added", "added"]);
    const lines = (count: number, side: string): string => Array.from({ length: count }, (_, index) => `${side} ${index}`).join("\n");
    // Every line differs: a full diff would make 2 × 3,000 edits, over the bound.
    assert.ok(2 * 3000 > MAX_EDITS);
    assert.deepEqual(sideBySide(lines(3000, "left"), lines(3000, "right")), { kind: "too-different" });
    assert.deepEqual(sideBySide(lines(MAX_LINES + 1, "same"), lines(10, "same")), { kind: "too-large", lines: MAX_LINES + 1 });
    assert.deepEqual(sideBySide("", lines(MAX_LINES + 1, "new")), { kind: "too-large", lines: MAX_LINES + 1 });
    // Few changes in long files are still shown.
    const long = lines(MAX_LINES, "same").split("\n");
    const edited = long.map((line, index) => (index % 1000 === 0 ? `${line} edited` : line)).join("\n");
    const near = sideBySide(long.join("\n"), edited);
    assert.equal(near.kind === "rows" ? near.rows.filter((row) => row.kind === "changed").length : -1, MAX_LINES / 1000);
  });

  it("shows no duration for a run whose start or end is no time", () => {
    const run = { startedAt: "yesterday", createdAt: null, endedAt: "2026-01-01T00:00:00.000Z", status: "finished", lastSeen: null };
    assert.equal(runDuration(run), "–");
    assert.equal(runDuration({ ...run, startedAt: "2025-12-31T23:00:00.000Z", endedAt: "soon" }), "–");
    assert.equal(runDuration({ ...run, startedAt: "2025-12-31T23:00:00.000Z" }), "1h 0m");
    assert.equal(formatDuration(Number.NaN), "–");
  });
});
