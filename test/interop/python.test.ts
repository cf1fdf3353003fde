/**
 * Against the real Python OpenCrate 0.1.0rc3 (installed by scripts/python-opencrate.sh into .cache), both ways:
 * - Python writes a project the way its guide does (python_driver.py); TypeScript lists, opens, loads and pulls
 *   it, resumes it without losing a byte of Python's, and numbers its own run after Python's; Python then
 *   resumes "last" and lands in our version (we keep its counter in `.opencrate/config.json` in step).
 * - TypeScript runs examples/snapshot-guide.ts in a Python project; Python resumes "last" and loads our text,
 *   JSON, YAML, CSV, images, audio and safetensors checkpoint.
 * - A Python-written root copied up to MinIO and fake-gcs-server is listed, opened and resumed from TypeScript.
 * - A diverged Python run: JSON with bare NaN / Infinity, and a safetensors file with a complex64 tensor.
 * - The counter raised from a subfolder (root ../snapshots), and a config holding values JavaScript's JSON would
 *   change kept byte for byte, then read by Python under an ASCII locale.
 * - A Python "new" held after it raised its counter, before it made its folder: our "new" takes the next number.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { access, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import type { StorageBackend } from "../../src/backends/backend.ts";
import { LocalBackend } from "../../src/backends/local/index.ts";
import { Snapshot, type ArtifactStorage } from "../../src/index.ts";
import { readText } from "../support/assertions.ts";
import { gcsFactory } from "../support/gcs.ts";
import { minioFactory } from "../support/s3.ts";
import { gcsEnv, minioEnv, useTestServersForUris } from "../support/servers.ts";
import { cliEnv, removeDir, runCli, tempDir } from "../cli/helpers.ts";

const run = promisify(execFile);
const repo = fileURLToPath(new URL("../../", import.meta.url));
const DRIVER = fileURLToPath(new URL("./python_driver.py", import.meta.url));
const TS_STEP = fileURLToPath(new URL("./fixtures/ts-step.ts", import.meta.url));
const GUIDE = fileURLToPath(new URL("../../examples/snapshot-guide.ts", import.meta.url));
const NAME = "guide";

useTestServersForUris();
const minio = minioEnv();
const gcs = gcsEnv();

/** The venv's python, installing it first when needed (a minute and a half from nothing, instant after). */
async function findPython(): Promise<string | undefined> {
  try {
    const { stdout } = await run("bash", [join(repo, "scripts", "python-opencrate.sh")], { timeout: 900_000 });
    return stdout.trim().split("\n").at(-1);
  } catch (error) {
    const reason = `Python OpenCrate could not be installed (bash scripts/python-opencrate.sh): ${(error as Error).message}`;
    if (process.env.CI === "true") throw new Error(`CI=true but ${reason}`);
    console.warn(`\n!!! SKIPPING the Python interop suite: ${reason}\n`);
    return undefined;
  }
}

const python = await findPython();

interface PythonResult {
  readonly version: number;
  readonly version_name: string;
  readonly [key: string]: unknown;
}

async function py(cwd: string, ...args: string[]): Promise<PythonResult> {
  return pyWith({}, cwd, ...args);
}

/** Python with an ASCII locale encoding, as under a C locale (or a Windows code page): `open()` reads ASCII. */
const ASCII_LOCALE = { LC_ALL: "C", PYTHONUTF8: "0", PYTHONCOERCECLOCALE: "0" };

