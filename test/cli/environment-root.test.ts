/**
 * A root that comes from the environment: errors name the variable that held the bad value, and the CLI given no
 * root exits 1 (an environment problem), not 2 (a usage error).
 */
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { isOpenCrateError, Snapshot } from "../../src/index.ts";
import { removeDir, runCli, tempDir } from "./helpers.ts";

const S3_KEYS = { AWS_ACCESS_KEY_ID: "id", AWS_SECRET_ACCESS_KEY: "secret", AWS_REGION: "us-east-1" };

describe("a root from the environment", () => {
  let dir = "";
  before(async () => {
    dir = await tempDir("environment-root");
    await writeFile(join(dir, "afile"), "not a folder\n");
  });
  after(() => removeDir(dir));

  it("OPENCRATE_ROOT naming a file: ls with no root says OPENCRATE_ROOT and exits 1", async () => {
    const result = await runCli(["ls"], { cwd: dir, env: { OPENCRATE_ROOT: join(dir, "afile") } });
    assert.equal(result.stderr, `opencrate: OPENCRATE_ROOT: ${join(dir, "afile")} is a file, not a folder.\n`);
    assert.equal(result.code, 1);
    // The same root given on the command line stays a usage error.
    assert.equal((await runCli(["ls", join(dir, "afile")], { cwd: dir })).code, 2);
  });

  it('OPENCRATE_ROOT=" " is refused naming the variable, by the CLI (exit 1) and the library', async () => {
    for (const args of [["ls"], ["log", "train@latest"]]) {
      const result = await runCli(args, { cwd: dir, env: { OPENCRATE_ROOT: " " } });
      assert.equal(result.code, 1, `${args[0] ?? ""}: ${result.stderr}`);
      assert.equal(result.stderr, 'opencrate: OPENCRATE_ROOT " " is blank: set it to a root (a path or URI), or leave it empty or unset for "snapshots".\n');
    }
    process.env.OPENCRATE_ROOT = " ";
    try {
      await assert.rejects(Snapshot.setup({ name: "train", console: false }), (error: unknown) => {
        assert.ok(isOpenCrateError(error, "INVALID_ARGUMENT"), String(error));
        assert.match((error as Error).message, /^OPENCRATE_ROOT " " is blank/);
        return true;
      });
    } finally {
      delete process.env.OPENCRATE_ROOT;
    }
  });

  it("a malformed AWS_ENDPOINT_URL_S3 is blamed on that variable, not on OPENCRATE_ROOT", async () => {
    const env = { ...S3_KEYS, AWS_ENDPOINT_URL_S3: "not-a-url", OPENCRATE_ROOT: "s3://env-bucket/runs" };
    const result = await runCli(["ls"], { cwd: dir, env });
    assert.equal(result.stderr, "opencrate: AWS_ENDPOINT_URL_S3 (the S3 endpoint not-a-url) is not a URL (expected e.g. http://127.0.0.1:9000).\n");
    assert.equal(result.code, 1);
    const saved = { ...process.env };
    Object.assign(process.env, env);
    try {
      await assert.rejects(Snapshot.setup({ name: "train", console: false }), (error: unknown) => {
        assert.ok(isOpenCrateError(error, "INVALID_ARGUMENT"), String(error));
        assert.equal((error as Error).message, "AWS_ENDPOINT_URL_S3 (the S3 endpoint not-a-url) is not a URL (expected e.g. http://127.0.0.1:9000).");
        assert.equal((error as { path?: string }).path, "AWS_ENDPOINT_URL_S3");
        return true;
      });
    } finally {
      for (const name of Object.keys(env)) {
        if (saved[name] === undefined) delete process.env[name];
        else process.env[name] = saved[name];
      }
    }
  });
});
