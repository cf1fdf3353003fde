/** The one rule for removing temps (backends/temp-names.ts), with the age and the writer's state given directly. */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import { isOpenCrateError } from "../../src/errors.ts";
import { validateTempKey } from "../../src/backends/keys.ts";
import { isTempInUse, isTempName, sortListedTemps, tempName, UNJUDGED_TEMP_AGE_MS } from "../../src/backends/temp-names.ts";

const NOW = Date.parse("2030-01-01T00:00:00Z");
const LONG_AGO = NOW - 10 * UNJUDGED_TEMP_AGE_MS;

describe("isTempInUse", () => {
  it("a temp of this process is in use however long it was not written to", () => {
    for (const kind of ["", "copy-"] as const) {
      const name = tempName(kind);
      assert.equal(isTempName(name), true);
      assert.equal(isTempInUse(name, LONG_AGO, NOW), true, name);
    }
  });

  it("a temp naming this host and pid but another process start is a dead predecessor's", () => {
    const name = tempName();
    const [place, pid] = name.slice(".~oc-tmp-".length).split(".");
    const predecessor = `.~oc-tmp-${place}.${pid}.linux_1.${randomUUID()}`;
    assert.equal(isTempInUse(predecessor, NOW, NOW), false);
  });

  it("a temp whose writer cannot be judged here is in use until it is UNJUDGED_TEMP_AGE_MS old", () => {
    const foreign = `.~oc-tmp-0123456789abcdef.4242.linux_77.${randomUUID()}`;
    const olderVersion = `.~oc-tmp-${randomUUID()}`;
    const olderCopy = `.~oc-tmp-copy-${randomUUID()}`;
    for (const name of [foreign, olderVersion, olderCopy]) {
      assert.equal(isTempInUse(name, NOW - UNJUDGED_TEMP_AGE_MS, NOW), true, name);
      assert.equal(isTempInUse(name, NOW - UNJUDGED_TEMP_AGE_MS - 1, NOW), false, name);
    }
  });

  it("names that are no temp's are never in use, and sortListedTemps keeps them as objects", () => {
    assert.equal(isTempInUse(".~oc-lock-abc", NOW, NOW), false);
    const at = (key: string, time: number) => ({ key, lastModified: new Date(time) });
    const live = `v0/jsons/${tempName("copy-")}`;
    const old = `v0/jsons/.~oc-tmp-copy-${randomUUID()}`;
    const { objects, abandonedTemps } = sortListedTemps([at("v0/a.json", LONG_AGO), at(live, LONG_AGO), at(old, LONG_AGO)], NOW);
    assert.deepEqual(objects.map((info) => info.key), ["v0/a.json"]);
    assert.deepEqual(abandonedTemps, [old]);
  });
});

describe("validateTempKey", () => {
  it("takes a valid key whose last segment is a temp's name, and nothing else", () => {
    assert.equal(validateTempKey("t/v0/jsons/.~oc-tmp-copy-x"), "t/v0/jsons/.~oc-tmp-copy-x");
    for (const key of ["t/v0/a.json", "t/v0/.~oc-lock-1", "t/.~oc-x/.~oc-tmp-y", "t/../.~oc-tmp-x", "t//.~oc-tmp-x", "t/.~oc-tmp-\n"]) {
      assert.throws(() => validateTempKey(key), (error: unknown) => isOpenCrateError(error, "INVALID_ARGUMENT"), key);
    }
  });
});