async function pyWith(env: NodeJS.ProcessEnv, cwd: string, ...args: string[]): Promise<PythonResult> {
  const { stdout } = await run(python ?? "python3", [DRIVER, ...args], {
    cwd,
    env: { ...cliEnv(), MPLBACKEND: "Agg", ...env },
    timeout: 180_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  const line = stdout.split("\n").find((text) => text.startsWith("RESULT "));
  assert.ok(line !== undefined, `no RESULT line in:\n${stdout}`);
  return JSON.parse(line.slice("RESULT ".length)) as PythonResult;
}

async function tsStep(cwd: string | { cwd: string; root: string }, ...args: string[]): Promise<{ version: number; versionName: string }> {
  const { stdout } = await run(process.execPath, [TS_STEP, ...args], {
    cwd: typeof cwd === "string" ? cwd : cwd.cwd,
    env: cliEnv(typeof cwd === "string" ? {} : { OPENCRATE_ROOT: cwd.root }),
    timeout: 120_000,
  });
  return JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as { version: number; versionName: string };
}

/** A Python OpenCrate project folder: `.opencrate/config.json` with a key of its own. */
async function pythonProject(label: string): Promise<string> {
  const dir = await tempDir(label);
  await mkdir(join(dir, ".opencrate"));
  await writeFile(join(dir, ".opencrate", "config.json"), JSON.stringify({ project_name: "interop" }, null, 4));
  return dir;
}

async function readConfig(project: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(join(project, ".opencrate", "config.json"), "utf8")) as Record<string, unknown>;
}

/** Every file under `dir` (relative path → sha256), hidden bookkeeping excluded. */
async function fingerprint(dir: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const key = relative(dir, path);
    if (key.split("/").some((part) => part.startsWith("."))) continue;
    files.set(key, createHash("sha256").update(await readFile(path)).digest("hex"));
  }
  return files;
}

