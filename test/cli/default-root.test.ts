/**
 * A relative argument that may name a snapshot of the default root (`train@latest`, `train/v0/…`, and for ls/tree a
 * bare `train`) against a local folder `./train`: the one holding versions is read, a pulled copy or a code folder
 * gives way (with a line on stderr saying which was read), both holding versions is refused naming both, and a name
 * in neither place is reported naming the default root and what it holds. A bare name that is a local root stays
 * that root, and one folder reached by two spellings is one folder.
 */
import assert from "node:assert/strict";
import { cp, mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { LocalBackend } from "../../src/backends/local/index.ts";
import { Snapshot } from "../../src/index.ts";
import { makeRoot, removeDir, runCli, tempDir } from "./helpers.ts";

describe("the default root against a local folder of the same name", () => {
  let dir = "";
  let project = "";
  let fresh = "";

  before(async () => {
    dir = await tempDir("default-root");
    project = join(dir, "project");
    await makeRoot(join(project, "snapshots"));
    const model = await Snapshot.setup({ name: "model", backend: new LocalBackend({ root: join(project, "snapshots") }), console: false });
    model.info("the model run");
    await model.close();
    await mkdir(join(project, "model"));
    await writeFile(join(project, "model", "net.py"), "import torch\n");
    fresh = join(dir, "fresh");
    await makeRoot(join(fresh, "snapshots"));
  });
  after(() => removeDir(dir));

  it("a copy pull placed at its default destination does not stand in for the default root's snapshot", async () => {
    const pulled = await runCli(["pull", "train@initial-run", "--quiet"], { cwd: project });
    assert.equal(pulled.code, 0, pulled.stderr);
    for (const args of [["log", "train@latest"], ["cat", "train@latest/jsons/metrics.json"]]) {
      const result = await runCli(args, { cwd: project });
      assert.equal(result.code, 0, result.stderr);
      const read = args[1] ?? "";
      assert.equal(
        result.stderr,
        `opencrate: reading snapshots/${read}, not ./train, which holds only pulled copies (to read those, write ./${read}).\n`,
      );
    }
    assert.match((await runCli(["log", "train@latest"], { cwd: project })).stdout, /first run of v1\n$/);
    assert.deepEqual(JSON.parse((await runCli(["cat", "train@latest/jsons/metrics.json"], { cwd: project })).stdout), { loss: 0.25 });
    const versions = await runCli(["ls", "train"], { cwd: project });
    assert.match(versions.stdout, /^v1 +- .* job-42 /m, "the default root's versions");

    // Written as a path, the pulled copy is what is read, and nothing is said.
    const local = await runCli(["ls", "./train@latest"], { cwd: project });
    assert.equal(local.code, 0, local.stderr);
    assert.equal(local.stderr, "");
    assert.match(local.stdout, /^(\.\/)?train\/v0:initial-run\n/);
  });

  it("a code folder named like a snapshot does not hide the default root's snapshot", async () => {
    const log = await runCli(["log", "model@latest"], { cwd: project });
    assert.equal(log.code, 0, log.stderr);
    assert.equal(log.stderr, "");
    assert.match(log.stdout, /INFO {5}the model run\n$/);
    const ls = await runCli(["ls", "model"], { cwd: project });
    assert.equal(ls.code, 0, ls.stderr);
    assert.equal(ls.stderr, "opencrate: reading snapshots/model, not ./model, where no snapshot was found (for that folder, write ./model).\n");
    assert.match(ls.stdout, /^VERSION +TAG/);
  });

  it("a pulled copy with no snapshot of that name in the default root is read, saying so", async () => {
    const elsewhere = join(dir, "elsewhere");
    await mkdir(elsewhere);
    await cp(join(project, "train"), join(elsewhere, "train"), { recursive: true });
    const result = await runCli(["cat", "train/v0:initial-run/texts/notes.txt"], { cwd: elsewhere });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "first notes");
    assert.equal(
      result.stderr,
      "opencrate: reading ./train/v0:initial-run/texts/notes.txt, which holds only pulled copies: the default root snapshots " +
        "(OPENCRATE_ROOT is not set) has no 'train'.\n",
    );
  });

  it("refuses an argument both a local folder and the default root hold versions of, naming both", async () => {
    const both = join(dir, "both");
    await makeRoot(join(both, "snapshots"));
    await makeRoot(both); // ./train is a snapshot of its own too
    for (const args of [["log", "train@latest"], ["ls", "train"]]) {
      const result = await runCli(args, { cwd: both });
      assert.equal(result.code, 2, result.stderr);
      const given = args[1] ?? "";
      assert.equal(
        result.stderr,
        `opencrate: ${given} could mean ./train or snapshots/train, the default root's (OPENCRATE_ROOT is not set): ` +
          `both hold versions of 'train'. Write ./${given} or snapshots/${given}.\n`,
      );
    }
    assert.equal((await runCli(["log", "./train@latest"], { cwd: both })).code, 0);
    assert.equal((await runCli(["log", "snapshots/train@latest"], { cwd: both })).code, 0);
    // The default root being that very folder is no ambiguity.
    assert.equal((await runCli(["log", "train@latest"], { cwd: both, env: { OPENCRATE_ROOT: both } })).code, 0);
  });

  it("ls and tree of a bare name read the default root's snapshot when there is no such folder", async () => {
    const ls = await runCli(["ls", "train"], { cwd: fresh });
    assert.equal(ls.code, 0, ls.stderr);
    assert.equal(ls.stderr, "");
    assert.match(ls.stdout, /^VERSION +TAG +CREATED +STATUS +RUN ID +SIZE\nv0:initial-run /);
    const tree = await runCli(["tree", "eval", "--depth", "1"], { cwd: fresh });
    assert.equal(tree.code, 0, tree.stderr);
    assert.equal(tree.stdout, "eval\n└── v0:baseline/\n");
    const fromEnv = await runCli(["ls", "eval"], { cwd: dir, env: { OPENCRATE_ROOT: join(fresh, "snapshots") } });
    assert.match(fromEnv.stdout, /^VERSION +TAG .*\nv0:baseline +baseline /);

    const typo = await runCli(["ls", "trian"], { cwd: fresh });
    assert.equal(typo.code, 1);
    assert.equal(
      typo.stderr,
      "opencrate: No folder at trian, and no snapshot 'trian' in the default root snapshots (OPENCRATE_ROOT is not set); snapshots holds train, eval.\n",
    );
  });

  it("a default root that is not there says it is the default root, and where it came from", async () => {
    const empty = join(dir, "empty");
    await mkdir(empty);
    const unset = await runCli(["ls"], { cwd: empty });
    assert.equal(unset.code, 1);
    assert.equal(unset.stderr, "opencrate: No folder at snapshots (the default root; OPENCRATE_ROOT is not set).\n");
    const missing = join(dir, "nonexistent");
    const fromEnv = await runCli(["ls"], { cwd: empty, env: { OPENCRATE_ROOT: missing } });
    assert.equal(fromEnv.code, 1);
    assert.equal(fromEnv.stderr, `opencrate: No folder at ${missing} (the default root, from OPENCRATE_ROOT).\n`);
  });

  it("a name given without a selector, or a mistyped tag, says what to write", async () => {
    const bare = await runCli(["log", "train"], { cwd: fresh });
    assert.equal(bare.code, 2);
    assert.match(bare.stderr, /^opencrate: train is not a snapshot URI: .* \(for the latest version of 'train': train@latest\)\.\n$/);
    const tag = await runCli(["log", "train@initial"], { cwd: fresh });
    assert.equal(tag.code, 1);
    assert.equal(tag.stderr, "opencrate: No version of 'train' at snapshots/train is tagged 'initial' (its tags: initial-run).\n");
  });
  it("the default root reached through a link, or ./train linked into it, is one folder, not two holding versions", async () => {
    const real = join(dir, "real-root");
    await makeRoot(real);
    const viaLink = join(dir, "root-link");
    await symlink(real, viaLink);
    // The working folder is the root, entered through its link (as /tmp on macOS, /home on many clusters).
    const inRoot = await runCli(["log", "train@latest"], { cwd: viaLink, env: { OPENCRATE_ROOT: viaLink } });
    assert.equal(inRoot.code, 0, inRoot.stderr);
    assert.equal(inRoot.stderr, "");
    assert.match(inRoot.stdout, /first run of v1\n$/);

    const linked = join(dir, "linked-name");
    await makeRoot(join(linked, "snapshots"));
    await symlink(join("snapshots", "train"), join(linked, "train"));
    for (const args of [["log", "train@latest"], ["ls", "train"]]) {
      const result = await runCli(args, { cwd: linked });
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stderr, "");
    }
  });

  it("ls and tree of a bare name that is a local root list that root, though the default root has a snapshot of that name", async () => {
    const roots = join(dir, "roots");
    await makeRoot(join(roots, "snapshots"));
    const data = await Snapshot.setup({ name: "data", backend: new LocalBackend({ root: join(roots, "snapshots") }), console: false });
    await data.close();
    await makeRoot(join(roots, "data"));
    const ls = await runCli(["ls", "data"], { cwd: roots });
    assert.equal(ls.code, 0, ls.stderr);
    assert.equal(ls.stderr, "");
    assert.deepEqual(ls.stdout.trim().split("\n").sort(), ["eval", "train"]);
    const tree = await runCli(["tree", "data", "--depth", "1"], { cwd: roots });
    assert.equal(tree.code, 0, tree.stderr);
    assert.equal(tree.stderr, "");
    assert.match(tree.stdout, /^data\n.*eval\/\n.*train\/\n$/s);
  });

  it("pull into its own default destination again says nothing of the copies it refreshes", async () => {
    const again = join(dir, "pull-again");
    await makeRoot(join(again, "snapshots"));
    for (let round = 0; round < 2; round++) {
      const pulled = await runCli(["pull", "train@initial-run", "--quiet"], { cwd: again });
      assert.equal(pulled.code, 0, pulled.stderr);
      assert.equal(pulled.stderr, "", `pull number ${round + 1}`);
    }
  });

  it("a name too long for the file system, or a local link that loops, is an error of opencrate's naming the argument", async () => {
    const long = `${"a".repeat(128)}@${"b".repeat(200)}`;
    const result = await runCli(["log", long], { cwd: fresh });
    assert.doesNotMatch(result.stderr, /ENAMETOOLONG/);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /^opencrate: Invalid selector "@b{200}" in snapshots\/a{128}@b{200}: use @latest, .*\n$/);

    const loops = join(dir, "loops");
    await makeRoot(join(loops, "snapshots"));
    await symlink("x", join(loops, "x"));
    for (const args of [["log", "x@latest"], ["ls", "x"]]) {
      const looped = await runCli(args, { cwd: loops });
      assert.doesNotMatch(looped.stderr, /ELOOP/);
      assert.equal(looped.code, 1, looped.stderr);
      assert.match(looped.stderr, /^opencrate: No (version of 'x' exists at snapshots\/x|folder at x, and no snapshot 'x' in the default root snapshots)\b.*\n$/);
    }
  });
});
