/**
 * A command loads what it runs and no more: `--version` none of the commands' code, `pull` neither the viewer, nor
 * the session's logging (pino), nor the artifact handlers, nor a cloud SDK for a local snapshot. And no module of
 * opencrate imports node:http as an ES module. The same pull checks run on each cloud server (cloud-smoke.ts).
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { makeRoot, removeDir, tempDir } from "./helpers.ts";
import { isOwnModule, NOT_FOR_PULL, ownEsImportsOfNodeHttp, runCliRecordingModules, type ResolvedModule } from "./loaded-modules.ts";

const CLOUD_SDKS = /\/node_modules\/(@aws-sdk|@smithy|@google-cloud)\//;

describe("what a command loads", () => {
  let dir: string;
  let root: string;

  before(async () => {
    dir = await tempDir("lazy");
    root = join(dir, "snapshots");
    await makeRoot(root);
  });
  after(() => removeDir(dir));

  it("--version loads the command line's definitions: no command's code, no backend, no dependency but commander", async () => {
    const { result, modules } = await runCliRecordingModules(["--version"], join(dir, "version.json"));
    assert.equal(result.code, 0, result.stderr);
    const urls = modules.map((entry) => entry.url);
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
    const { result, modules } = await runCliRecordingModules(["pull", `${root}/train@latest`, dest, "--quiet"], join(dir, "pull.json"));
    assert.equal(result.code, 0, result.stderr);
    assert.ok(existsSync(join(dest, "jsons", "metrics.json")), "the pull ran");
    const urls = modules.map((entry) => entry.url);
    assert.ok(urls.some((url) => url.endsWith("/src/cli/actions/pull.ts")), "the recorder saw the command's own modules");
    const otherCommands = (url: string): boolean => url.includes("/src/cli/actions/") && !url.endsWith("/pull.ts");
    assert.deepEqual(urls.filter((url) => NOT_FOR_PULL.test(url) || CLOUD_SDKS.test(url) || otherCommands(url)), []);
  });

  it("no module of opencrate imports node:http as an ES module", async () => {
    for (const args of [["pull", `${root}/train@latest`, join(dir, "pulled-http"), "--quiet"], ["ls", root], ["tree", root]]) {
      const { result, modules } = await runCliRecordingModules(args, join(dir, `${args[0]}-http.json`));
      assert.equal(result.code, 0, result.stderr);
      const builtinImport = (entry: ResolvedModule): boolean => entry.url === "node:fs/promises" && entry.by === "import" && isOwnModule(entry.from);
      assert.ok(modules.some(builtinImport), "the recorder sees the sources' built-in imports");
      assert.deepEqual(ownEsImportsOfNodeHttp(modules), [], args.join(" "));
    }
  });
});