describe("Python OpenCrate writes, TypeScript reads and resumes (local disk)", { skip: python === undefined ? "no Python OpenCrate" : false }, () => {
  let project: string;
  let root: string;
  let before3: Map<string, string>;

  before(async () => {
    project = await pythonProject("interop-py");
    root = join(project, "snapshots");
    assert.equal((await py(project, "first-run", NAME)).version_name, "v0:initial-run");
    assert.equal((await py(project, "resume-first", NAME)).version_name, "v0:initial-run");
    assert.equal((await py(project, "artifacts-run", NAME)).version_name, "v1:major-update");
    before3 = await fingerprint(join(root, NAME));
  });
  after(() => removeDir(project));

  it("lists the versions and tags Python made", async () => {
    const snapshot = await Snapshot.open(`${root}/${NAME}@latest`);
    assert.equal(snapshot.versionName, "v1:major-update");
    assert.deepEqual(
      (await snapshot.listVersions()).map((v) => [v.versionName, v.version, v.claimed]),
      [
        ["v0:initial-run", 0, false],
        ["v1:major-update", 1, false],
      ],
    );
    assert.deepEqual(await snapshot.listTags(), ["initial-run", "major-update"]);
    assert.equal((await Snapshot.open(`${root}/${NAME}@0`)).versionName, "v0:initial-run");
    assert.equal((await Snapshot.open(`${root}/${NAME}@major-update`)).versionName, "v1:major-update");
    assert.equal((await Snapshot.open(`${root}/${NAME}/v1`)).versionName, "v1:major-update");
  });

  it("loads every artifact type both libraries share", async () => {
    const snapshot = await Snapshot.open(`${root}/${NAME}@latest`);
    assert.equal(await snapshot.text("greeting.txt").load(), "Hello from Python OpenCrate!");
    assert.deepEqual(await snapshot.json("data.json").load(), { array: [10, 20, 30, 40], message: "from python, edited" });
    assert.deepEqual(await snapshot.json("data.backup_initial-version.json").load(), { array: [10, 20, 30], message: "from python" });
    assert.deepEqual((await snapshot.json("data.json").listBackups()).sort(), ["data.backup_edited.json", "data.backup_initial-version.json"]);
    assert.deepEqual(await snapshot.yaml("config.yaml").load(), { project: "interop", settings: { debug_mode: true }, version: 1.1 });
    assert.deepEqual(await snapshot.csv("sample_data.csv").load(), [
      { col_a: 100, col_b: 300 },
      { col_a: 200, col_b: 400 },
    ]);
    // numpy writes no header: its first line is taken for one, and every field below is a number again.
    const floats = await snapshot.csv("numpy_floats.csv").load({ header: false });
    assert.deepEqual(floats, [
      ["1.000000000000000056e-01", "1.000000000000000000e+00"],
      ["2.500000000000000000e-01", "3.333333333333333148e-01"],
    ]);
    assert.deepEqual(await snapshot.csv("numpy_floats.csv").load(), [{ "1.000000000000000056e-01": 0.25, "1.000000000000000000e+00": 1 / 3 }]);
    const jpeg = await snapshot.image("random_numpy_image.jpg").load();
    assert.deepEqual([jpeg.width, jpeg.height, jpeg.channels], [48, 32, 3]);
    const png = await snapshot.image("sine_wave_plot.png").load();
    assert.ok(png.width > 0 && png.height > 0);
    const audio = await snapshot.audio("high_pitch_sine.wav").load();
    assert.equal(audio.sampleRate, 8000);
    assert.equal(audio.channels.length, 1);
    assert.equal(audio.channels[0]?.length, 2000);
    const archive = await snapshot.artifact("image_archive", "images_archive.zip", { handler: BytesHandler }).load();
    assert.equal(archive.subarray(0, 2).toString("latin1"), "PK");
    const log = await readText(snapshot.backend, `${NAME}/v1:major-update/${NAME}.log`);
    assert.match(log, /- ERROR {4}caught a division by zero\nTraceback \(most recent call last\):/);
  });

  it("the CLI lists, trees, cats and pulls it; the pulled copy is itself a readable root", async () => {
    const names = await runCli(["ls", root]);
    assert.equal(names.code, 0, names.stderr);
    assert.equal(names.stdout.trim(), NAME);
    const versions = await runCli(["ls", `${root}/${NAME}`, "--json"]);
    assert.equal(versions.code, 0, versions.stderr);
    const listed = JSON.parse(versions.stdout) as { versions: { versionName: string }[] };
    assert.deepEqual(listed.versions.map((v) => v.versionName), ["v0:initial-run", "v1:major-update"]);
    const tree = await runCli(["tree", `${root}/${NAME}@latest`, "--depth", "3"]);
    assert.equal(tree.code, 0, tree.stderr);
    assert.match(tree.stdout, /greeting\.txt/);
    assert.match(tree.stdout, /bounding_boxes/);
    const cat = await runCli(["cat", `${root}/${NAME}@latest/texts/greeting.txt`]);
    assert.equal(cat.stdout, "Hello from Python OpenCrate!");
    const log = await runCli(["log", `${root}/${NAME}@initial-run`, "--history"]);
    assert.equal(log.code, 0, log.stderr);
    assert.match(log.stdout, /first run of guide/);

    const pulls = await tempDir("interop-pulls");
    try {
      const pulled = await runCli(["pull", `${root}/${NAME}@latest`, "--quiet"], { cwd: pulls });
      assert.equal(pulled.code, 0, pulled.stderr);
      const copy = await fingerprint(join(pulls, NAME, "v1:major-update"));
      for (const [path, hash] of copy) assert.equal(before3.get(join("v1:major-update", path)), hash, path);
      assert.equal(copy.size, [...before3.keys()].filter((path) => path.startsWith("v1:major-update/")).length);
      const again = await runCli(["ls", join(pulls, NAME, "v1:major-update")]);
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /texts\/greeting\.txt/);
      assert.equal((await Snapshot.open(`${pulls}/${NAME}@latest`)).versionName, "v1:major-update");
    } finally {
      await removeDir(pulls);
    }
  });

  it("resumes without losing a byte, numbers its own run after Python's, and Python resumes ours", async () => {
    const resumed = await tsStep(project, NAME, "last", "major-update");
    assert.deepEqual(resumed, { version: 1, versionName: "v1:major-update" });
    const after1 = await fingerprint(join(root, NAME));
    const logPath = `v1:major-update/${NAME}.log`;
    for (const [path, hash] of before3) {
      if (path !== logPath) assert.equal(after1.get(path), hash, `${path} is unchanged`);
    }
    const newLog = await readFile(join(root, NAME, logPath), "utf8");
    assert.match(newLog, /typescript run with start last\n$/);
    assert.equal(newLog.split("\n").length, 2, "the .log holds this run's line only");
    const history = await readFile(join(root, NAME, `v1:major-update/${NAME}.history.log`), "utf8");
    assert.match(history, /^(.*\n){1,}.*all artifacts saved\n.*typescript run with start last\n$/);
    assert.ok(history.split("\n").length > 10, "the history starts with Python's whole .log");

    const fresh = await tsStep(project, NAME, "new");
    assert.deepEqual(fresh, { version: 2, versionName: "v2" });
    const config = await readConfig(project);
    assert.deepEqual(config, { project_name: "interop", snapshot_version: { [NAME]: 2 } });

    const pythonSide = await py(project, "load-last", NAME);
    assert.equal(pythonSide.version_name, "v2", "Python's start=last lands in our newest version");
    const history2 = await readFile(join(root, NAME, `v2/${NAME}.history.log`), "utf8");
    assert.match(history2, /typescript run with start new\n.*python resumed this version\n$/s);
  });
});

