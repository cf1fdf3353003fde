/** Python OpenCrate's version counter (`.opencrate/config.json`): when it is kept in step, and how it is written. */
import assert from "node:assert/strict";
import { chmod, lstat, mkdir, readFile, rm, stat, symlink, utimes, writeFile } from "node:fs/promises";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { forgetPythonCounter, pythonConfigFor, raisePythonCounter, readPythonCounter } from "../../src/snapshot/python-counter.ts";
import { resolveVersion } from "../../src/snapshot/resolve-version.ts";
import { Snapshot } from "../../src/index.ts";
import { useClock } from "../../src/clock.ts";
import { removeDir, tempDir } from "../cli/helpers.ts";
import { expectCode } from "../support/assertions.ts";
import { ManualClock } from "../support/manual-clock.ts";

const run = promisify(execFile);

describe("Python OpenCrate's counter", () => {
  let project: string;
  let config: string;
  before(async () => {
    project = await tempDir("python-counter");
    await mkdir(join(project, ".opencrate"));
    config = join(project, ".opencrate", "config.json");
  });
  after(() => removeDir(project));

  const read = async (): Promise<unknown> => JSON.parse(await readFile(config, "utf8"));

  it("applies to Python's own root only, unless turned off", () => {
    assert.equal(pythonConfigFor("snapshots", project), config);
    assert.equal(pythonConfigFor("./snapshots/", project), config);
    assert.equal(pythonConfigFor(join(project, "snapshots"), project), config);
    assert.equal(pythonConfigFor(`file://${join(project, "snapshots")}`, project), config);
    // The project is the folder that holds the root, wherever the process runs.
    assert.equal(pythonConfigFor("../snapshots", join(project, "scripts")), config);
    assert.equal(pythonConfigFor(join(project, "snapshots"), "/"), config);
    assert.equal(pythonConfigFor("/data/exp/snapshots", project), "/data/exp/.opencrate/config.json");
    for (const other of ["runs", "snapshots/train", "s3://bucket/snapshots", "memory://snapshots"]) {
      assert.equal(pythonConfigFor(other, project), undefined, other);
    }
    assert.equal(pythonConfigFor(undefined, project), undefined, "a backend given directly");
    process.env.OPENCRATE_PYTHON_COUNTER = "0";
    try {
      assert.equal(pythonConfigFor("snapshots", project), undefined);
    } finally {
      delete process.env.OPENCRATE_PYTHON_COUNTER;
    }
  });

  it("raises the name's counter, never lowers it, and keeps every other key", async () => {
    await writeFile(config, JSON.stringify({ project_name: "p", snapshot_version: { other: 9, train: 1 } }, null, 4));
    await raisePythonCounter(config, "train", 3);
    await raisePythonCounter(config, "train", 2);
    await raisePythonCounter(config, "fresh", 0);
    assert.deepEqual(await read(), { project_name: "p", snapshot_version: { other: 9, train: 3, fresh: 0 } });
    assert.match(await readFile(config, "utf8"), /^\{\n {4}"project_name"/, "indented like Python's json.dump(indent=4)");
  });

  it("concurrent raises lose no name and keep the highest number", async () => {
    await writeFile(config, "{}");
    const raises = Array.from({ length: 24 }, (_, i) => raisePythonCounter(config, `name${i % 8}`, i));
    await Promise.all(raises);
    const expected = Object.fromEntries(Array.from({ length: 8 }, (_, n) => [`name${n}`, 16 + n]));
    assert.deepEqual(await read(), { snapshot_version: expected });
  });

  it("does nothing outside a Python project, fails on a corrupt config, and breaks a stale lock", async () => {
    const elsewhere = join(project, "not-a-project", ".opencrate", "config.json");
    await raisePythonCounter(elsewhere, "train", 1);
    await writeFile(config, "{ not json");
    const error = await expectCode(raisePythonCounter(config, "train", 1), "CORRUPT_DATA");
    assert.ok(error.message.includes(config));
    assert.match(error.message, /is not valid JSON \(.+\); cannot record version 1 of 'train'/);
    await writeFile(config, "{}");
    await writeFile(`${config}.lock`, "");
    const old = new Date(Date.now() - 600_000);
    await utimes(`${config}.lock`, old, old);
    await raisePythonCounter(config, "train", 4);
    assert.deepEqual(await read(), { snapshot_version: { train: 4 } });
    await rm(`${config}.lock`, { force: true });
  });

  it("reads Python's JSON (bare NaN, Infinity) and changes only the counter's text, keeping every other byte", async () => {
    // As Python's json.dump(config, f, indent=4) writes it: NaN, a 64-bit integer, a float 1.0, ASCII escapes.
    const python =
      '{\n    "project_name": "D\\u00e9tecteur",\n    "seed": 12345678901234567890,\n    "lr": 1.0,\n    "best_loss": NaN,\n' +
      '    "bounds": [-Infinity, Infinity],\n    "snapshot_version": {\n        "other": 7,\n        "train": 1\n    },\n' +
      '    "extra": {"snapshot_version": {"train": 0}}\n}';
    await writeFile(config, python);
    await raisePythonCounter(config, "train", 3);
    assert.equal(await readFile(config, "utf8"), python.replace('"train": 1', '"train": 3'));
    await raisePythonCounter(config, "fresh", 0);
    assert.equal(await readFile(config, "utf8"), python.replace('"train": 1', '"train": 3,\n        "fresh": 0'));
    await raisePythonCounter(config, "train", 2);
    assert.equal(await readFile(config, "utf8"), python.replace('"train": 1', '"train": 3,\n        "fresh": 0'), "never lowered");
  });

  it("keeps the bytes of a config saved in another encoding, and adds only ASCII", async () => {
    // "Détecteur" in Latin-1, as an editor under a Latin-1 locale saves it (and Python there reads it).
    const latin1 = Buffer.from('{"project_name": "D\xe9tecteur", "snapshot_version": {"train": 1}}', "latin1");
    await writeFile(config, latin1);
    await raisePythonCounter(config, "train", 2);
    assert.deepEqual(await readFile(config), Buffer.from('{"project_name": "D\xe9tecteur", "snapshot_version": {"train": 2}}', "latin1"));
  });

  it("a config holding JSON that is not an object is refused at once, saying what it holds", async () => {
    for (const [other, said] of [
      ["[1, 2]", "holds a JSON array, not an object"],
      ["null", "holds the JSON value null, not an object"],
      ['"snapshots"', 'holds the JSON value "snapshots", not an object'],
    ]) {
      await writeFile(config, other ?? "");
      const error = await expectCode(raisePythonCounter(config, "train", 1), "CORRUPT_DATA");
      assert.equal(error.message, `${config} ${said ?? ""}; cannot record version 1 of 'train' in it.`);
      assert.equal(await readFile(config, "utf8"), other);
    }
  });

  it("a config found empty or cut short (Python rewriting it) is read again, and never written back emptied", async () => {
    const whole = JSON.stringify({ project_name: "p", snapshot_version: { other: 7, train: 1 } }, null, 4);
    for (const unsettled of ["", whole.slice(0, 20)]) {
      // Python's rewrite lands while the first reads find the file unsettled: the raise keeps every key.
      await writeFile(config, unsettled);
      const raising = raisePythonCounter(config, "train", 3);
      setTimeout(() => void writeFile(config, whole), 2);
      await raising;
      assert.deepEqual(await read(), { project_name: "p", snapshot_version: { other: 7, train: 3 } }, JSON.stringify(unsettled));

      // Still unsettled after the rereads: CORRUPT_DATA, and the file stays as it was.
      await writeFile(config, unsettled);
      await expectCode(raisePythonCounter(config, "train", 4), "CORRUPT_DATA");
      assert.equal(await readFile(config, "utf8"), unsettled);
    }
  });

  it("a config that is a symbolic link is written through it, keeping its mode", async () => {
    const shared = join(project, "shared-config.json");
    await writeFile(shared, JSON.stringify({ snapshot_version: { train: 1 } }));
    await chmod(shared, 0o664);
    await rm(config, { force: true });
    await symlink(shared, config);
    try {
      await raisePythonCounter(config, "train", 2);
      assert.ok((await lstat(config)).isSymbolicLink());
      assert.deepEqual(JSON.parse(await readFile(shared, "utf8")), { snapshot_version: { train: 2 } });
      assert.equal((await stat(shared)).mode & 0o777, 0o664);
    } finally {
      await rm(config, { force: true });
    }
  });

  it("setup raises the counter as soon as it has its number, before it asks git or starts its log", async () => {
    // A slow `git status` (a large checkout) notes what the counter says while setup waits for it.
    const checkout = join(project, "checkout");
    const bin = join(project, "fake-git-bin");
    await mkdir(join(checkout, ".git"), { recursive: true });
    await mkdir(join(checkout, ".opencrate"));
    await mkdir(bin);
    await writeFile(join(checkout, ".git", "HEAD"), `${"a".repeat(40)}\n`);
    await writeFile(join(checkout, ".opencrate", "config.json"), JSON.stringify({ snapshot_version: { other: 4 } }));
    // It waits (within setup's 2 s limit for git) until the counter names the run, then notes it: a setup that
    // raised the counter only after git answered leaves no note.
    await writeFile(
      join(bin, "git"),
      '#!/bin/sh\nfor i in $(seq 1 30); do grep -q train .opencrate/config.json && break; sleep 0.05; done\n' +
        'grep -q train .opencrate/config.json && cp .opencrate/config.json seen-by-git.json\necho " M x"\n',
      { mode: 0o755 },
    );
    const script = join(checkout, "setup.ts");
    await writeFile(
      script,
      `import { Snapshot } from ${JSON.stringify(new URL("../../src/index.ts", import.meta.url).href)};\n` +
        'const run = await Snapshot.setup({ name: "train", root: "snapshots", console: false });\nawait run.close();\n',
    );
    await run(process.execPath, [script], { cwd: checkout, env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ""}` } });
    assert.deepEqual(JSON.parse(await readFile(join(checkout, "seen-by-git.json"), "utf8")), { snapshot_version: { other: 4, train: 0 } });
  });

  it("setup raises the counter of the project that holds its root: from a subfolder, and through a linked path", async () => {
    const checkout = join(project, "from-elsewhere");
    await mkdir(join(checkout, ".opencrate"), { recursive: true });
    await mkdir(join(checkout, "scripts"));
    const checkoutConfig = join(checkout, ".opencrate", "config.json");
    await writeFile(checkoutConfig, JSON.stringify({ project_name: "p" }, null, 4));
    const script = join(checkout, "scripts", "setup.ts");
    await writeFile(
      script,
      `import { Snapshot } from ${JSON.stringify(new URL("../../src/index.ts", import.meta.url).href)};\n` +
        'const run = await Snapshot.setup({ name: "train", console: false });\nawait run.close();\n',
    );
    await run(process.execPath, [script], { cwd: join(checkout, "scripts"), env: { ...process.env, OPENCRATE_ROOT: "../snapshots" } });
    assert.deepEqual(JSON.parse(await readFile(checkoutConfig, "utf8")), { project_name: "p", snapshot_version: { train: 0 } });

    const link = join(project, "linked-checkout");
    await symlink(checkout, link);
    const linked = await Snapshot.setup({ name: "train", root: join(link, "snapshots"), console: false });
    const { versionName } = linked;
    await linked.close();
    assert.equal(versionName, "v1");
    assert.deepEqual(JSON.parse(await readFile(checkoutConfig, "utf8")), { project_name: "p", snapshot_version: { train: 1 } });
  });

  it("reads the name's counter; none for a missing file, name or number, or a config that stays unreadable", async () => {
    await writeFile(config, JSON.stringify({ snapshot_version: { train: 3, zero: 0, text: "3", minus: -1, half: 1.5, none: null } }));
    assert.equal(await readPythonCounter(config, "train"), 3);
    assert.equal(await readPythonCounter(config, "zero"), 0);
    for (const name of ["text", "minus", "half", "none", "missing"]) assert.equal(await readPythonCounter(config, name), undefined, name);
    for (const body of ["{}", '{"snapshot_version": [3]}', "[]", "{ not json"]) {
      await writeFile(config, body);
      assert.equal(await readPythonCounter(config, "train"), undefined, body);
    }
    assert.equal(await readPythonCounter(join(project, "nowhere", "config.json"), "train"), undefined);
    // Python rewriting the file: found empty, read again.
    await writeFile(config, "");
    const reading = readPythonCounter(config, "train");
    setTimeout(() => void writeFile(config, JSON.stringify({ snapshot_version: { train: 8 } })), 2);
    assert.equal(await reading, 8);
  });

  it('"new" starts past the counter: a version Python numbered before making its folder is never taken', async () => {
    // Python has v0 and v1, and has raised its counter to 3 for a run whose folder it has not made yet.
    const ahead = join(project, "ahead");
    await mkdir(join(ahead, ".opencrate"), { recursive: true });
    await writeFile(join(ahead, ".opencrate", "config.json"), JSON.stringify({ snapshot_version: { train: 3 } }));
    for (const folder of ["v0", "v1"]) {
      await mkdir(join(ahead, "snapshots", "train", folder), { recursive: true });
      await writeFile(join(ahead, "snapshots", "train", folder, "train.log"), `python ${folder}\n`);
    }
    const script = join(ahead, "setup.ts");
    await writeFile(
      script,
      `import { Snapshot } from ${JSON.stringify(new URL("../../src/index.ts", import.meta.url).href)};\n` +
        'const run = await Snapshot.setup({ name: "train", root: "snapshots", console: false });\n' +
        "console.log(run.versionName);\nawait run.close();\n",
    );
    const { stdout } = await run(process.execPath, [script], { cwd: ahead });
    assert.equal(stdout.trim(), "v4");
    assert.deepEqual(JSON.parse(await readFile(join(ahead, ".opencrate", "config.json"), "utf8")), { snapshot_version: { train: 4 } });
    await assert.rejects(stat(join(ahead, "snapshots", "train", "v3")), { code: "ENOENT" });
  });

  it('"new" on any backend takes the highest of the claims, the folders and the counter + 1, with a run id too', async () => {
    const backend = new MemoryBackend({ name: "python-counter" });
    const resolve = (name: string, runId?: string) =>
      resolveVersion({ backend, name, start: "new", tag: undefined, runId, rank: undefined, replace: false, pythonConfig: config, warn: () => {} });
    await writeFile(config, JSON.stringify({ snapshot_version: { alone: 6, ranked: 2, behind: 1 } }));
    assert.equal((await resolve("alone")).version, 7);
    assert.equal((await resolve("ranked", "job-1")).version, 3);
    assert.equal((await resolve("ranked", "job-1")).version, 3, "another rank of the run joins it");
    assert.equal((await resolve("fresh")).version, 0, "no counter for the name");
    for (const folder of ["v0", "v1", "v2:copied"]) await backend.put(`behind/${folder}/behind.log`, "python\n");
    assert.equal((await resolve("behind")).version, 3, "a folder above the counter");
    assert.equal((await resolve("behind")).version, 4, "a claim above the counter");
  });

  it("reset removes the name's counter only, so numbering restarts at v0 for both tools", async () => {
    await writeFile(config, JSON.stringify({ project_name: "p", snapshot_version: { train: 5, other: 2 } }, null, 4));
    await forgetPythonCounter(config, "train");
    await forgetPythonCounter(config, "missing");
    await forgetPythonCounter(join(project, "nowhere", "config.json"), "train");
    assert.deepEqual(await read(), { project_name: "p", snapshot_version: { other: 2 } });
    await writeFile(config, "{ not json");
    const error = await expectCode(forgetPythonCounter(config, "train"), "CORRUPT_DATA");
    assert.ok(error.message.includes(config), error.message);

    const resets = join(project, "resets");
    await mkdir(join(resets, ".opencrate"), { recursive: true });
    await writeFile(join(resets, ".opencrate", "config.json"), JSON.stringify({ snapshot_version: { other: 2 } }));
    const script = join(resets, "setup.ts");
    await writeFile(
      script,
      `import { Snapshot } from ${JSON.stringify(new URL("../../src/index.ts", import.meta.url).href)};\n` +
        'const options = { name: "train", root: "snapshots", console: false } as const;\n' +
        "const first = await Snapshot.setup(options);\nawait (await Snapshot.setup(options)).close();\n" +
        "await first.setup(options);\nawait first.reset({ confirm: true });\n" +
        "const again = await Snapshot.setup(options);\nconsole.log(again.versionName);\nawait again.close();\n",
    );
    const { stdout } = await run(process.execPath, [script], { cwd: resets });
    assert.equal(stdout.trim(), "v0");
    assert.deepEqual(JSON.parse(await readFile(join(resets, ".opencrate", "config.json"), "utf8")), { snapshot_version: { other: 2, train: 0 } });
  });

  it("raises through two links to one shared config lose no name: both take the shared file's lock", async () => {
    const shared = join(project, "shared-by-two.json");
    await writeFile(shared, JSON.stringify({ snapshot_version: {} }));
    const links = [join(project, "checkout-a.json"), join(project, "checkout-b.json")];
    for (const link of links) await symlink(shared, link);
    await Promise.all(Array.from({ length: 40 }, (_, i) => raisePythonCounter(links[i % 2] ?? "", `name${i}`, i)));
    const counters = (JSON.parse(await readFile(shared, "utf8")) as { snapshot_version: Record<string, number> }).snapshot_version;
    assert.equal(Object.keys(counters).length, 40);
  });

  it("waits for a fresh lock a minute by the clock, then fails naming it, and leaves the config alone", async () => {
    await writeFile(config, "{}");
    const lock = `${config}.lock`;
    await writeFile(lock, "");
    const time = new ManualClock();
    const restoreClock = useClock(time);
    try {
      let settled = false;
      const raising = raisePythonCounter(config, "train", 5).finally(() => {
        settled = true;
      });
      raising.catch(() => {});
      // The lock's age is its file's real age (seconds at most), so it never turns stale here: only the wait ends.
      for (let waited = 0; waited <= 60_000; waited += 10_000) {
        await time.nextTimer();
        assert.equal(settled, false, `still waiting after ${waited / 1000} s`);
        time.advance(10_000);
      }
      const error = await expectCode(raising, "TRANSIENT");
      assert.ok(error.message.includes(lock), error.message);
      assert.deepEqual(await read(), {});
    } finally {
      restoreClock();
      await rm(lock, { force: true });
    }
  });
});
