/**
 * parseSnapshotUri with the names Python OpenCrate takes: a name may hold "@" (the selector is after the last one),
 * ":" and "#"; in a URI with a scheme it is %-decoded like the root's path, in a local path taken as written.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseSnapshotUri } from "../../src/index.ts";

function refused(uri: string, ...parts: string[]): void {
  assert.throws(
    () => parseSnapshotUri(uri),
    (error: Error & { code?: string }) => error.code === "INVALID_ARGUMENT" && parts.every((part) => error.message.includes(part)),
    uri,
  );
}

describe("parseSnapshotUri and names of any characters", () => {
  it("splits <name>@<selector> at the last @, and reads a name with : or a space before a version folder", () => {
    assert.deepEqual(parseSnapshotUri("runs/x@y@latest"), { root: "runs", name: "x@y", selector: { kind: "latest" } });
    assert.deepEqual(parseSnapshotUri("runs/a@b@c@7"), { root: "runs", name: "a@b@c", selector: { kind: "number", version: 7 } });
    assert.deepEqual(parseSnapshotUri("runs/x@@base"), { root: "runs", name: "x@", selector: { kind: "tag", tag: "base" } });
    assert.deepEqual(parseSnapshotUri("runs/exp:1/v2:base"), {
      root: "runs",
      name: "exp:1",
      selector: { kind: "folder", version: 2, tag: "base" },
    });
    assert.deepEqual(parseSnapshotUri("/data/my run/dev"), { root: "/data", name: "my run", selector: { kind: "folder", version: "dev", tag: undefined } });
    assert.deepEqual(parseSnapshotUri("runs/résumé@latest").name, "résumé");
  });

  it("decodes the name in a URI with a scheme, and takes a local path as written", () => {
    assert.deepEqual(parseSnapshotUri("s3://bucket/runs/run%231@3"), { root: "s3://bucket/runs", name: "run#1", selector: { kind: "number", version: 3 } });
    assert.equal(parseSnapshotUri("gs://bucket/runs/q%3Fx/v0").name, "q?x");
    assert.equal(parseSnapshotUri("s3://bucket/runs/x%40y@latest").name, "x@y");
    assert.equal(parseSnapshotUri("memory://store/50%25@latest").name, "50%");
    assert.equal(parseSnapshotUri("file:///data/my%20run@latest").name, "my run");
    assert.equal(parseSnapshotUri("runs/run%231@latest").name, "run%231");
  });

  it("refuses a name that is not one path segment, and says how to write what the syntax cannot", () => {
    refused("s3://bucket/runs/a%2Fb@latest", "a/b", "one path segment");
    refused("runs/a\u0001b@latest", "control characters");
    refused("runs/..@latest", "'..'");
    refused("s3://bucket/runs/run#1@latest", "%23");
    refused("runs/x@y z", '"@y z"', "<root>/x@y@latest");
  });
});
