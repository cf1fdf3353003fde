import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { LocalBackend } from "../../src/backends/local/index.ts";
import { Snapshot } from "../../src/index.ts";
import { makeRoot, MODEL_BYTES, removeDir, runCli, startCli, tempDir, TTY_MAIN } from "./helpers.ts";

describe("opencrate log and cat", () => {
  let dir: string;
  let root: string;

  before(async () => {
    dir = await tempDir("log");
    root = join(dir, "snapshots");
    await makeRoot(root);
  });
  after(() => removeDir(dir));

  it("prints the last run's log, or every run's lines with --history", async () => {
    const log = await runCli(["log", `${root}/train@initial-run`]);
    assert.equal(log.code, 0, log.stderr);
    assert.match(log.stdout, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d - INFO {5}second run of v0\n$/);

    const history = await runCli(["log", `${root}/train/v0:initial-run`, "--history"]);
    assert.equal(history.code, 0, history.stderr);
    const lines = history.stdout.trimEnd().split("\n");
    assert.equal(lines.length, 2);
    assert.match(lines[0] ?? "", /INFO {5}first run of v0$/);
    assert.match(lines[1] ?? "", /INFO {5}second run of v0$/);
  });

  it("fails with one line when the history does not exist yet", async () => {
    const result = await runCli(["log", `${root}/train@1`, "--history"]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^opencrate: No log at .*train\.history\.log \(the history starts when a run resumes this version\)\.\n$/);
  });

  it("--follow prints lines appended after it started, until it is stopped", async () => {
    const backend = new LocalBackend({ root });
    const run = await Snapshot.setup({ name: "live", backend, console: false, logFlushIntervalMs: 50 });
    try {
      run.info("line one");
      await run.flush();
      const cli = startCli(["log", `${root}/live@latest`, "--follow", "--interval", "100"]);
      await cli.waitFor("line one");
      run.info("line two, written after follow started");
      await run.flush();
      await cli.waitFor("line two, written after follow started");
      cli.child.kill("SIGTERM");
      const { code, stdout, stderr } = await cli.result;
      assert.equal(code, 0, stderr);
      const lines = stdout.trimEnd().split("\n");
      assert.equal(lines.length, 2, stdout);
      assert.match(lines[0] ?? "", /INFO {5}line one$/);
      assert.match(lines[1] ?? "", /INFO {5}line two, written after follow started$/);
    } finally {
      await run.close();
    }
  });

  it("--follow starts over, with a note, when a new run replaces the log", async () => {
    const backend = new LocalBackend({ root });
    const first = await Snapshot.setup({ name: "relive", backend, console: false });
    first.info("alpha: the first run's line");
    await first.close();
    const cli = startCli(["log", `${root}/relive/v0`, "--follow", "--interval", "100"]);
    await cli.waitFor("alpha: the first run's line");
    const second = await Snapshot.setup({ name: "relive", start: 0, backend, console: false });
    second.info("beta: the second run's line");
    await second.close();
    await cli.waitFor("beta: the second run's line");
    cli.child.kill("SIGTERM");
    const { code, stdout, stderr } = await cli.result;
    assert.equal(code, 0, stderr);
    assert.match(stdout, /INFO {5}alpha: the first run's line\n.*INFO {5}beta: the second run's line\n$/);
    assert.match(stderr, /^opencrate: .*relive\/v0\/relive\.log was replaced by a new run; printing it from the start\.$/m);
  });

  it("--follow waits for a log that does not exist yet", async () => {
    const backend = new LocalBackend({ root });
    const first = await Snapshot.setup({ name: "later", backend, console: false });
    first.info("first run");
    await first.close();
    const cli = startCli(["log", `${root}/later@latest`, "--history", "--follow", "--interval", "100"]);
    await cli.waitFor("waiting for", "stderr");
    const resumed = await Snapshot.setup({ name: "later", start: "last", backend, console: false });
    resumed.info("resumed run");
    await resumed.close();
    await cli.waitFor("resumed run");
    cli.child.kill("SIGTERM");
    const { code, stdout, stderr } = await cli.result;
    assert.equal(code, 0, stderr);
    assert.match(stdout, /INFO {5}first run\n.*INFO {5}resumed run\n$/);
    assert.match(stderr, /^opencrate: waiting for .*later\/v0\/later\.history\.log to appear \(Ctrl-C to stop\)\.$/m);
  });

  it("exits 2 on a bad --interval", async () => {
    const result = await runCli(["log", `${root}/train@latest`, "--follow", "--interval", "0"]);
    assert.equal(result.code, 2);
  });

  it("streams an artifact's bytes by @selector and by folder URI", async () => {
    const json = await runCli(["cat", `${root}/train@latest/jsons/metrics.json`]);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), { loss: 0.25 });

    const tagged = await runCli(["cat", `${root}/train/v0:initial-run/texts/notes.txt`]);
    assert.equal(tagged.stdout, "first notes");

    const binary = await runCli(["cat", `${root}/train@1/checkpoints/model.bin`]);
    assert.equal(binary.code, 0, binary.stderr);
    assert.deepEqual(new Uint8Array(binary.stdoutBytes), MODEL_BYTES);
  });

  it("a file or folder whose name holds \"@\" is read by its path, inside a version or anywhere in a root", async () => {
    const backend = new LocalBackend({ root });
    await backend.put("train/v1/images/img@2x.png", "two-x");
    await backend.put("train/v1/odd/w@x/f.txt", "in w@x");
    await backend.put("odd/user@host.txt", "not in a snapshot");
    await backend.put("runs@gpu/train/v0/texts/a.txt", "a root named runs@gpu");
    await backend.put("assets/my photo@2x.png", "not a snapshot name");
    await backend.put("assets/x@y:z", "not a selector");
    for (const [path, text] of [
      ["train/v1/images/img@2x.png", "two-x"],
      ["train@latest/images/img@2x.png", "two-x"],
      ["train/v1/odd/w@x/f.txt", "in w@x"],
      ["odd/user@host.txt", "not in a snapshot"],
      ["runs@gpu/train/v0/texts/a.txt", "a root named runs@gpu"],
      ["assets/my photo@2x.png", "not a snapshot name"],
      ["assets/x@y:z", "not a selector"],
    ]) {
      const result = await runCli(["cat", `${root}/${path}`]);
      assert.equal(result.code, 0, `${path}: ${result.stderr}`);
      assert.equal(result.stdout, text, path);
    }
    // Neither a snapshot nor a file: the snapshot's error says what was looked for.
    const missing = await runCli(["cat", `${root}/train@nosuchtag/jsons/metrics.json`]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /tagged 'nosuchtag'/);
  });

  it("fails with exit 1 on a missing artifact and 2 on a URI without a file path", async () => {
    const missing = await runCli(["cat", `${root}/train@latest/jsons/nope.json`]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^opencrate: .*nope\.json/);
    assert.equal(missing.stderr.split("\n").length, 2);

    const snapshotOnly = await runCli(["cat", `${root}/train@latest`]);
    assert.equal(snapshotOnly.code, 2);
    assert.match(snapshotOnly.stderr, /names a snapshot, not a file in it/);

    const escape = await runCli(["cat", `${root}/train@latest/../../eval/v0:baseline/yamls/config.yaml`]);
    assert.equal(escape.code, 2, escape.stderr);
    assert.equal(escape.stdout, "");
  });

  it("log --rank N prints rank N's log (and --history its history); rank 0 is the plain log", async () => {
    const backend = new LocalBackend({ root });
    await backend.put("train/v1/train.rank1.log", "2025-11-16 11:45:07 - INFO     rank one speaking\n");
    await backend.put("train/v1/train.rank1.history.log", "2025-11-16 11:45:07 - INFO     rank one, every run\n");
    const rank1 = await runCli(["log", `${root}/train@1`, "--rank", "1"]);
    assert.equal(rank1.code, 0, rank1.stderr);
    assert.match(rank1.stdout, /INFO {5}rank one speaking\n$/);
    const history = await runCli(["log", `${root}/train@1`, "--rank", "1", "--history"]);
    assert.match(history.stdout, /rank one, every run\n$/);
    const rank0 = await runCli(["log", `${root}/train@1`, "--rank", "0"]);
    assert.match(rank0.stdout, /INFO {5}first run of v1\n$/);

    const missing = await runCli(["log", `${root}/train@1`, "--rank", "2"]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^opencrate: No log at .*train\.rank2\.log\.\n$/);
    for (const bad of ["-1", "x", "1.5"]) assert.equal((await runCli(["log", `${root}/train@1`, "--rank", bad])).code, 2, bad);
  });

  it("a bare <name>@… that is not a local path is looked up in OPENCRATE_ROOT, else ./snapshots", async () => {
    const fromDefault = await runCli(["log", "train@latest"], { cwd: dir });
    assert.equal(fromDefault.code, 0, fromDefault.stderr);
    assert.match(fromDefault.stdout, /INFO {5}first run of v1\n$/);
    const fromEnv = await runCli(["cat", "eval@baseline/yamls/config.yaml"], { env: { OPENCRATE_ROOT: root } });
    assert.equal(fromEnv.code, 0, fromEnv.stderr);
    assert.equal(fromEnv.stdout, "lr: 0.001\n");
    const byFolder = await runCli(["cat", "train/v0:initial-run/texts/notes.txt"], { env: { OPENCRATE_ROOT: root } });
    assert.equal(byFolder.stdout, "first notes");
    // An existing local path keeps its meaning: here `snapshots` is the root itself, found relative to cwd.
    const local = await runCli(["log", "snapshots/train@latest"], { cwd: dir, env: { OPENCRATE_ROOT: join(dir, "elsewhere") } });
    assert.equal(local.code, 0, local.stderr);
    const missing = await runCli(["log", "nothing@latest"], { cwd: dir });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /No version of 'nothing' exists at snapshots\/nothing/);
  });

  it("cat refuses to write a binary file to a terminal unless --force; text and pipes are unaffected", async () => {
    const refused = await startCli(["cat", `${root}/train@1/checkpoints/model.bin`], { main: TTY_MAIN }).result;
    assert.equal(refused.code, 2, refused.stderr);
    assert.equal(refused.stdoutBytes.byteLength, 0);
    assert.match(refused.stderr, /^opencrate: .*model\.bin is a binary file; not writing it to the terminal: redirect it \(> file\) or pass --force\.\n$/);

    const forced = await startCli(["cat", `${root}/train@1/checkpoints/model.bin`, "--force"], { main: TTY_MAIN }).result;
    assert.equal(forced.code, 0, forced.stderr);
    assert.deepEqual(new Uint8Array(forced.stdoutBytes), MODEL_BYTES);

    const text = await startCli(["cat", `${root}/train@latest/jsons/metrics.json`], { main: TTY_MAIN }).result;
    assert.equal(text.code, 0, text.stderr);
    assert.deepEqual(JSON.parse(text.stdout), { loss: 0.25 });
    const backend = new LocalBackend({ root });
    await backend.put("eval/v0:baseline/texts/accents.txt", "snapshot: caf\u00e9 \u2713\n");
    const utf8 = await startCli(["cat", `${root}/eval@baseline/texts/accents.txt`], { main: TTY_MAIN }).result;
    assert.equal(utf8.stdout, "snapshot: caf\u00e9 \u2713\n");
  });
});
