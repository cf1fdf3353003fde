/**
 * A command loads what it runs and no more: `--version` none of the commands' code, `pull` neither the viewer, nor
 * the session's logging (pino), nor the artifact handlers, nor a cloud SDK for a local snapshot. And nothing
 * imports node:http as an ES module (its namespace loads Node's bundled undici).
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { makeRoot, removeDir, runCli, tempDir, type CliResult } from "./helpers.ts";

const RECORDING_MAIN = fileURLToPath(new URL("./module-recording-cli.ts", import.meta.url));

interface Resolved {
  readonly url: string;
  readonly by: "import" | "require";
}

/** Modules no command but `ui` (and the library's session) needs. */
const NOT_FOR_PULL = /\/src\/(ui|handlers|logs)\/|\/src\/snapshot\/snapshot\.ts$|\/node_modules\/(pino|pino-pretty|sharp|@aws-sdk|@smithy|@google-cloud)\//;

describe("what a command loads", () => {
  let dir: string;
  let root: string;

  before(async () => {
    dir = await tempDir("lazy");
    root = join(dir, "snapshots");
    await makeRoot(root);
  });
  after(() => removeDir(dir));

  async function runRecorded(args: readonly string[]): Promise<{ result: CliResult; resolved: Resolved[] }> {
    const file = join(dir, `modules-${args[0]}.json`);
    const result = await runCli(args, { main: RECORDING_MAIN, env: { RECORD_MODULES_TO: file } });
    return { result, resolved: JSON.parse(readFileSync(file, "utf8")) as Resolved[] };
  }

  it("--version loads the command line's definitions: no command's code, no backend, no dependency but commander", async () => {
    const { result, resolved } = await runRecorded(["--version"]);
    assert.equal(result.code, 0, result.stderr);
    const urls = resolved.map((entry) => entry.url);
    assert.ok(urls.some((url) => url.endsWith("/src/cli/commands/pull.ts")), "the recorder saw the CLI load");
    assert.deepEqual(
      urls.filter((url) => /\/src\/(cli\/actions|backends\/(s3|gcs|local)|transfer|ui|handlers|logs|snapshot)\//.test(url)),
      [],
    );
    assert.deepEqual(
      urls.filter((url) => url.includes("/node_modules/") && !url.includes("/node_modules/commander/")),
      [],
    );
  });

  it("pull of a local snapshot loads the pull and no viewer, handler, session logging or cloud SDK", async () => {
    const dest = join(dir, "pulled");
    const { result, resolved } = await runRecorded(["pull", `${root}/train@latest`, dest, "--quiet"]);
    assert.equal(result.code, 0, result.stderr);
    assert.ok(existsSync(join(dest, "jsons", "metrics.json")), "the pull ran");
    const urls = resolved.map((entry) => entry.url);
    assert.ok(urls.some((url) => url.endsWith("/src/cli/actions/pull.ts")), "the recorder saw the command's own modules");
    assert.deepEqual(urls.filter((url) => NOT_FOR_PULL.test(url) || (url.includes("/src/cli/actions/") && !url.endsWith("/pull.ts"))), []);
  });

  it("no module imports node:http as an ES module", async () => {
    for (const args of [["pull", `${root}/train@latest`, join(dir, "pulled-http"), "--quiet"], ["ls", root], ["tree", root]]) {
      const { result, resolved } = await runRecorded(args);
      assert.equal(result.code, 0, result.stderr);
      assert.ok(resolved.some((entry) => entry.url === "node:fs/promises" && entry.by === "import"), "the recorder sees built-in imports");
      assert.deepEqual(resolved.filter((entry) => entry.url === "node:http" && entry.by === "import"), [], args.join(" "));
    }
  });
});