describe("values Python writes that JavaScript spells differently (local disk)", { skip: python === undefined ? "no Python OpenCrate" : false }, () => {
  let project: string;
  before(async () => {
    project = await pythonProject("interop-diverged");
    assert.equal((await py(project, "diverged-run", "diverged")).version_name, "v0");
  });
  after(() => removeDir(project));

  it("loads Python's NaN and infinities in JSON as those numbers, a string \"NaN\" as a string", async () => {
    const raw = await readFile(join(project, "snapshots", "diverged", "v0", "jsons", "metrics.json"), "utf8");
    assert.match(raw, /"loss": NaN, "best": Infinity, "worst": -Infinity/);
    const snapshot = await Snapshot.open(`${project}/snapshots/diverged@latest`);
    assert.deepEqual(await snapshot.json("metrics.json").load(), { loss: Number.NaN, best: Infinity, worst: -Infinity, note: "NaN" });
  });

  it("soundfile's mu-law and RF64 WAVs and PIL's float TIFF are NOT_SUPPORTED naming their format", async () => {
    const snapshot = await Snapshot.open(`${project}/snapshots/diverged@latest`);
    const refused = async (load: Promise<unknown>, part: string): Promise<void> => {
      await assert.rejects(load, (error: Error & { code?: string }) => {
        assert.equal(error.code, "NOT_SUPPORTED", error.message);
        assert.ok(error.message.includes(part), error.message);
        return true;
      });
    };
    await refused(snapshot.audio("mulaw.wav").load(), "μ-law (format 7)");
    await refused(snapshot.audio("rf64.wav").load(), "RF64");
    await refused(snapshot.image("depth.tif").load(), "32-bit float");
  });

  it("a complex64 tensor is NOT_SUPPORTED naming it; the float32 beside it loads by keys", async () => {
    const snapshot = await Snapshot.open(`${project}/snapshots/diverged@latest`);
    const checkpoint = snapshot.checkpoint("complex.safetensors");
    await assert.rejects(checkpoint.load(), (error: Error & { code?: string }) => {
      assert.equal(error.code, "NOT_SUPPORTED");
      assert.match(error.message, /complex\.safetensors.*"z" is C64/);
      return true;
    });
    assert.deepEqual(await checkpoint.load({ keys: ["w"] }), { w: { dtype: "F32", shape: [2], data: new Float32Array([0.5, 1.5]) } });
  });
});

