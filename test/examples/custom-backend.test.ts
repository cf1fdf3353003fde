/** The example third-party backend (examples/custom-backend) passes `opencrate/testing`, run as its README says. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { promisify } from "node:util";

const run = promisify(execFile);
const example = fileURLToPath(new URL("../../examples/custom-backend/conformance.test.ts", import.meta.url));
const useSources = fileURLToPath(new URL("../../scripts/use-sources.ts", import.meta.url));

describe("the example third-party backend", () => {
  it("passes the exported conformance suite, skipping only what its capabilities rule out", async () => {
    // Without NODE_TEST_CONTEXT, which would make the inner runner report to this one instead of printing.
    const { NODE_TEST_CONTEXT: _inner, ...env } = process.env;
    const { stdout } = await run(process.execPath, ["--import", useSources, "--test", "--test-reporter=spec", example], {
      env: { ...env, NO_COLOR: "1", OPENCRATE_CONFORMANCE_BIG_MB: "16" },
      timeout: 300_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    assert.match(stdout, /ℹ fail 0\n/);
    const passed = Number(/ℹ pass (\d+)/.exec(stdout)?.[1]);
    assert.ok(passed >= 40, `most cases ran: ${passed} passed`);
    // The example declares no create-only copy: exactly those cases are skipped, saying why.
    assert.match(stdout, /copy honours create-only[^\n]*# the map backend has no copyCreateOnly/);
    assert.doesNotMatch(stdout, /ℹ skipped 0\n/, "cases its capabilities rule out are reported as skipped, not passed");
  });
});
