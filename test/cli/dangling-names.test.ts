/**
 * On local disk, a link that leads nowhere in a root (beside the snapshot names) or in a name's folder (beside its
 * versions): `ls` of the root and of the name, and the viewer of the root, list the rest and mark that entry
 * (`ls`: a line on stderr, exit status 1). A new version still fails naming a `v<N>` link rather than take its number.
 */
import assert from "node:assert/strict";
import { mkdir, readlink, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { LocalBackend } from "../../src/backends/local/index.ts";
import { isOpenCrateError } from "../../src/errors.ts";
import { Snapshot } from "../../src/index.ts";
import type { NameSummary } from "../../src/ui/api-types.ts";
import { startViewer, type Viewer } from "../../src/ui/server.ts";
import { resolveViewerTarget } from "../../src/ui/target.ts";
import { builtPage } from "../ui/browser.ts";
import { viewerFetch } from "../ui/client.ts";
import { removeDir, runCli, tempDir } from "./helpers.ts";

const LEADS_NOWHERE = "cannot be listed: a symbolic link that leads to nothing (ENOENT)";

async function makeRun(root: string, name: string): Promise<void> {
  const run = await Snapshot.setup({ name, root, console: false });
  await run.json("m.json").save({ a: 1 });
  await run.close();
}

describe("links that lead nowhere beside snapshot names and versions", () => {
  let dir: string;
  let root: string;

  before(async () => {
    dir = await tempDir("dangling-names");
    root = join(dir, "root");
    await makeRun(root, "train");
    await makeRun(root, "train");
    await makeRun(root, "eval");
    await symlink(join(dir, "gone"), join(root, "zz-old"));
    await symlink(join(dir, "gone-version"), join(root, "train", "v7"));
  });

  after(async () => removeDir(dir));

  it("ls of the root lists the names and names each link on stderr, exit 1", async () => {
    const ls = await runCli(["ls", root]);
    assert.equal(ls.code, 1, ls.stderr);
    assert.deepEqual(ls.stdout.trim().split("\n"), ["eval", "train"]);
    assert.ok(ls.stderr.includes(`opencrate: ${join(root, "zz-old")} ${LEADS_NOWHERE}.`), ls.stderr);
    assert.ok(ls.stderr.includes(`opencrate: ${join(root, "train", "v7")} ${LEADS_NOWHERE}.`), ls.stderr);
    const json = await runCli(["ls", "--json", root]);
    assert.equal(json.code, 1, json.stderr);
    const listed = JSON.parse(json.stdout) as { snapshots: string[]; unlistable: { path: string }[] };
    assert.deepEqual(listed.snapshots, ["eval", "train"]);
    assert.deepEqual(listed.unlistable.map((entry) => entry.path), ["train/v7", "zz-old"]);
  });

  it("ls of a name lists its versions and marks the link, exit 1", async () => {
    const ls = await runCli(["ls", join(root, "train")]);
    assert.equal(ls.code, 1, ls.stderr);
    const rows = ls.stdout.trim().split("\n").slice(1).map((line) => line.split(/\s+/)[0]);
    assert.deepEqual(rows, ["v0", "v1", "v7"]);
    assert.match(ls.stdout, /v7 .*cannot be listed/);
    assert.ok(ls.stderr.includes(`opencrate: ${join(root, "train", "v7")} ${LEADS_NOWHERE}.`), ls.stderr);
    const json = await runCli(["ls", "--json", join(root, "train")]);
    assert.equal(json.code, 1, json.stderr);
    const listed = JSON.parse(json.stdout) as { versions: { versionName: string }[]; unlistable: { path: string }[] };
    assert.deepEqual(listed.versions.map((row) => row.versionName), ["v0", "v1"]);
    assert.deepEqual(listed.unlistable.map((entry) => entry.path), ["v7"]);
  });

  it("the viewer opens on the root and lists the names, each link with why", async () => {
    assert.deepEqual(await resolveViewerTarget(root), { root, start: undefined });
    let viewer: Viewer | undefined;
    try {
      viewer = await startViewer({ root, assetsDir: await builtPage() });
      const response = await viewerFetch(viewer, "/api/names");
      assert.equal(response.status, 200);
      const names = (await response.json()) as NameSummary[];
      assert.deepEqual(
        names.map((summary) => [summary.name, summary.versions, summary.error ?? null]),
        [
          ["eval", 1, null],
          ["train", 2, `train/v7 ${LEADS_NOWHERE}.`],
          ["zz-old", null, `zz-old ${LEADS_NOWHERE}.`],
        ],
      );
    } finally {
      await viewer?.close();
    }
  });

  it("the viewer opens on a root with no bookkeeping whose first folder holds such a link", async () => {
    const plain = join(dir, "plain");
    await mkdir(join(plain, "aa"), { recursive: true });
    await symlink(join(dir, "gone-file"), join(plain, "aa", "x.txt"));
    await mkdir(join(plain, "bb", "v0"), { recursive: true });
    await writeFile(join(plain, "bb", "v0", "a.txt"), "a");
    assert.deepEqual(await resolveViewerTarget(plain), { root: plain, start: undefined });
  });

  it("listPage with onUnlistable reports each such entry once, by the page it falls in; without it, fails", async () => {
    const backend = new LocalBackend({ root });
    const reported: string[] = [];
    const prefixes: string[] = [];
    let pageToken: string | undefined;
    do {
      const page = await backend.listPage("", { pageSize: 1, onUnlistable: (entry) => reported.push(entry.key), ...(pageToken === undefined ? {} : { pageToken }) });
      prefixes.push(...page.prefixes);
      pageToken = page.nextPageToken;
    } while (pageToken !== undefined);
    assert.deepEqual(prefixes, ["eval/", "train/"]);
    assert.deepEqual(reported, ["zz-old"]);
    await assert.rejects(backend.listPage(""), (error: unknown) => isOpenCrateError(error, "CORRUPT_DATA") && error.message.includes("zz-old"));
  });

  it("a new version still fails naming a v<N> link that leads nowhere", async () => {
    const name = join(root, "held");
    await makeRun(root, "held");
    await symlink(join(dir, "gone-held"), join(name, "v1"));
    await assert.rejects(
      Snapshot.setup({ name: "held", root, console: false }),
      (error: unknown) => isOpenCrateError(error, "CORRUPT_DATA") && error.message.includes(join(name, "v1")),
    );
    assert.equal(await readlink(join(name, "v1")), join(dir, "gone-held"));
  });
});
