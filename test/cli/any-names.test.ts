/**
 * Snapshots whose names opencrate would not give a new run, as Python OpenCrate makes them ("my run", "résumé",
 * "exp:1", "run#1", "x@y"): `ls <root>` lists them (escaped where a terminal would obey a character), and `ls`,
 * `log`, `tree`, `cat` and `pull` read them by name. A folder whose name no key can hold is named on stderr as
 * left out, never silently dropped.
 */
import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Snapshot } from "../../src/index.ts";
import { removeDir, runCli, tempDir } from "./helpers.ts";

/** Python OpenCrate's names; the C1 control NEL is one a terminal could obey, so ls shows it escaped. */
const NAMES = ["my run", "résumé", "exp:1", "run#1", "x@y", "q?x", "a@b@c", "nel\u0085x"] as const;

/** What Python OpenCrate leaves for a run of `name`: `<name>/v0/<name>.log` and an artifact, no claims. */
async function pythonRun(root: string, name: string, index: number): Promise<void> {
  const folder = join(root, name, "v0");
  await mkdir(join(folder, "jsons"), { recursive: true });
  await writeFile(join(folder, `${name}.log`), `2025-01-01 00:00:00 - INFO     python run of ${name}\n`);
  await writeFile(join(folder, "jsons", "metrics.json"), JSON.stringify({ index }));
}

describe("snapshots of names opencrate would not make", () => {
  let dir: string;
  let root: string;

  before(async () => {
    dir = await tempDir("any-names");
    root = join(dir, "snapshots");
    for (const [index, name] of NAMES.entries()) await pythonRun(root, name, index);
    const own = await Snapshot.setup({ name: "train", root, console: false });
    await own.close();
    // A backslash is no key's character: this folder cannot be read, only named.
    await pythonRun(root, "back\\slash", 99);
    await mkdir(join(root, "notes"), { recursive: true });
  });
  after(() => removeDir(dir));

  it("ls <root> lists every one, escaped, and names the folder it cannot read on stderr", async () => {
    const result = await runCli(["ls", root]);
    assert.equal(result.code, 0, result.stderr);
    const listed = result.stdout.trimEnd().split("\n");
    const expected = [...NAMES.map((name) => name.replace("\u0085", "\\x85")), "train"];
    assert.deepEqual([...listed].sort(), [...expected].sort());
    assert.equal(result.stderr, `opencrate: the folder "back\\\\slash" in ${root} is left out: a snapshot name must be one segment of a valid key (a key must not contain '\\').\n`);
    assert.doesNotMatch(result.stderr, /notes/);

    const json = await runCli(["ls", root, "--json"]);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual([...(JSON.parse(json.stdout) as { snapshots: string[] }).snapshots].sort(), [...NAMES, "train"].sort());
  });

  it("ls, log, tree and cat read each by its name, with a selector or a version folder", async () => {
    for (const [index, name] of NAMES.entries()) {
      const versions = await runCli(["ls", `${root}/${name}`, "--json"]);
      assert.equal(versions.code, 0, `${name}: ${versions.stderr}`);
      assert.deepEqual((JSON.parse(versions.stdout) as { versions: { versionName: string }[] }).versions.map((v) => v.versionName), ["v0"], name);
      const files = await runCli(["ls", `${root}/${name}@latest`, "--json"]);
      assert.equal(files.code, 0, `${name}: ${files.stderr}`);
      assert.equal((JSON.parse(files.stdout) as { name: string }).name, name);
      const log = await runCli(["log", `${root}/${name}/v0`]);
      assert.equal(log.code, 0, `${name}: ${log.stderr}`);
      assert.equal(log.stdout, `2025-01-01 00:00:00 - INFO     python run of ${name}\n`);
      const cat = await runCli(["cat", `${root}/${name}@0/jsons/metrics.json`]);
      assert.equal(cat.code, 0, `${name}: ${cat.stderr}`);
      assert.deepEqual(JSON.parse(cat.stdout), { index }, name);
      const tree = await runCli(["tree", `${root}/${name}@latest`]);
      assert.equal(tree.code, 0, `${name}: ${tree.stderr}`);
      assert.match(tree.stdout, /metrics\.json/, name);
    }
  });

  it("pull copies each into ./<name>/<version folder>", async () => {
    const into = join(dir, "pulls");
    await mkdir(into);
    for (const [index, name] of NAMES.entries()) {
      const pulled = await runCli(["pull", `${root}/${name}@latest`, "--quiet"], { cwd: into });
      assert.equal(pulled.code, 0, `${name}: ${pulled.stderr}`);
      assert.deepEqual(JSON.parse(await readFile(join(into, name, "v0", "jsons", "metrics.json"), "utf8")), { index }, name);
    }
  });

  it("<root>/x@y names the tag y of x: ls lists the folder's versions, and log says how to reach the name x@y", async () => {
    const versions = await runCli(["ls", `${root}/x@y`, "--json"]);
    assert.equal(versions.code, 0, versions.stderr);
    assert.equal((JSON.parse(versions.stdout) as { name: string }).name, "x@y");
    const log = await runCli(["log", `${root}/x@y`]);
    assert.equal(log.code, 1);
    assert.match(log.stderr, /No version of 'x' .* is tagged 'y'\. A snapshot named 'x@y' exists there: open it with a selector, as in x@y@latest\./);
  });
});
