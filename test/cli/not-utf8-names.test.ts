/**
 * On local disk, a file whose name is not UTF-8 has no key. Outside any version (beside the versions, under the
 * root, in the bookkeeping folder) it cannot be a snapshot, a version or a claim, so it does not stop finding
 * them; inside a version, a pull of that version fails naming it, and ls and the viewer list the other files and
 * mark it.
 */
import assert from "node:assert/strict";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { LocalBackend } from "../../src/backends/local/index.ts";
import { isOpenCrateError } from "../../src/errors.ts";
import { Snapshot } from "../../src/index.ts";
import { Catalog } from "../../src/ui/catalog.ts";
import { resolveViewerTarget } from "../../src/ui/target.ts";
import { removeDir, runCli, tempDir } from "./helpers.ts";

/** `<folder>/<stem>\xff.txt`, a name in Latin-1 rather than UTF-8. */
async function writeNotUtf8(folder: string, stem: string): Promise<void> {
  await mkdir(folder, { recursive: true });
  await writeFile(Buffer.concat([Buffer.from(`${folder}/${stem}`), Buffer.from([0xff]), Buffer.from(".txt")]), "stray");
}

async function makeRun(backend: LocalBackend, name: string): Promise<void> {
  const run = await Snapshot.setup({ name, backend, console: false });
  await run.json("m.json").save({ a: 1 });
  await run.close();
}

describe("names that are not UTF-8 on local disk", () => {
  let dir: string;
  let root: string;
  let backend: LocalBackend;

  before(async () => {
    dir = await tempDir("not-utf8");
    root = join(dir, "root");
    backend = new LocalBackend({ root });
    await makeRun(backend, "train");
    await makeRun(backend, "broken");
    await writeNotUtf8(join(root, "train"), "notes-");
    await writeNotUtf8(join(root, "train", ".opencrate"), "stray-");
    await writeNotUtf8(join(root, "train", ".opencrate", "versions"), "stray-");
    await writeNotUtf8(join(root, "train", ".opencrate", "run-records"), "stray-");
    await writeNotUtf8(root, "stray-");
    await writeNotUtf8(join(root, "broken", "v0"), "inside-");
  });

  after(async () => removeDir(dir));

  it("a stray file beside the versions or in the bookkeeping folder: ls, log and pull by selector work", async () => {
    const names = await runCli(["ls", root]);
    assert.equal(names.code, 0, names.stderr);
    assert.deepEqual(names.stdout.trim().split("\n"), ["broken", "train"]);
    const versions = await runCli(["ls", join(root, "train")]);
    assert.equal(versions.code, 0, versions.stderr);
    assert.match(versions.stdout, /^v0 /m);
    const log = await runCli(["log", `${join(root, "train")}@latest`]);
    assert.equal(log.code, 0, log.stderr);
    const dest = join(dir, "pulled");
    const pull = await runCli(["pull", `${join(root, "train")}@latest`, dest]);
    assert.equal(pull.code, 0, pull.stderr);
    assert.deepEqual(JSON.parse(await readFile(join(dest, "jsons", "m.json"), "utf8")), { a: 1 });
    assert.match(versions.stderr, /OPENCRATE_NAME_NOT_UTF8.*notes-\\xff\.txt/);
  });

  it("inside a version: pull of that version fails naming the file; ls lists the others and marks it, exit 1", async () => {
    const uri = `${join(root, "broken")}@0`;
    const pull = await runCli(["pull", uri, join(dir, "pulled-broken")]);
    assert.equal(pull.code, 1, pull.stdout);
    assert.ok(pull.stderr.includes(String.raw`"inside-\xff.txt" in ${join(root, "broken", "v0")} is not valid UTF-8`), pull.stderr);
    const ls = await runCli(["ls", uri]);
    assert.equal(ls.code, 1, ls.stdout);
    assert.match(ls.stdout, /jsons\/m\.json/);
    assert.ok(ls.stdout.includes(String.raw`inside-\xff.txt (cannot be listed: a name that is not valid UTF-8`), ls.stdout);
    assert.ok(ls.stderr.includes(String.raw`${join(root, "broken", "v0")}/inside-\xff.txt cannot be listed: a name that is not valid UTF-8`), ls.stderr);
  });

  it("the library opens @latest and sets up a new run; the viewer lists the names and the version's other files", async () => {
    const opened = await Snapshot.open(`${join(root, "train")}@latest`);
    assert.equal(opened.version, 0);
    const run = await Snapshot.setup({ name: "train", backend, console: false });
    assert.equal(run.version, 1);
    await run.close();
    assert.equal((await Snapshot.open(`${join(root, "train")}@latest`)).version, 1);
    assert.deepEqual(await resolveViewerTarget(root), { root, start: undefined });
    const catalog = new Catalog(backend);
    assert.deepEqual((await catalog.names()).map((summary) => [summary.name, summary.versions]), [["broken", 1], ["train", 2]]);
    await assert.rejects(catalog.files("broken", "v0"), (error: unknown) => isOpenCrateError(error, "CORRUPT_DATA") && error.message.includes(String.raw`"inside-\xff.txt"`));
    const shown = await catalog.shownFiles("broken", "v0");
    assert.ok(shown.files.some((file) => file.path === "jsons/m.json"));
    assert.deepEqual(shown.unlistable.map((entry) => entry.path), [String.raw`inside-\xff.txt`]);
  });

  it("reset deletes the versions beside such a file and keeps it; one inside a version fails it, deleting nothing", async () => {
    const resetRoot = join(dir, "reset");
    const resetBackend = new LocalBackend({ root: resetRoot });
    await makeRun(resetBackend, "kept");
    await makeRun(resetBackend, "kept");
    await writeNotUtf8(join(resetRoot, "kept"), "notes-");
    const resetting = await Snapshot.setup({ name: "kept", backend: resetBackend, console: false });
    await resetting.reset({ confirm: true });
    assert.deepEqual(await readdir(join(resetRoot, "kept"), { encoding: "buffer" }), [Buffer.from([...Buffer.from("notes-"), 0xff, ...Buffer.from(".txt")])]);

    await makeRun(resetBackend, "held");
    await makeRun(resetBackend, "held");
    await writeNotUtf8(join(resetRoot, "held", "v0"), "inside-");
    const refused = await Snapshot.setup({ name: "held", backend: resetBackend, console: false });
    await assert.rejects(refused.reset({ confirm: true }), (error: unknown) => isOpenCrateError(error, "CORRUPT_DATA") && error.message.includes(String.raw`"inside-\xff.txt"`));
    assert.deepEqual((await readdir(join(resetRoot, "held"))).sort(), [".opencrate", "v0", "v1", "v2"]);
    assert.deepEqual(await readdir(join(resetRoot, "held", "v1", "jsons")), ["m.json"]);
  });
});
