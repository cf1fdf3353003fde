/** The page's small rules that bound its work, on their own (no browser). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
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
});
