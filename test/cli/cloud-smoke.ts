/**
 * The same CLI smoke tests on each cloud test server: the snapshots are made with the library on the server's
 * backend, and the CLI subprocess reaches them by URI with only the standard environment variables.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { cp, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { after, before, describe, it } from "node:test";
import type { StorageBackend } from "../../src/backends/backend.ts";
import { Snapshot } from "../../src/index.ts";
import { formatSize } from "../../src/io/size.ts";
import { VersionStore } from "../../src/snapshot/versions.ts";
import type { BackendFactory } from "../support/backends.ts";
import { assertKeepsOwnFiles, assertPulledMany, makeDotFiles, makeManyFiles, makeSnapshots, makeTwoVersions, MODEL_BYTES, PULL_RECORD, pullKilledMidFile, removeDir, runCli, tempDir } from "./helpers.ts";
import { NOT_FOR_PULL, ownEsImportsOfNodeHttp, runCliRecordingModules } from "./loaded-modules.ts";

/** A key under a version folder that a store can hold but pull must not write, and the refusal it reports. */
export interface CraftedKey {
  /** The path under the version folder. */
  readonly path: string;
  /** The reason pull gives, as printed. */
  readonly problem: string;
}

/** Writing objects under exact keys, past the backend's key checks, and the crafted keys this server holds. */
export interface RawWrites {
  /** Writes `body` at `<the backend's root prefix>/<key>`, whatever the key. */
  readonly put: (backend: StorageBackend, key: string, body: string) => Promise<void>;
  /** Deletes what `put` wrote (the backend's own delete refuses such keys, so the factory's cleanup would fail). */
  readonly delete: (backend: StorageBackend, key: string) => Promise<void>;
  readonly craftedKeys: readonly CraftedKey[];
}

export interface CloudTarget {
  readonly label: string;
  readonly factory: BackendFactory;
  /** "s3" or "gs". */
  readonly scheme: string;
  /** The variables that point the CLI at the server (endpoint, credentials). */
  readonly env: () => NodeJS.ProcessEnv;
  /** A value from `env` that must never be printed, if any. */
  readonly secret?: string;
  /** When set: pull is run on a version folder holding crafted keys. */
  readonly rawWrites?: RawWrites;
  /** Run the interrupted-pull test (a 64 MiB checkpoint). */
  readonly resume?: boolean;
}

