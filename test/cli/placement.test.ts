/**
 * What a pull may replace in its destination (src/cli/pull/placement.ts): a file an earlier pull placed and that
 * has not changed since, or anything with --overwrite; never the file this pull placed for another key, which is
 * what a case-insensitive or Unicode-normalising disk gives for `Case.txt` and `CASE.txt`, or NFC and NFD `café`.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { placementConflict } from "../../src/cli/pull/placement.ts";

const NFC = "v/caf\u00e9.txt";
const NFD = "v/cafe\u0301.txt";

describe("what a pull may replace", () => {
  const request = (key: string, overwrite = false) => ({ key, localPath: "/dest/x.txt", overwrite });
  const noOne = { placedByThisPullFor: undefined, placedByEarlierPull: false };

  it("a file no pull placed (or changed since) only with --overwrite, naming the local path", () => {
    assert.equal(
      placementConflict(request("v/x.txt"), noOne),
      "/dest/x.txt exists and was not placed by a pull (or changed since); pass --overwrite to replace it",
    );
    assert.equal(placementConflict(request("v/x.txt", true), noOne), undefined);
  });

  it("a file an earlier pull placed, unchanged since", () => {
    assert.equal(placementConflict(request("v/x.txt"), { placedByThisPullFor: undefined, placedByEarlierPull: true }), undefined);
  });

  it("never the file this pull placed for another key, with or without --overwrite, naming both keys", () => {
    for (const [first, second] of [
      ["v/Case.txt", "v/CASE.txt"],
      [NFC, NFD],
    ] as const) {
      for (const overwrite of [false, true]) {
        for (const placedByEarlierPull of [false, true]) {
          const conflict = placementConflict(request(second, overwrite), { placedByThisPullFor: first, placedByEarlierPull });
          assert.equal(
            conflict,
            `/dest/x.txt is the file this pull wrote for ${JSON.stringify(first)}, and ${JSON.stringify(second)} lands on it ` +
              "too (this file system does not tell their names apart, by case or Unicode form); it was left as it is",
          );
        }
      }
    }
  });

  it("the file this pull placed for the same key", () => {
    assert.equal(placementConflict(request("v/x.txt"), { placedByThisPullFor: "v/x.txt", placedByEarlierPull: false }), undefined);
  });
});
