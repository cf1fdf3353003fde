/**
 * On local disk, a version holding an entry its listing cannot give as a file (a link that leads nowhere, a link
 * into a folder it lies in): `ls` and `tree` of it, and the viewer's file list, show the other files and mark that
 * one with why (escaped; exit status 1), while `pull` and a plain listing still fail naming it.
 */
import assert from "node:assert/strict";
import { symlink } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { UnlistableEntry } from "../../src/backends/backend.ts";
import { LocalBackend } from "../../src/backends/local/index.ts";
import { isOpenCrateError } from "../../src/errors.ts";
import { Snapshot } from "../../src/index.ts";
import type { FileRow, UnlistableFile } from "../../src/ui/api-types.ts";
import { startViewer, type Viewer } from "../../src/ui/server.ts";
import { builtPage } from "../ui/browser.ts";
import { viewerFetch } from "../ui/client.ts";
import { removeDir, runCli, tempDir } from "./helpers.ts";

const GONE = "gone\u202e.txt";
const GONE_SHOWN = "gone\\u{202e}.txt";

describe("entries a version's listing cannot give as files", () => {
  let dir: string;
  let root: string;
  let version: string;

  before(async () => {
    dir = await tempDir("unlistable");
    root = join(dir, "root");
    const run = await Snapshot.setup({ name: "links", root, console: false });
    await run.text("notes.txt").save("notes");
    await run.json("m.json").save({ a: 1 });
    await run.close();
    version = join(root, "links", "v0");
    await symlink(join(dir, "nowhere.txt"), join(version, "texts", GONE));
    await symlink(join(root, "links"), join(version, "texts", "up"));
  });

  after(async () => removeDir(dir));

  it("a listing with onUnlistable reports them and goes on; without it, fails naming one", async () => {
    const backend = new LocalBackend({ root });
    const reported: UnlistableEntry[] = [];
    const keys: string[] = [];
    for await (const info of backend.list("links/v0/", { onUnlistable: (entry) => reported.push(entry) })) keys.push(info.key);
    assert.deepEqual(keys, ["links/v0/jsons/m.json", "links/v0/links.log", "links/v0/texts/notes.txt"]);
    assert.deepEqual(
      reported.map((entry) => [entry.key, entry.problem.replace(/ \(.*\)$/, "")]),
      [
        [`links/v0/texts/${GONE}`, "a symbolic link that leads to nothing"],
        ["links/v0/texts/up", "a symbolic link that leads back into a folder it lies in"],
      ],
    );
    await assert.rejects(
      (async () => {
        for await (const info of backend.list("links/v0/")) void info;
      })(),
      (error: unknown) => isOpenCrateError(error, "CORRUPT_DATA"),
    );
  });

  it("ls lists the other files and marks them, naming each on stderr, exit 1; pull still fails", async () => {
    const ls = await runCli(["ls", `${join(root, "links")}@0`]);
    assert.equal(ls.code, 1, ls.stderr);
    assert.match(ls.stdout, /texts\/notes\.txt/);
    assert.ok(ls.stdout.includes(`texts/${GONE_SHOWN} (cannot be listed: a symbolic link that leads to nothing (ENOENT))`), ls.stdout);
    assert.match(ls.stdout, /texts\/up \(cannot be listed: a symbolic link that leads back into a folder it lies in/);
    assert.ok(!ls.stdout.includes("\u202e") && !ls.stderr.includes("\u202e"));
    assert.ok(ls.stderr.includes(`opencrate: ${version}/texts/${GONE_SHOWN} cannot be listed: a symbolic link that leads to nothing (ENOENT).`), ls.stderr);
    const json = await runCli(["ls", "--json", `${join(root, "links")}@0`]);
    assert.equal(json.code, 1);
    const listed = JSON.parse(json.stdout) as { files: { path: string }[]; unlistable: UnlistableFile[] };
    assert.deepEqual(listed.files.map((file) => file.path), ["jsons/m.json", "links.log", "texts/notes.txt"]);
    assert.deepEqual(listed.unlistable.map((entry) => entry.path), [`texts/${GONE}`, "texts/up"]);
    const pull = await runCli(["pull", `${join(root, "links")}@0`, join(dir, "pulled")]);
    assert.equal(pull.code, 1);
    assert.match(pull.stderr, /cannot be listed|leads to nothing|leads back/);
  });

  it("tree shows them marked in their folder, naming each on stderr, exit 1", async () => {
    const tree = await runCli(["tree", "--depth", "5", join(root, "links")]);
    assert.equal(tree.code, 1, tree.stderr);
    assert.match(tree.stdout, /notes\.txt/);
    assert.ok(tree.stdout.includes(`── ${GONE_SHOWN} (cannot be listed: a symbolic link that leads to nothing (ENOENT))`), tree.stdout);
    assert.match(tree.stdout, /── up \(cannot be listed: a symbolic link that leads back into a folder it lies in/);
    assert.equal(tree.stderr.split("\n").filter((line) => line.includes("cannot be listed")).length, 2, tree.stderr);
  });

  it("the viewer lists the other files and those entries with why", async () => {
    let viewer: Viewer | undefined;
    try {
      viewer = await startViewer({ root, assetsDir: await builtPage() });
      const response = await viewerFetch(viewer, "/api/names/links/v0/files");
      assert.equal(response.status, 200);
      const body = (await response.json()) as { files: FileRow[]; unlistable: UnlistableFile[] };
      assert.deepEqual(body.files.map((file) => file.path), ["jsons/m.json", "links.log", "texts/notes.txt"]);
      assert.deepEqual(
        body.unlistable.map((entry) => [entry.path, entry.problem.replace(/ \(.*\)$/, "")]),
        [
          [`texts/${GONE}`, "a symbolic link that leads to nothing"],
          ["texts/up", "a symbolic link that leads back into a folder it lies in"],
        ],
      );
    } finally {
      await viewer?.close();
    }
  });
});
