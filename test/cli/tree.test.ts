import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { makeRoot, removeDir, runCli, tempDir } from "./helpers.ts";

describe("opencrate tree", () => {
  let dir: string;
  let root: string;

  before(async () => {
    dir = await tempDir("tree");
    root = join(dir, "snapshots");
    await makeRoot(root);
  });
  after(() => removeDir(dir));

  it("prints a snapshot's tree, folders first, dot-entries hidden", async () => {
    const result = await runCli(["tree", `${root}/train@latest`]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(
      result.stdout,
      ["v1", "├── checkpoints/", "│   └── model.bin", "├── jsons/", "│   └── metrics.json", "└── train.log", ""].join("\n"),
    );
  });

  it("honours --depth and hides the bookkeeping of a root", async () => {
    const result = await runCli(["tree", root, "--depth", "2"]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(
      result.stdout,
      ["snapshots", "├── eval/", "│   └── v0:baseline/", "└── train/", "    ├── v0:initial-run/", "    └── v1/", ""].join("\n"),
    );
    assert.ok(!result.stdout.includes(".opencrate"));
    const top = await runCli(["tree", root, "--depth", "0"]);
    assert.equal(top.stdout, "snapshots\n");
  });

  it("adds times and sizes with --verbose", async () => {
    const result = await runCli(["tree", `${root}/train/v1`, "--verbose", "--depth", "1"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /├── checkpoints\/ \(\d{4}-\d\d-\d\d \d\d:\d\d, 292\.97 KB\)/);
    assert.match(result.stdout, /└── train\.log \(\d{4}-\d\d-\d\d \d\d:\d\d, \d+ Bytes\)/);
  });

  it("exits 2 on a bad --depth and 1 on a missing folder or snapshot", async () => {
    for (const depth of ["-1", "two", "1.5"]) {
      const result = await runCli(["tree", root, "--depth", depth]);
      assert.equal(result.code, 2, `${depth}: ${result.stderr}`);
      assert.match(result.stderr, /^opencrate: option '-d, --depth <n>' argument '.*' is invalid/);
    }
    const missing = await runCli(["tree", join(dir, "missing")]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^opencrate: No folder at .*missing\.\n$/);
    const noVersion = await runCli(["tree", `${root}/eval/v3`]);
    assert.equal(noVersion.code, 1);
    assert.equal(noVersion.stderr.split("\n").length, 2);
  });
});