describe("Python's counter kept in step with its project's config (local disk)", { skip: python === undefined ? "no Python OpenCrate" : false }, () => {
  const projects: string[] = [];
  after(() => Promise.all(projects.map((project) => removeDir(project))));

  it("a run from a subfolder of the project (root ../snapshots) raises it: Python resumes that run and numbers after it", async () => {
    const project = await pythonProject("interop-subfolder");
    projects.push(project);
    await mkdir(join(project, "scripts"));
    assert.equal((await py(project, "new-run", "sub")).version_name, "v0");
    assert.equal((await tsStep({ cwd: join(project, "scripts"), root: "../snapshots" }, "sub", "new")).versionName, "v1");
    assert.equal((await py(project, "load-last", "sub")).version_name, "v1", "Python's start=last lands in our version");
    assert.match(await readFile(join(project, "snapshots", "sub", "v1", "sub.history.log"), "utf8"), /typescript run with start new\n.*python resumed this version\n$/s);
    assert.equal((await py(project, "new-run", "sub")).version_name, "v2");
  });

  it("a config holding NaN, a 64-bit integer, 1.0 and escaped text keeps them as Python wrote them, read under an ASCII locale", async () => {
    const project = await pythonProject("interop-config-values");
    projects.push(project);
    const configPath = join(project, ".opencrate", "config.json");
    assert.equal((await py(project, "config-values-run", "vals")).version_name, "v0");
    const written = await readFile(configPath, "utf8");
    assert.match(written, /"best_loss": NaN,/);
    assert.match(written, /"owner": "D\\u00e9tecteur",/);

    assert.equal((await tsStep(project, "vals", "new")).versionName, "v1");
    assert.equal(await readFile(configPath, "utf8"), written.replace('"vals": 0', '"vals": 1'), "only the counter's text changes");

    const next = await pyWith(ASCII_LOCALE, project, "new-run", "vals");
    assert.equal(next.version_name, "v2", "Python numbers its run after ours");
    assert.deepEqual(next.config, {
      project_name: "'interop'",
      best_loss: "nan",
      bounds: "[-inf, inf]",
      seed: "12345678901234567890",
      lr: "1.0",
      owner: "'D\u00e9tecteur'",
      nested: "{'snapshot_version': {'vals': 99}}",
      snapshot_version: "{'vals': 2}",
    });
  });
});

