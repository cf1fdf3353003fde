import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { chmod, mkdir, rm, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { LocalBackend } from "../../src/backends/local/index.ts";
import { Snapshot } from "../../src/index.ts";
import type { RunRecord } from "../../src/logs/run-record.ts";
import { runRecordsPrefix } from "../../src/snapshot/layout.ts";
import { listRunRecords } from "../../src/snapshot/run-records.ts";
import { VersionStore } from "../../src/snapshot/versions.ts";
import { assertClaimedEmpty } from "./cloud-smoke.ts";
import { collectKeys } from "../support/assertions.ts";
import { makeRoot, removeDir, runCli, runCliAsNobody, tempDir } from "./helpers.ts";


describe("opencrate ls", () => {
  let dir: string;
  let root: string;

  before(async () => {
    dir = await tempDir("ls");
    root = join(dir, "snapshots");
    await makeRoot(root);
  });
  after(() => removeDir(dir));

  it("lists the snapshot names of a root, without bookkeeping", async () => {
    const result = await runCli(["ls", root]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "eval\ntrain\n");
    assert.equal(result.stderr, "");
  });

  it("`ls --help` names the version table's columns in the order the table has them", async () => {
    const table = await runCli(["ls", join(root, "train")]);
    assert.equal(table.code, 0, table.stderr);
    const columns = (table.stdout.split("\n")[0] ?? "").trim().split(/\s{2,}/).slice(1).map((column) => column.toLowerCase());
    const help = await runCli(["ls", "--help"]);
    const named = /# versions: ([^\n]+)/.exec(help.stdout)?.[1]?.split(", ");
    assert.deepEqual(named, columns);
  });

  it("lists the versions of a name as a table: version, tag, created, status, run id, size", async () => {
    const result = await runCli(["ls", join(root, "train")]);
    assert.equal(result.code, 0, result.stderr);
    const [header, first, second, ...rest] = result.stdout.trimEnd().split("\n");
    assert.match(header ?? "", /^VERSION\s+TAG\s+CREATED\s+STATUS\s+RUN ID\s+SIZE$/);
    assert.match(first ?? "", /^v0:initial-run\s+initial-run\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+finished\s+-\s+\d+ Bytes$/);
    assert.match(second ?? "", /^v1\s+-\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+finished\s+job-42\s+29\d\.\d\d KB$/);
    assert.deepEqual(rest, []);
  });

  it("prints the versions as JSON with --json, sizes summed over each version folder", async () => {
    const result = await runCli(["ls", join(root, "train"), "--json"]);
    assert.equal(result.code, 0, result.stderr);
    const parsed = JSON.parse(result.stdout) as {
      name: string;
      versions: {
        versionName: string;
        version: number;
        tag: string | null;
        createdAt: string;
        runId: string | null;
        status: string | null;
        exitCode: number | null;
        endedAt: string | null;
        size: number;
        files: number;
      }[];
    };
    assert.equal(parsed.name, "train");
    assert.deepEqual(
      parsed.versions.map(({ versionName, version, tag, runId, status, exitCode, files }) => ({ versionName, version, tag, runId, status, exitCode, files })),
      [
        // Runs that called close() end "finished" before the process has an exit code.
        { versionName: "v0:initial-run", version: 0, tag: "initial-run", runId: null, status: "finished", exitCode: null, files: 4 },
        { versionName: "v1", version: 1, tag: null, runId: "job-42", status: "finished", exitCode: null, files: 3 },
      ],
    );
    assert.ok(parsed.versions.every((entry) => entry.endedAt !== null && !Number.isNaN(Date.parse(entry.endedAt))));
    const v1 = parsed.versions[1];
    assert.ok(v1 !== undefined && v1.size > 300_000 && v1.size < 301_000, `v1 size ${v1?.size}`);
    assert.ok(!Number.isNaN(Date.parse(v1.createdAt)));
  });

  it("prints the root's names as JSON with --json", async () => {
    const result = await runCli(["ls", root, "--json"]);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual((JSON.parse(result.stdout) as { snapshots: string[] }).snapshots, ["eval", "train"]);
  });

  it("lists the files of a snapshot named by @latest, by number and by folder", async () => {
    const latest = await runCli(["ls", `${root}/train@latest`]);
    assert.equal(latest.code, 0, latest.stderr);
    const [picked, ...table] = latest.stdout.trimEnd().split("\n");
    assert.equal(picked, `${root}/train/v1`, "the first line names the version @latest picked");
    const paths = table
      .slice(1)
      .map((line) => line.split(/\s{2,}/).at(-1));
    assert.deepEqual(paths, ["checkpoints/model.bin", "jsons/metrics.json", "train.log"]);

    const byFolder = await runCli(["ls", `${root}/train/v0:initial-run`, "--json"]);
    assert.equal(byFolder.code, 0, byFolder.stderr);
    const parsed = JSON.parse(byFolder.stdout) as { versionName: string; tag: string; files: { path: string; size: number }[] };
    assert.equal(parsed.versionName, "v0:initial-run");
    assert.equal(parsed.tag, "initial-run");
    assert.deepEqual(
      parsed.files.map((file) => file.path),
      ["jsons/metrics.json", "texts/notes.txt", "train.history.log", "train.log"],
    );

    const byTag = await runCli(["ls", `${root}/eval@baseline`]);
    assert.equal(byTag.code, 0, byTag.stderr);
    assert.match(byTag.stdout, /yamls\/config\.yaml/);
  });

  it("ls and tree of a root whose own name holds \"@\" list that root; a snapshot it could name wins when it exists", async () => {
    const odd = join(dir, "odd", "x@y");
    const oddRun = await Snapshot.setup({ name: "train", root: odd, console: false });
    await oddRun.text("notes.txt").save("in odd/x@y");
    await oddRun.close();
    const listed = await runCli(["ls", odd]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.equal(listed.stdout, "train\n");
    const json = await runCli(["ls", odd, "--json"]);
    assert.deepEqual(JSON.parse(json.stdout).snapshots, ["train"]);
    const tree = await runCli(["tree", odd, "--depth", "2"]);
    assert.equal(tree.code, 0, tree.stderr);
    assert.equal(tree.stdout, ["x@y", "└── train/", "    └── v0/", ""].join("\n"));
    const inside = await runCli(["ls", `${odd}/train@latest`]);
    assert.equal(inside.code, 0, inside.stderr);
    assert.match(inside.stdout, /texts\/notes\.txt/);

    // A snapshot "x" at odd/ with a tag "y" is what odd/x@y names, as cat reads it.
    const shadow = await Snapshot.setup({ name: "x", root: join(dir, "odd"), tag: "y", console: false });
    await shadow.text("shadow.txt").save("x tagged y");
    await shadow.close();
    const named = await runCli(["ls", odd]);
    assert.equal(named.code, 0, named.stderr);
    assert.match(named.stdout, /texts\/shadow\.txt/);
    const namedTree = await runCli(["tree", odd]);
    assert.match(namedTree.stdout, /^v0:y\n/);

    // Neither a snapshot nor a folder: the snapshot's error says what was looked for.
    for (const command of ["ls", "tree"]) {
      const missing = await runCli([command, join(dir, "odd", "nothing@here")]);
      assert.equal(missing.code, 1, `${command}: ${missing.stderr}`);
      assert.match(missing.stderr, /nothing/, command);
    }
  });

  it("fails with exit 1 and one line naming the snapshot when it does not exist", async () => {
    for (const uri of [`${root}/missing@latest`, `${root}/train/v7`, `${root}/train@no-such-tag`]) {
      const result = await runCli(["ls", uri]);
      assert.equal(result.code, 1, `${uri}: ${result.stderr}`);
      assert.equal(result.stdout, "");
      const lines = result.stderr.trimEnd().split("\n");
      assert.equal(lines.length, 1, result.stderr);
      assert.match(lines[0] ?? "", /^opencrate: /);
      assert.ok(!result.stderr.includes("    at "), "no stack without --debug");
    }
    const v7 = await runCli(["ls", `${root}/train/v7`]);
    assert.match(v7.stderr, /Version 7 of 'train' does not exist .*existing: v0, v1/);
  });

  it("ls, tree and pull of a claimed version with no files yet say so and exit 0; an unclaimed one still fails", async () => {
    const own = join(dir, "pending-root");
    await mkdir(own);
    await new VersionStore(new LocalBackend({ root: own }), "pending").allocateNew({ tag: "soon", runId: undefined });
    await assertClaimedEmpty(own, "pending", "v0:soon", join(dir, "pending-pull"));
    const json = await runCli(["ls", `${own}/pending@0`, "--json"]);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout).claimedEmpty, true);
    const written = await runCli(["ls", `${root}/train@0`, "--json"]);
    assert.deepEqual(JSON.parse(written.stdout).claimedEmpty, false);
  });

  it("a claimed version whose run ended but whose files are gone fails NOT_FOUND in ls, tree, pull and log; a running run's is still claimed-empty", async () => {
    const own = join(dir, "lost-root");
    await mkdir(own);
    const backend = new LocalBackend({ root: own });
    const run = await Snapshot.setup({ name: "lost", root: own, console: false });
    await run.json("metrics.json").save({ a: 1 });
    await run.close();
    await rm(join(own, "lost", "v0"), { recursive: true });
    const dest = join(dir, "lost-pull");
    const expectMissing = async (why: RegExp): Promise<void> => {
      for (const args of [["ls", `${own}/lost@0`], ["ls", `${own}/lost@0`, "--json"], ["tree", `${own}/lost@0`], ["pull", `${own}/lost@0`, dest], ["log", `${own}/lost@0`]]) {
        const result = await runCli(args);
        assert.equal(result.code, 1, `${args.join(" ")}: ${result.stdout}`);
        assert.match(result.stderr, /holds no files, though its run .*: its files are missing \(deleted or lost\)/, args.join(" "));
        assert.match(result.stderr, why, args.join(" "));
      }
      assert.equal(existsSync(dest), false, "no destination made");
    };
    await expectMissing(/its run finished/);

    // The same record, as a run still running (its record may land before its log is listed) or one that died.
    const [key] = await collectKeys(backend, runRecordsPrefix("lost", 0));
    assert.ok(key !== undefined);
    const [record] = await listRunRecords(backend, "lost", 0);
    assert.ok(record !== undefined);
    // Written at `lastSeen`, as far as the store's clock (the file's modification time) tells.
    const rewrite = async (lastSeen: Date): Promise<void> => {
      await backend.put(key, JSON.stringify({ ...record, status: "running", endedAt: null, lastSeen: lastSeen.toISOString() }));
      await utimes(join(own, key), lastSeen, lastSeen);
    };
    await rewrite(new Date());
    const pending = await runCli(["ls", `${own}/lost@0`]);
    assert.equal(pending.code, 0, pending.stderr);
    assert.match(pending.stdout, /\(claimed; no files yet/);
    await rewrite(new Date(Date.now() - 10 * 60_000));
    await expectMissing(/its run stopped reporting/);
  });

  it("prints the stack and causes with --debug", async () => {
    const result = await runCli(["ls", `${root}/train/v7`, "--debug"]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^opencrate: Version 7/);
    assert.match(result.stderr, /\n {4}at /);
  });

  it("a folder without snapshots lists nothing and says so (exit 0); a missing path or a file fails as tree does", async () => {
    const empty = join(dir, "empty");
    await mkdir(empty);
    const unrelated = join(dir, "unrelated");
    await mkdir(join(unrelated, "data"), { recursive: true });
    await writeFile(join(unrelated, "data", "x.txt"), "x");
    for (const folder of [empty, unrelated]) {
      const result = await runCli(["ls", folder]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, "");
      assert.equal(result.stderr, `opencrate: no snapshots in ${folder}.\n`);
      const json = await runCli(["ls", folder, "--json"]);
      assert.deepEqual(JSON.parse(json.stdout), { root: folder, snapshots: [], unlistable: [] });
    }

    const missing = await runCli(["ls", join(dir, "nothing-here")]);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, `opencrate: No folder at ${join(dir, "nothing-here")}.\n`);
    const file = join(unrelated, "data", "x.txt");
    for (const command of ["ls", "tree"]) {
      const result = await runCli([command, file]);
      assert.equal(result.code, 2, `${command}: ${result.stderr}`);
      assert.equal(result.stderr, `opencrate: ${file} is a file, not a folder.\n`, command);
    }
  });

  it("with no argument lists OPENCRATE_ROOT, else ./snapshots", async () => {
    const fromEnv = await runCli(["ls"], { env: { OPENCRATE_ROOT: root } });
    assert.equal(fromEnv.code, 0, fromEnv.stderr);
    assert.equal(fromEnv.stdout, "eval\ntrain\n");
    const fromCwd = await runCli(["ls"], { cwd: dir });
    assert.equal(fromCwd.stdout, "eval\ntrain\n");
    const versions = await runCli(["ls", "train"], { cwd: root });
    assert.match(versions.stdout, /^VERSION +TAG/);
  });

  it("a version folder that cannot be read is reported; the other versions still list (exit 1)", async () => {
    const locked = join(dir, "locked-root");
    await makeRoot(locked);
    await chmod(dir, 0o755);
    await chmod(locked, 0o755);
    await chmod(join(locked, "train", "v1"), 0o000);
    try {
      const result = await runCliAsNobody(["ls", join(locked, "train")]);
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr, /^opencrate: Permission denied to list .*locked-root\/train\/v1\/ \(EACCES\)\.\n$/);
      const rows = result.stdout.trimEnd().split("\n").slice(1);
      assert.deepEqual(rows.map((row) => row.split(/\s{2,}/)[0]), ["v0:initial-run", "v1"]);
      assert.match(rows[1] ?? "", /\?$/, "the unreadable version shows no size");
    } finally {
      await chmod(join(locked, "train", "v1"), 0o755);
    }
  });

  it("a gs:// root without Google credentials fails at once with one line, and nothing from Google's library", async () => {
    const result = await runCli(["ls", "gs://opencrate-no-credentials/snapshots"], { env: { HOME: dir } });
    assert.equal(result.code, 1, result.stderr);
    assert.equal(result.stdout, "");
    assert.match(result.stderr, /^opencrate: No Google Cloud credentials to reach gs:\/\/opencrate-no-credentials\b.*GOOGLE_APPLICATION_CREDENTIALS[^\n]*\n$/);
    assert.doesNotMatch(result.stderr, /MetadataLookupWarning|Warning:/);
  });

  it("exits 2 on usage errors: no argument, an unknown option, a malformed selector or URI", async () => {
    for (const args of [["ls", root, "--bogus"], ["ls", `${root}/train@bad!tag`], ["ls", "ftp://host/x"], ["frobnicate"], []]) {
      const result = await runCli(args);
      assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
      assert.equal(result.stdout, "");
      assert.match(result.stderr, /opencrate: |Usage: opencrate/);
    }
  });
});

