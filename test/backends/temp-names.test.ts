/** The one rule for removing temps (backends/temp-names.ts), with the age and the writer's state given directly. */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import { syncBuiltinESMExports } from "node:module";
import { describe, it } from "node:test";
import { isOpenCrateError } from "../../src/errors.ts";
import { validateTempKey } from "../../src/backends/keys.ts";
import { placeOf, placeOfThisProcess, stateOfProcess, thisProcess, type PlaceFacts } from "../../src/backends/process-identity.ts";
import {
  isTempInUse,
  isTempName,
  placeHash,
  sortListedTemps,
  TEMP_NAME_MAX_BYTES,
  tempName,
  tempNameOf,
  UNJUDGED_TEMP_AGE_MS,
} from "../../src/backends/temp-names.ts";
import { BACKUP_INFIX_MAX_BYTES, checkArtifactNameLength } from "../../src/snapshot/names.ts";

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

  it("a temp naming this host and pid but another process start is a dead predecessor's", (context) => {
    const place = placeOfThisProcess();
    if (place === undefined) return context.skip("no place here: temp names carry no writer");
    const predecessor = tempNameOf({ place: placeHash(place), pid: process.pid, start: "linux:1" }, "");
    assert.equal(isTempInUse(predecessor, NOW, NOW), false);
  });

  it("a live writer of this place whose start was worked out from the clock is not taken for a reused pid", (context) => {
    const place = placeOfThisProcess();
    if (place === undefined) return context.skip("no place here: temp names carry no writer");
    // The parent runs; its start, read from /proc here, is of another kind than a clock-based one.
    const clockStart = `clock:${Date.now() - 60_000}`;
    assert.equal(stateOfProcess(process.ppid, clockStart), "running");
    const name = tempNameOf({ place: placeHash(place), pid: process.ppid, start: clockStart }, "copy-");
    assert.equal(isTempInUse(name, LONG_AGO, NOW), true, name);
    // This process, named with a start of the other kind (as a thread that could not read /proc names it).
    const ours = thisProcess().start.startsWith("clock:") ? "linux:1" : clockStart;
    assert.equal(stateOfProcess(process.pid, ours), "this-process");
  });

  it("a writer that answers signals but whose /proc entry is hidden (hidepid, another user's process) still runs", (context) => {
    if (process.platform !== "linux") return context.skip("/proc is read on Linux only");
    const hidden = `/proc/${process.ppid}/stat`;
    const real = fs.readFileSync;
    context.mock.method(fs, "readFileSync", (...args: Parameters<typeof fs.readFileSync>) => {
      if (args[0] === hidden) throw Object.assign(new Error(`ENOENT: no such file or directory, open '${hidden}'`), { code: "ENOENT" });
      return real(...args);
    });
    syncBuiltinESMExports();
    try {
      assert.equal(stateOfProcess(process.ppid, thisProcess().start), "running");
      assert.equal(stateOfProcess(process.ppid, undefined), "running");
    } finally {
      context.mock.restoreAll();
      syncBuiltinESMExports();
    }
  });

  it("a temp whose writer cannot be judged here is in use until it is UNJUDGED_TEMP_AGE_MS old", () => {
    const foreign = tempNameOf({ place: "0123456789ab", pid: 4242, start: "linux:77" }, "");
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
    const old = `v0/jsons/${tempNameOf(undefined, "copy-")}`;
    const { objects, abandonedTemps } = sortListedTemps([at("v0/a.json", LONG_AGO), at(live, LONG_AGO), at(old, LONG_AGO)], NOW);
    assert.deepEqual(objects.map((info) => info.key), ["v0/a.json"]);
    assert.deepEqual(abandonedTemps, [old]);
  });
});

describe("the place a temp name carries", () => {
  const linux: PlaceFacts = {
    platform: "linux",
    hostName: "worker-1",
    bootId: "2f1c9a54-6a8e-4d8b-9a51-2f0f6c1f0b7e",
    pidNamespace: "pid:[4026531836]",
    timeNamespace: "time:[4026531834]",
  };

  it("off Linux there is none: two machines with the same host name are not told apart, so no pid is judged", () => {
    for (const platform of ["darwin", "win32", "freebsd"] as const) {
      const facts = { platform, hostName: "MacBook-Pro.local", bootId: undefined, pidNamespace: undefined, timeNamespace: undefined };
      assert.equal(placeOf(facts), undefined, platform);
    }
  });

  it("on Linux it takes in the boot, the pid namespace and the time namespace, and is none when one cannot be read", () => {
    const place = placeOf(linux);
    assert.ok(place !== undefined);
    // Another time namespace shifts the starts /proc shows by its boot-time offset: another place.
    assert.notEqual(placeOf({ ...linux, timeNamespace: "time:[4026532501]" }), place);
    assert.notEqual(placeOf({ ...linux, pidNamespace: "pid:[4026532500]" }), place);
    assert.notEqual(placeOf({ ...linux, bootId: "5b0e3f7a-0c1d-4e2f-8a9b-0c1d2e3f4a5b" }), place);
    assert.notEqual(placeOf({ ...linux, hostName: "worker-2" }), place);
    assert.equal(placeOf({ ...linux }), place);
    // A kernel without time namespaces (before 5.6) has one time for all.
    assert.ok(placeOf({ ...linux, timeNamespace: null }) !== undefined);
    for (const unread of ["bootId", "pidNamespace", "timeNamespace"] as const) assert.equal(placeOf({ ...linux, [unread]: undefined }), undefined, unread);
  });

  it("names of no place carry no writer and are judged by age only", () => {
    const name = tempNameOf(undefined, "");
    assert.equal(isTempInUse(name, NOW - UNJUDGED_TEMP_AGE_MS, NOW), true);
    assert.equal(isTempInUse(name, NOW - UNJUDGED_TEMP_AGE_MS - 1, NOW), false);
  });
});

describe("temp name length", () => {
  it("the longest temp name fits the room the artifact name check leaves, so a busy copy's temp key stays within the key limit", () => {
    const longest = tempNameOf({ place: placeHash("any"), pid: 2 ** 22, start: `linux:${"9".repeat(15)}` }, "copy-");
    assert.equal(Buffer.byteLength(longest), TEMP_NAME_MAX_BYTES, longest);
    for (const kind of ["", "copy-"] as const) assert.ok(Buffer.byteLength(tempName(kind)) <= TEMP_NAME_MAX_BYTES);
    // The longest artifact key the check takes with a one-byte file name; a backup's temp sits in the same folder.
    const maxKeyBytes = 1024;
    const under = "t/v0/jsons/";
    let folders = "";
    while (under.length + folders.length + "a".length + BACKUP_INFIX_MAX_BYTES < maxKeyBytes) {
      const room = maxKeyBytes - BACKUP_INFIX_MAX_BYTES - under.length - folders.length - "/a".length;
      folders += `${"d".repeat(Math.min(200, room))}/`;
    }
    const key = `${under}${folders}a`;
    assert.equal(Buffer.byteLength(key) + BACKUP_INFIX_MAX_BYTES, maxKeyBytes);
    checkArtifactNameLength(`${folders}a`, "json", key, maxKeyBytes, "t/v0");
    const tempKey = `${under}${folders}${longest}`;
    assert.ok(Buffer.byteLength(tempKey) <= maxKeyBytes, `the temp key is ${Buffer.byteLength(tempKey)} bytes`);
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