/** Every file below `folder` but pull's record, as sorted relative paths. */
async function filesBelow(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => !entry.isDirectory())
    .map((entry) => relative(folder, join(entry.parentPath, entry.name)))
    .filter((path) => !path.endsWith(PULL_RECORD))
    .sort();
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export function cloudSmokeSuite(target: CloudTarget): void {
  const { factory } = target;

  describe(`opencrate CLI on ${target.label}`, { skip: factory.skip }, () => {
    let dir: string;
    let root: string;
    let env: NodeJS.ProcessEnv;
    let backend: StorageBackend;

    before(async () => {
      dir = await tempDir(target.scheme);
      backend = await factory.make();
      await makeSnapshots(backend);
      // The factory roots the backend at a fresh prefix; the URI of that root:
      root = backend.describe("").replace(/\/+$/, "");
      assert.ok(root.startsWith(`${target.scheme}://`), root);
      env = target.env();
    });
    after(async () => {
      await factory.cleanup();
      await removeDir(dir);
    });

    it("ls lists names, versions (JSON) and files", async () => {
      const names = await runCli(["ls", root], { env });
      assert.equal(names.code, 0, names.stderr);
      assert.equal(names.stdout, "eval\ntrain\n");

      const versions = await runCli(["ls", `${root}/train`, "--json"], { env });
      assert.equal(versions.code, 0, versions.stderr);
      const parsed = JSON.parse(versions.stdout) as { versions: { versionName: string; runId: string | null; size: number }[] };
      assert.deepEqual(
        parsed.versions.map((version) => [version.versionName, version.runId]),
        [
          ["v0:initial-run", null],
          ["v1", "job-42"],
        ],
      );

      const files = await runCli(["ls", `${root}/train@latest`], { env });
      assert.equal(files.code, 0, files.stderr);
      assert.match(files.stdout, /checkpoints\/model\.bin/);
    });

    it(`tree, log and cat read through ${target.scheme}:// URIs`, async () => {
      const tree = await runCli(["tree", `${root}/train/v1`], { env });
      assert.equal(tree.code, 0, tree.stderr);
      assert.match(tree.stdout, /^v1\n├── checkpoints\/\n│   └── model\.bin\n/);

      const history = await runCli(["log", `${root}/train@initial-run`, "--history"], { env });
      assert.equal(history.code, 0, history.stderr);
      assert.match(history.stdout, /first run of v0\n.*second run of v0\n$/);

      const cat = await runCli(["cat", `${root}/train@latest/checkpoints/model.bin`], { env });
      assert.equal(cat.code, 0, cat.stderr);
      assert.deepEqual(new Uint8Array(cat.stdoutBytes), MODEL_BYTES);
    });

    it("pull into a folder holding another version's checkpoint of the same size downloads it again", async () => {
      const size = 9 * 1024 * 1024;
      for (const fill of [0, 1]) {
        const file = join(dir, `same-size-${fill}.bin`);
        await writeFile(file, Buffer.alloc(size, fill));
        const run = await Snapshot.setup({ name: "same-size", backend, console: false });
        await run.checkpoint("model.bin").saveFile(file);
        await run.close();
      }
      const dest = join(dir, "same-size-dest");
      const model = join(dest, "checkpoints/model.bin");
      assert.equal((await runCli(["pull", `${root}/same-size/v0`, dest, "-q"], { env })).code, 0);
      assert.equal((await readFile(model))[size - 1], 0);
      const next = await runCli(["pull", `${root}/same-size/v1`, dest], { env });
      assert.equal(next.code, 0, next.stderr);
      assert.match(next.stdout, /^pulled {4}checkpoints\/model\.bin /m);
      const bytes = await readFile(model);
      assert.equal(bytes.byteLength, size);
      assert.ok(bytes.every((byte) => byte === 1), "the file holds v1's checkpoint");
      const again = await runCli(["pull", `${root}/same-size/v1`, dest], { env });
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /^complete {2}checkpoints\/model\.bin \(9\.00 MB, already there\)$/m);
    });

    it("pull keeps a file of the user's own and a pulled file edited since, naming them, until --overwrite; refreshes pulled files", async () => {
      await makeTwoVersions(backend, "own");
      await assertKeepsOwnFiles((version) => `${root}/own/v${version}`, join(dir, "own-dest"), env);
    });

    it("a folder pulled before verified files were recorded is recorded by the next pull of it; a later version then replaces its files", async () => {
      await makeTwoVersions(backend, "recorded");
      const dest = join(dir, "recorded-dest");
      const first = await runCli(["pull", `${root}/recorded/v0`, dest, "-q"], { env });
      assert.equal(first.code, 0, first.stderr);
      // What an earlier release left: a record of the logs alone (it recorded no file a checksum verified).
      const record = JSON.parse(await readFile(join(dest, PULL_RECORD), "utf8")) as { format: number; files: Record<string, unknown> };
      const logs = Object.fromEntries(Object.entries(record.files).filter(([path]) => path.endsWith(".log")));
      await writeFile(join(dest, PULL_RECORD), JSON.stringify({ format: 1, files: logs }));
      const again = await runCli(["pull", `${root}/recorded/v0`, dest], { env });
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /: 0 downloaded, \d+ already complete\.$/m);
      const next = await runCli(["pull", `${root}/recorded/v1`, dest], { env });
      assert.equal(next.code, 0, next.stderr);
      assert.deepEqual(JSON.parse(await readFile(join(dest, "jsons/metrics.json"), "utf8")), { version: 1 });
      assert.equal(await readFile(join(dest, "texts/notes.txt"), "utf8"), "notes of v1");
    });

    it("a pulled version that a local run resumed is not pulled over again: its log and files are kept", async () => {
      const localRoot = join(dir, "resumed-root");
      const folder = join(localRoot, "train", "v0");
      const pulled = await runCli(["pull", `${root}/train@initial-run`, folder, "-q"], { env });
      assert.equal(pulled.code, 0, pulled.stderr);
      // Nothing changed since: pulling again is fine.
      const again = await runCli(["pull", `${root}/train@initial-run`, folder], { env });
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /0 downloaded, 4 already complete\.$/m);
      // A copy of the folder (new inodes, so the record vouches for nothing): its logs have the stored checksums,
      // so they are the version's own and the pull goes on.
      const copy = join(dir, "resumed-copy");
      await cp(folder, copy, { recursive: true });
      const intoCopy = await runCli(["pull", `${root}/train@initial-run`, copy], { env });
      assert.equal(intoCopy.code, 0, intoCopy.stderr);

      const local = await Snapshot.setup({ name: "train", root: localRoot, start: "last", console: false });
      assert.equal(local.version, 0);
      local.info("the local run");
      await local.json("metrics.json").save({ local: true });
      await local.close();
      const refused = await runCli(["pull", `${root}/train@initial-run`, folder], { env });
      assert.equal(refused.code, 1, refused.stdout);
      assert.match(refused.stderr, /^opencrate: Not pulling into .*: its train\.history\.log is not the one the last pull placed there/);
      assert.deepEqual(JSON.parse(await readFile(join(folder, "jsons/metrics.json"), "utf8")), { local: true });
      assert.match(await readFile(join(folder, "train.log"), "utf8"), /the local run/);
      assert.match(await readFile(join(folder, "train.history.log"), "utf8"), /first run of v0[^]*the local run/);
    });

    it("pull downloads with MD5 verification and finds the files complete the second time", async () => {
      const dest = join(dir, "pulled");
      const first = await runCli(["pull", `${root}/train/v1`, dest], { env });
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stdout, /^pulled {4}checkpoints\/model\.bin \(292\.97 KB, md5 verified\)$/m);
      assert.deepEqual(new Uint8Array(await readFile(join(dest, "checkpoints/model.bin"))), MODEL_BYTES);
      const second = await runCli(["pull", `${root}/train/v1`, dest], { env });
      assert.equal(second.code, 0, second.stderr);
      assert.match(second.stdout, /0 downloaded, 3 already complete\.$/m);
    });

    it(`pull through ${target.scheme}:// loads no viewer, handler or session logging${target.scheme === "s3" ? " and, with fixed keys, no AWS SDK" : ""}; none of our modules imports node:http as an ES module`, async () => {
      const dest = join(dir, "pulled-lean");
      const { result, modules } = await runCliRecordingModules(["pull", `${root}/train/v1`, dest, "--quiet"], join(dir, "modules.json"), { env });
      assert.equal(result.code, 0, result.stderr);
      assert.ok(existsSync(join(dest, "checkpoints", "model.bin")), "the pull ran");
      const urls = modules.map((entry) => entry.url);
      if (target.scheme === "s3") {
        // Fixed keys and a plain-HTTP endpoint: a read-only command reads without the AWS SDK.
        assert.deepEqual(urls.filter((url) => url.includes("/node_modules/@aws-sdk/")), [], "no AWS SDK module for a pull");
        assert.ok(urls.some((url) => url.includes("/backends/s3/direct-get.")), "the recorder saw the S3 backend load");
      } else {
        assert.ok(urls.some((url) => url.includes("/node_modules/@google-cloud/storage/")), "the recorder saw the cloud SDK load");
      }
      assert.deepEqual(urls.filter((url) => NOT_FOR_PULL.test(url)), []);
      assert.deepEqual(ownEsImportsOfNodeHttp(modules), []);
    });

    it("ls lists and pull downloads files whose names start with \".\"", async () => {
      const paths = await makeDotFiles(backend);
      const listed = await runCli(["ls", `${root}/dots@latest`, "--json"], { env });
      assert.equal(listed.code, 0, listed.stderr);
      assert.deepEqual((JSON.parse(listed.stdout) as { files: { path: string }[] }).files.map((file) => file.path).sort(), paths);
      const dest = join(dir, "dots");
      const result = await runCli(["pull", `${root}/dots@latest`, dest], { env });
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /^Pulled 4 of 4 files /m);
      assert.deepEqual(await filesBelow(dest), paths);
      assert.equal(await readFile(join(dest, "texts/.env"), "utf8"), "TOKEN=1");
    });

    it("pull of a version longer than the listing's first page downloads every file once, with its content", async () => {
      const names = await makeManyFiles(backend);
      const dest = join(dir, "many");
      const result = await runCli(["pull", `${root}/many/v0`, dest], { env });
      assert.equal(result.code, 0, result.stderr);
      await assertPulledMany(dest, names, result.stdout);
    });

    const { rawWrites } = target;
    if (rawWrites !== undefined) it("refuses crafted keys in a version folder by name, pulls the rest and writes nothing outside dest", async (t) => {
      const run = await Snapshot.setup({ name: "crafted", backend, console: false });
      await run.json("metrics.json").save({ loss: 0.1 });
      await run.close();
      const craftedKeys = rawWrites.craftedKeys.map((crafted) => `crafted/v0/${crafted.path}`);
      t.after(async () => {
        for (const key of craftedKeys) await rawWrites.delete(backend, key);
      });
      for (const key of craftedKeys) await rawWrites.put(backend, key, `crafted ${key}`);

      const work = join(dir, "craft-work");
      const dest = join(work, "inner", "dest");
      await mkdir(work);
      const before = await filesBelow(dir);
      const result = await runCli(["pull", `${root}/crafted/v0`, dest], { env });
      assert.equal(result.code, 1, result.stderr);
      for (const crafted of rawWrites.craftedKeys) {
        // JSON escapes the C0 controls; DEL, which it leaves as is, is shown escaped like every control character.
        const shown = JSON.stringify(`crafted/v0/${crafted.path}`).replaceAll("\u007f", "\\x7f");
        const line = `opencrate: refused ${shown}: ${crafted.problem}; nothing was written for it.`;
        assert.match(result.stderr, new RegExp(`^${escapeRegExp(line)}$`, "m"));
      }
      const count = rawWrites.craftedKeys.length;
      assert.match(result.stderr, new RegExp(`^opencrate: pull incomplete: 2 of ${count + 2} files .*: 2 downloaded, 0 already complete, ${count} refused\\.$`, "m"));
      assert.deepEqual(await filesBelow(dest), ["crafted.log", "jsons/metrics.json"]);
      const outside = (await filesBelow(dir)).filter((path) => !path.startsWith(`${relative(dir, dest)}/`));
      assert.deepEqual(outside, before, "nothing was written outside dest");
      assert.ok(!existsSync("/etc/x"));
    });

    if (target.resume === true) it("finishes a pull killed in the middle of a big file, with the right content", async (t) => {
      const big = new Uint8Array(64 * 1024 * 1024);
      for (let offset = 0; offset < big.length; offset += 4096) big[offset] = (offset / 4096) % 251;
      const run = await Snapshot.setup({ name: "big", backend, console: false });
      await run.checkpoint("weights.bin").save(big);
      await run.close();

      const dest = join(dir, "big-dest");
      const killed = await pullKilledMidFile([`${root}/big@latest`, dest, "--concurrency", "1"], {
        env,
        folder: join(dest, "checkpoints"),
        stallAfter: 16 * 1024 * 1024,
        grownTo: 8 * 1024 * 1024,
      });
      assert.ok(killed.size < big.length, `the partial holds ${killed.size} bytes, less than the file`);
      assert.ok(!existsSync(join(dest, "checkpoints/weights.bin")));

      const resumed = await runCli(["pull", `${root}/big@latest`, dest], { env });
      assert.equal(resumed.code, 0, resumed.stderr);
      t.diagnostic(resumed.stdout.split("\n").find((line) => line.includes("weights.bin")) ?? "");
      const resumedAt = escapeRegExp(formatSize(killed.size));
      assert.match(resumed.stdout, new RegExp(`^pulled {4}checkpoints/weights\\.bin \\(64\\.00 MB, resumed at ${resumedAt}(, md5 verified)?\\)$`, "m"));
      assert.equal(sha256(await readFile(join(dest, "checkpoints/weights.bin"))), sha256(big));
      assert.deepEqual(await filesBelow(join(dest, "checkpoints")), ["weights.bin"]);
    });

    it("ls, tree and pull of a claimed version with no files yet say so and exit 0; an unclaimed one still fails", async () => {
      await new VersionStore(backend, "pending").allocateNew({ tag: "soon", runId: undefined });
      await assertClaimedEmpty(root, "pending", "v0:soon", join(dir, "pending-pull"), env);
    });

    it("fails with one line (and no secret, even with --debug) on a missing snapshot", async () => {
      const result = await runCli(["ls", `${root}/train/v9`, "--debug"], { env });
      assert.equal(result.code, 1);
      assert.ok(result.stderr.startsWith(`opencrate: Version 9 of 'train' does not exist at ${target.scheme}://`), result.stderr);
      if (target.secret !== undefined) assert.ok(!result.stderr.includes(target.secret));
    });
  });
}

