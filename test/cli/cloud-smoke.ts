/**
 * The same CLI smoke tests on each cloud test server: the snapshots are made with the library on the server's
 * backend, and the CLI subprocess reaches them by URI with only the standard environment variables.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { StorageBackend } from "../../src/backends/backend.ts";
import type { BackendFactory } from "../support/backends.ts";
import { makeSnapshots, MODEL_BYTES, removeDir, runCli, tempDir } from "./helpers.ts";

export interface CloudTarget {
  readonly label: string;
  readonly factory: BackendFactory;
  /** "s3" or "gs". */
  readonly scheme: string;
  /** The variables that point the CLI at the server (endpoint, credentials). */
  readonly env: () => NodeJS.ProcessEnv;
  /** A value from `env` that must never be printed, if any. */
  readonly secret?: string;
}

export function cloudSmokeSuite(target: CloudTarget): void {
  const { factory } = target;

  describe(`opencrate CLI on ${target.label}`, { skip: factory.skip }, () => {
    let dir: string;
    let root: string;
    let env: NodeJS.ProcessEnv;

    before(async () => {
      dir = await tempDir(target.scheme);
      const backend: StorageBackend = await factory.make();
      await makeSnapshots(backend);
      // The factory roots the backend at a fresh prefix; the URI of that root:
      root = backend.describe("").replace(/\/+$/, "");
      assert.ok(root.startsWith(`${target.scheme}://`), root);
      env = target.env();
    });
    after(async () => {
      await factory.cleanup();
      await removeDir(dir);
    });

    it("ls lists names, versions (JSON) and files", async () => {
      const names = await runCli(["ls", root], { env });
      assert.equal(names.code, 0, names.stderr);
      assert.equal(names.stdout, "eval\ntrain\n");

      const versions = await runCli(["ls", `${root}/train`, "--json"], { env });
      assert.equal(versions.code, 0, versions.stderr);
      const parsed = JSON.parse(versions.stdout) as { versions: { versionName: string; runId: string | null; size: number }[] };
      assert.deepEqual(
        parsed.versions.map((version) => [version.versionName, version.runId]),
        [
          ["v0:initial-run", null],
          ["v1", "job-42"],
        ],
      );

      const files = await runCli(["ls", `${root}/train@latest`], { env });
      assert.equal(files.code, 0, files.stderr);
      assert.match(files.stdout, /checkpoints\/model\.bin/);
    });

    it(`tree, log and cat read through ${target.scheme}:// URIs`, async () => {
      const tree = await runCli(["tree", `${root}/train/v1`], { env });
      assert.equal(tree.code, 0, tree.stderr);
      assert.match(tree.stdout, /^v1\n├── checkpoints\/\n│   └── model\.bin\n/);

      const history = await runCli(["log", `${root}/train@initial-run`, "--history"], { env });
      assert.equal(history.code, 0, history.stderr);
      assert.match(history.stdout, /first run of v0\n.*second run of v0\n$/);

      const cat = await runCli(["cat", `${root}/train@latest/checkpoints/model.bin`], { env });
      assert.equal(cat.code, 0, cat.stderr);
      assert.deepEqual(new Uint8Array(cat.stdoutBytes), MODEL_BYTES);
    });

    it("pull downloads with MD5 verification and finds the files complete the second time", async () => {
      const dest = join(dir, "pulled");
      const first = await runCli(["pull", `${root}/train/v1`, dest], { env });
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stdout, /^pulled {4}checkpoints\/model\.bin \(292\.97 KB, md5 verified\)$/m);
      assert.deepEqual(new Uint8Array(await readFile(join(dest, "checkpoints/model.bin"))), MODEL_BYTES);
      const second = await runCli(["pull", `${root}/train/v1`, dest], { env });
      assert.equal(second.code, 0, second.stderr);
      assert.match(second.stdout, /0 downloaded, 3 already complete\.$/m);
    });

    it("fails with one line (and no secret, even with --debug) on a missing snapshot", async () => {
      const result = await runCli(["ls", `${root}/train/v9`, "--debug"], { env });
      assert.equal(result.code, 1);
      assert.ok(result.stderr.startsWith(`opencrate: Version 9 of 'train' does not exist at ${target.scheme}://`), result.stderr);
      if (target.secret !== undefined) assert.ok(!result.stderr.includes(target.secret));
    });
  });
}