describe("names Python takes that opencrate would not give a new snapshot (local disk)", { skip: python === undefined ? "no Python OpenCrate" : false }, () => {
  const names = ["my run", "x@y", "exp:1", "résumé"];
  let project: string;
  let root: string;
  before(async () => {
    project = await pythonProject("interop-names");
    root = join(project, "snapshots");
    for (const name of names) assert.equal((await py(project, "named-run", name)).version_name, "v0");
  });
  after(() => removeDir(project));

  it("ls lists them, and Snapshot.open, log and cat read each", async () => {
    const listed = await runCli(["ls", root]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(listed.stdout.trimEnd().split("\n").sort(), [...names].sort());
    for (const name of names) {
      const snapshot = await Snapshot.open(`${root}/${name}@latest`);
      assert.deepEqual(await snapshot.json("metrics.json").load(), { name });
      const log = await runCli(["log", `${root}/${name}@latest`]);
      assert.equal(log.code, 0, log.stderr);
      assert.ok(log.stdout.endsWith(`python run of ${name}\n`), log.stdout);
      const cat = await runCli(["cat", `${root}/${name}/v0/jsons/metrics.json`]);
      assert.equal(cat.code, 0, cat.stderr);
      assert.deepEqual(JSON.parse(cat.stdout), { name });
    }
  });

  it("TypeScript resumes 'my run' and numbers its own run after Python's; Python then resumes ours; a new such name is refused", async () => {
    assert.deepEqual(await tsStep(project, "my run", "last"), { version: 0, versionName: "v0" });
    const history = await readFile(join(root, "my run", "v0", "my run.history.log"), "utf8");
    assert.match(history, /python run of my run\n.*typescript run with start last\n$/s);
    assert.deepEqual(await tsStep(project, "my run", "new"), { version: 1, versionName: "v1" });
    assert.deepEqual((await readConfig(project)).snapshot_version, { "my run": 1, "x@y": 0, "exp:1": 0, "résumé": 0 });
    const pythonSide = await py(project, "load-last", "my run");
    assert.equal(pythonSide.version_name, "v1", "Python's start=last lands in our newest version");
    await assert.rejects(tsStep(project, "your run", "new"), /a new name takes 1-128 characters/);
    assert.deepEqual((await readdir(root)).sort(), [...names].sort());
  });
});

describe("TypeScript writes, Python resumes and loads (local disk)", { skip: python === undefined ? "no Python OpenCrate" : false }, () => {
  let project: string;
  before(async () => {
    project = await pythonProject("interop-ts");
    await run(process.execPath, ["--conditions=source", GUIDE], {
      cwd: project,
      env: cliEnv(),
      timeout: 240_000,
      maxBuffer: 32 * 1024 * 1024,
    });
  });
  after(() => removeDir(project));

  it("keeps Python's counter in step with our claims, other keys kept", async () => {
    assert.deepEqual(await readConfig(project), { project_name: "interop", snapshot_version: { snapshot_guide: 1 } });
  });

  it("Python resumes our latest version and loads what we saved", async () => {
    const loaded = await py(project, "load-last", "snapshot_guide", "major-update");
    assert.equal(loaded.version_name, "v1:major-update");
    assert.equal(loaded["texts/greeting.txt"], "Hello, OpenCrate Guide!");
    assert.deepEqual(loaded["jsons/data.json"], { array: [10, 20, 30], message: "Sample JSON data" });
    assert.deepEqual(loaded["yamls/config.yaml"], { project: "OpenCrate Guide", settings: { debug_mode: true }, version: 1.1 });
    assert.deepEqual(loaded["csvs/sample_data.csv"], [
      ["col_a", "col_b"],
      ["100", "300"],
      ["200", "400"],
    ]);
    assert.deepEqual(loaded["images/random_numpy_image.jpg"], [128, 128, 3]);
    assert.equal((loaded["images/sine_wave_plot.png"] as number[]).length, 3);
    assert.deepEqual(loaded["audios/high_pitch_sine.wav"], { sample_rate: 44100, channels: 1, frames: 132300, peak: 0.3 });
    const tensors = loaded["checkpoints/custom_model_checkpoint.safetensors"] as Record<string, number[]>;
    assert.deepEqual(tensors["model_state_dict.0.weight"], [10, 20]);

    const history = await readFile(join(project, "snapshots", "snapshot_guide", "v1:major-update", "snapshot_guide.history.log"), "utf8");
    assert.match(history, /python resumed this version\n$/);
    const reader = await Snapshot.open(`${project}/snapshots/snapshot_guide@latest`);
    assert.equal(reader.versionName, "v1:major-update");
    assert.equal(await reader.text("greeting.txt").load(), "Hello, OpenCrate Guide!");
  });
});

/** Resolves once `path` exists; rejects with `running`'s error should that end first. */
async function fileAppears(path: string, running: Promise<unknown>): Promise<void> {
  let ended: unknown;
  running.then(
    () => (ended = new Error(`the Python step ended before ${path} appeared`)),
    (error: unknown) => (ended = error),
  );
  for (;;) {
    if (await access(path).then(() => true, () => false)) return;
    if (ended !== undefined) throw ended;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('a Python "new" run that has numbered its version but not made its folder yet (local disk)', { skip: python === undefined ? "no Python OpenCrate" : false }, () => {
  let project: string;
  before(async () => {
    project = await pythonProject("interop-held");
  });
  after(() => removeDir(project));

  it('opencrate\'s "new" takes the number after Python\'s counter, and each run keeps its own log', async () => {
    assert.equal((await py(project, "new-run", "held")).version_name, "v0");
    assert.equal((await py(project, "new-run", "held")).version_name, "v1");
    const hold = join(project, "hold");
    const pythonRun = py(project, "new-run", "held", hold);
    pythonRun.catch(() => {});
    await fileAppears(`${hold}.held`, pythonRun);
    assert.deepEqual(await readConfig(project), { project_name: "interop", snapshot_version: { held: 2 } }, "Python has taken v2");
    assert.deepEqual(await readdir(join(project, "snapshots", "held")), ["v0", "v1"], "its folder is not made yet");

    const ours = await tsStep(project, "held", "new");
    assert.deepEqual(ours, { version: 3, versionName: "v3" });
    await writeFile(`${hold}.go`, "");
    assert.equal((await pythonRun).version_name, "v2");

    const logOf = (folder: string): Promise<string> => readFile(join(project, "snapshots", "held", folder, "held.log"), "utf8");
    assert.match(await logOf("v2"), /^[^\n]*python's run in v2\n$/);
    assert.match(await logOf("v3"), /^[^\n]*typescript run with start new\n$/);
    assert.deepEqual(await readConfig(project), { project_name: "interop", snapshot_version: { held: 3 } });
  });
});

for (const factory of [minioFactory(), gcsFactory()]) {
  describe(`a Python-written root copied to ${factory.label}`, { skip: python === undefined ? "no Python OpenCrate" : factory.skip }, () => {
    let project: string;
    let backend: StorageBackend;
    let files: Map<string, Buffer>;

    before(async () => {
      project = await pythonProject("interop-cloud");
      await py(project, "first-run", NAME);
      await py(project, "artifacts-run", NAME);
      backend = await factory.make();
      const local = new LocalBackend({ root: join(project, "snapshots") });
      files = new Map();
      for await (const info of local.list(`${NAME}/`)) {
        const body = Buffer.from(await local.get(info.key));
        files.set(info.key, body);
        await backend.put(info.key, body);
      }
    });
    after(async () => {
      await removeDir(project);
      await factory.cleanup();
    });

    it("lists, opens and loads it, resumes it keeping every byte, and numbers a new run after it", async () => {
      const root = backend.describe("");
      const latest = await Snapshot.open(`${root}/${NAME}@latest`);
      assert.equal(latest.versionName, "v1:major-update");
      assert.deepEqual(await latest.json("data.json").load(), { array: [10, 20, 30, 40], message: "from python, edited" });
      assert.deepEqual((await latest.listVersions()).map((v) => v.versionName), ["v0:initial-run", "v1:major-update"]);

      const resumed = await Snapshot.setup({ name: NAME, start: "last", tag: "major-update", backend, console: false });
      resumed.info("resumed on the cloud");
      await resumed.close();
      for (const [key, body] of files) {
        if (key.endsWith(`/${NAME}.log`) && key.includes("v1:major-update")) continue;
        assert.ok(Buffer.from(await backend.get(key)).equals(body), `${key} is unchanged`);
      }
      const oldLog = files.get(`${NAME}/v1:major-update/${NAME}.log`)?.toString("utf8") ?? "?";
      const history = await readText(backend, `${NAME}/v1:major-update/${NAME}.history.log`);
      assert.ok(history.startsWith(oldLog));
      assert.match(history, /resumed on the cloud\n$/);

      const fresh = await Snapshot.setup({ name: NAME, tag: "initial-run", backend, console: false });
      assert.equal(fresh.versionName, "v2:initial-run");
      await fresh.close();
      const listing = await runCli(["ls", `${root}/${NAME}`, "--json"], {
        env: factory.label.startsWith("minio")
          ? { AWS_ENDPOINT_URL_S3: minio?.endpoint, AWS_ACCESS_KEY_ID: minio?.accessKeyId, AWS_SECRET_ACCESS_KEY: minio?.secretAccessKey, AWS_REGION: minio?.region }
          : { STORAGE_EMULATOR_HOST: gcs?.endpoint, GOOGLE_CLOUD_PROJECT: gcs?.projectId },
      });
      assert.equal(listing.code, 0, listing.stderr);
      assert.deepEqual(
        (JSON.parse(listing.stdout) as { versions: { versionName: string }[] }).versions.map((v) => v.versionName),
        ["v0:initial-run", "v1:major-update", "v2:initial-run"],
      );
    });
  });
}

/** Reads a custom artifact's bytes as they are (for Python's zip of images). */
class BytesHandler {
  declare storage: ArtifactStorage;
  async save(): Promise<void> {
    throw new Error("read-only in this test");
  }
  async load(): Promise<Buffer> {
    return Buffer.from(await this.storage.read());
  }
}
