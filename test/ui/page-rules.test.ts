/** The page's small rules that bound its work, on their own (no browser). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { csvLayout, PLOT_SERIES, TABLE_COLUMNS } from "../../src/ui/web/csv-layout.ts";
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
});
