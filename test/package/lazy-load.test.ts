/** Importing the package and using a local root loads no cloud SDK and no sharp; with the console off, no pino-pretty. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { promisify } from "node:util";

const run = promisify(execFile);

describe("lazy loading", () => {
  it("a local-root session with the console off resolves no @aws-sdk, @google-cloud, sharp or pino-pretty module", async () => {
    const root = await mkdtemp(join(tmpdir(), "opencrate-lazy-"));
    try {
      const child = fileURLToPath(new URL("./fixtures/lazy-child.ts", import.meta.url));
      const { stdout } = await run(process.execPath, [child, root], { timeout: 60_000 });
      const resolved = JSON.parse(stdout) as string[];
      assert.ok(resolved.some((url) => url.includes("/src/index.ts")), "the hook saw the package load");
      assert.ok(resolved.some((url) => url.includes("/node_modules/pino/")), "the hook sees dependencies");
      const heavy = resolved.filter((url) => /node_modules\/(@aws-sdk|@smithy|@google-cloud|sharp|@img|pino-pretty)\//.test(url));
      assert.deepEqual(heavy, []);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