describe("opencrate ls: the STATUS of runs that failed, were killed or went stale", () => {
  let dir: string;
  before(async () => {
    dir = await tempDir("ls-status");
  });
  after(() => removeDir(dir));

  it("shows the exit code of a failed run, the signal of a killed one, and a running one not seen lately as stale", async () => {
    const root = join(dir, "snapshots");
    const backend = new LocalBackend({ root });
    for (let version = 0; version < 4; version++) {
      const run = await Snapshot.setup({ name: "job", backend, console: false });
      await run.close();
    }
    const endings: Record<number, Partial<RunRecord>> = {
      0: { status: "failed", exitCode: 2 },
      1: { status: "killed", signal: "SIGTERM" },
      2: { status: "running", endedAt: null, lastSeen: "2020-01-01T00:00:00.000Z" },
    };
    for (const [version, patch] of Object.entries(endings)) {
      const [record] = await listRunRecords(backend, "job", Number(version));
      const keys = await collectKeys(backend, runRecordsPrefix("job", Number(version)));
      await backend.put(keys[0] ?? "", JSON.stringify({ ...record, ...patch }));
      // The store last wrote the record when it was last seen (the file's modification time is the store's clock).
      if (patch.lastSeen !== undefined) await utimes(join(root, keys[0] ?? ""), new Date(patch.lastSeen), new Date(patch.lastSeen));
    }
    const result = await runCli(["ls", join(root, "job")]);
    assert.equal(result.code, 0, result.stderr);
    const statuses = result.stdout
      .trimEnd()
      .split("\n")
      .slice(1)
      .map((line) => line.split(/\s{2,}/)[3]);
    assert.deepEqual(statuses, ["failed (exit 2)", "killed (SIGTERM)", "stale", "finished"]);
  });

  it("shows a run that reports from a machine whose clock is hours behind as running, not stale", async () => {
    const root = join(dir, "behind");
    const backend = new LocalBackend({ root });
    const run = await Snapshot.setup({ name: "job", backend, console: false });
    await run.close();
    const [record] = await listRunRecords(backend, "job", 0);
    const [key] = await collectKeys(backend, runRecordsPrefix("job", 0));
    // Refreshed just now by a live run whose clock reads 3 hours earlier.
    const lastSeen = new Date(Date.now() - 3 * 3_600_000).toISOString();
    await backend.put(key ?? "", JSON.stringify({ ...record, status: "running", endedAt: null, lastSeen }));
    const result = await runCli(["ls", join(root, "job")]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trimEnd().split("\n")[1]?.split(/\s{2,}/)[3], "running", result.stdout);
  });
});