/**
 * `ls`, `tree` and `pull` of `<root>/<name>` whose version `folder` (v0) is claimed with nothing written: each says
 * so and exits 0, and pull makes no destination; `log` says why there is no log; version 1, neither claimed nor
 * written, fails as before.
 */
export async function assertClaimedEmpty(root: string, name: string, folder: string, dest: string, env?: NodeJS.ProcessEnv): Promise<void> {
  const options = env === undefined ? {} : { env };
  for (const uri of [`${root}/${name}@0`, `${root}/${name}@latest`, `${root}/${name}/${folder}`]) {
    const ls = await runCli(["ls", uri], options);
    assert.equal(ls.code, 0, `ls ${uri}: ${ls.stderr}`);
    assert.match(ls.stdout, /^.*\n\(claimed; no files yet: its run has not written anything\)\n$/, ls.stdout);
    const tree = await runCli(["tree", uri], options);
    assert.equal(tree.code, 0, `tree ${uri}: ${tree.stderr}`);
    assert.equal(tree.stdout, `${folder}\n(claimed; no files yet: its run has not written anything)\n`);
  }
  const pull = await runCli(["pull", `${root}/${name}@0`, dest], options);
  assert.equal(pull.code, 0, pull.stderr);
  assert.match(pull.stdout, /^Pulled nothing: .* is claimed and has no files yet/);
  assert.equal(existsSync(dest), false, "no destination made");
  const log = await runCli(["log", `${root}/${name}@0`], options);
  assert.equal(log.code, 1);
  assert.match(log.stderr, /holds no files yet: the version is claimed/);
  for (const command of ["ls", "tree", "pull"]) {
    const missing = await runCli([command, `${root}/${name}@1`, ...(command === "pull" ? [dest] : [])], options);
    assert.equal(missing.code, 1, `${command}: ${missing.stdout}`);
    assert.ok(missing.stderr.includes(`Version 1 of '${name}' does not exist`), missing.stderr);
  }
}
