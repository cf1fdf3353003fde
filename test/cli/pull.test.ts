import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, cp, mkdir, readdir, readFile, rm, stat, symlink, truncate, writeFile } from "node:fs/promises";
import { basename, join, relative } from "node:path";
import { after, before, describe, it } from "node:test";
import { LocalBackend } from "../../src/backends/local/index.ts";
import { partialFileName } from "../../src/cli/pull/download.ts";
import { Snapshot } from "../../src/index.ts";
import { formatSize } from "../../src/io/size.ts";
import { assertKeepsOwnFiles, assertPulledMany, KILLING_MAIN, makeDotFiles, makeManyFiles, makeRoot, makeTwoVersions, MODEL_BYTES, PULL_RECORD, pullInterrupted, pullKilledMidFile, removeDir, REPLACING_MAIN, runCli, runCliAsNobody, startCli, tempDir } from "./helpers.ts";

/** Every file below `folder` (following no links) but pull's record, as sorted relative paths. */
async function filesBelow(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => !entry.isDirectory())
    .map((entry) => relative(folder, join(entry.parentPath, entry.name)))
    .filter((path) => path !== PULL_RECORD)
    .sort();
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

describe("opencrate pull", () => {
  let dir: string;
  let root: string;

  before(async () => {
    dir = await tempDir("pull");
    root = join(dir, "snapshots");
    await makeRoot(root);
  });
  after(() => removeDir(dir));

  it("pulls every file into ./<name>/<version folder>, leaving bookkeeping out, then finds them complete", async () => {
    const cwd = join(dir, "work-default");
    await mkdir(cwd);
    const first = await runCli(["pull", `${root}/train@initial-run`], { cwd });
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stderr, "");
    const dest = join(cwd, "train", "v0:initial-run");
    assert.deepEqual(await filesBelow(dest), ["jsons/metrics.json", "texts/notes.txt", "train.history.log", "train.log"]);
    // Files on local disk have no checksum: the record is what tells the next pull they are complete.
    assert.ok(existsSync(join(dest, PULL_RECORD)));
    assert.equal(await readFile(join(dest, "texts/notes.txt"), "utf8"), "first notes");
    assert.match(first.stdout, /^pulled {4}texts\/notes\.txt \(11 Bytes\)$/m);
    assert.match(first.stdout, /^Pulled 4 of 4 files \(.*\) in train\/v0:initial-run: 4 downloaded, 0 already complete\.$/m);

    const second = await runCli(["pull", `${root}/train@initial-run`], { cwd });
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /^complete {2}texts\/notes\.txt \(11 Bytes, already there\)$/m);
    assert.match(second.stdout, /0 downloaded, 4 already complete\.$/m);
  });

  it("lists and pulls files whose names start with \".\", leaving only a pull's own partial files out", async () => {
    const paths = await makeDotFiles(new LocalBackend({ root }));
    // What an interrupted pull into this folder would have left: bookkeeping, not a file of the version.
    await writeFile(join(root, "dots", "v0", "jsons", partialFileName("visible.json", "r1")), "partial");
    const listed = await runCli(["ls", `${root}/dots@latest`, "--json"]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual((JSON.parse(listed.stdout) as { files: { path: string }[] }).files.map((file) => file.path).sort(), paths);
    const dest = join(dir, "dots");
    const result = await runCli(["pull", `${root}/dots@latest`, dest]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^Pulled 4 of 4 files /m);
    assert.deepEqual(await filesBelow(dest), paths);
    assert.deepEqual(JSON.parse(await readFile(join(dest, "jsons/cfg/.hidden.json"), "utf8")), { hidden: false });
  });

  it("pulls files reached through links in the version, as loads read them; a link to nothing fails the pull naming it", async () => {
    const backend = new LocalBackend({ root });
    const run = await Snapshot.setup({ name: "linked", backend, console: false });
    await run.text("notes.txt").save("notes");
    await run.close();
    const elsewhere = join(dir, "via-link-targets");
    await mkdir(join(elsewhere, "moved"), { recursive: true });
    await writeFile(join(elsewhere, "moved", "metrics.json"), '{"moved":true}');
    await writeFile(join(elsewhere, "config.yaml"), "lr: 1\n");
    await symlink(join(elsewhere, "moved"), join(root, "linked", "v0", "jsons"));
    await symlink(join(elsewhere, "config.yaml"), join(root, "linked", "v0", "texts", "config.yaml"));

    const opened = await Snapshot.open(`${root}/linked@latest`);
    assert.deepEqual(await opened.json("metrics.json").load(), { moved: true });
    const dest = join(dir, "via-link-dest");
    const result = await runCli(["pull", `${root}/linked@latest`, dest]);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(await filesBelow(dest), ["jsons/metrics.json", "linked.log", "texts/config.yaml", "texts/notes.txt"]);
    assert.equal(await readFile(join(dest, "jsons/metrics.json"), "utf8"), '{"moved":true}');

    await symlink(join(elsewhere, "gone"), join(root, "linked", "v0", "texts", "gone.txt"));
    const broken = await runCli(["pull", `${root}/linked@latest`, join(dir, "via-link-broken")]);
    assert.equal(broken.code, 1, broken.stdout);
    assert.match(broken.stderr, /^opencrate: The symbolic link .*linked\/v0\/texts\/gone\.txt leads to nothing/m);
    // Not a failure that running the pull again gets past.
    assert.doesNotMatch(broken.stderr, /again/);
  });

  it("names the files an earlier pull placed that the version no longer has, keeping them, until they are deleted", async () => {
    const backend = new LocalBackend({ root });
    const first = await Snapshot.setup({ name: "restarted", backend, console: false });
    await first.json("keep.json").save({ run: "first" });
    for (let i = 0; i < 7; i++) await first.text(`old_${i}.txt`).save(`first run ${i}`);
    await first.close();
    const dest = join(dir, "restarted-dest");
    const uri = `${root}/restarted/v0`;
    const pulled = await runCli(["pull", uri, dest]);
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.equal(pulled.stderr, "");

    // The run restarts the version from scratch: the old texts are no longer in it.
    const second = await Snapshot.setup({ name: "restarted", backend, console: false, start: 0, replace: true });
    await second.json("keep.json").save({ run: "second" });
    await second.close();
    const again = await runCli(["pull", uri, dest]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^Pulled 2 of 2 files /m);
    const note = (count: number, names: string, more: string): RegExp =>
      new RegExp(
        `^opencrate: ${count} files? in ${escapeRegExp(dest)} came from an earlier pull and (is|are) no longer in .*restarted/v0: ` +
          `${escapeRegExp(names)}${more} \\(delete them, or pull into a new folder\\)\\.$`,
        "m",
      );
    const firstFive = [0, 1, 2, 3, 4].map((i) => `texts/old_${i}.txt`).join(", ");
    assert.match(again.stderr, note(7, firstFive, " and 2 more"));
    assert.equal(again.stderr.trimEnd().split("\n").length, 1, again.stderr);
    assert.deepEqual(JSON.parse(await readFile(join(dest, "jsons/keep.json"), "utf8")), { run: "second" });
    assert.equal(await readFile(join(dest, "texts/old_6.txt"), "utf8"), "first run 6", "nothing is deleted");

    // Said again by every pull until the files are deleted; deleted ones leave the record.
    const third = await runCli(["pull", uri, dest, "--quiet"]);
    assert.equal(third.code, 0, third.stderr);
    assert.match(third.stderr, note(7, firstFive, " and 2 more"));
    for (let i = 0; i < 6; i++) await rm(join(dest, "texts", `old_${i}.txt`));
    const fourth = await runCli(["pull", uri, dest]);
    assert.equal(fourth.code, 0, fourth.stderr);
    assert.match(fourth.stderr, note(1, "texts/old_6.txt", ""));
    const record = JSON.parse(await readFile(join(dest, PULL_RECORD), "utf8")) as { files: Record<string, unknown> };
    assert.deepEqual(Object.keys(record.files).filter((path) => path.startsWith("texts/")), ["texts/old_6.txt"]);
    await rm(join(dest, "texts", "old_6.txt"));
    const fifth = await runCli(["pull", uri, dest]);
    assert.equal(fifth.code, 0, fifth.stderr);
    assert.equal(fifth.stderr, "");
  });

  it("a pull stopped part-way does not name an earlier pull's files", async () => {
    const backend = new LocalBackend({ root });
    const first = await Snapshot.setup({ name: "stopped", backend, console: false });
    await first.text("old.txt").save("first run");
    await first.close();
    const dest = join(dir, "stopped-dest");
    const uri = `${root}/stopped/v0`;
    assert.equal((await runCli(["pull", uri, dest])).code, 0);
    const second = await Snapshot.setup({ name: "stopped", backend, console: false, start: 0, replace: true });
    // Over 1 MiB, so it streams (and stalls).
    await second.text("big.txt").save("x".repeat(2 * 1024 * 1024));
    await second.close();
    const stopped = await pullInterrupted([uri, dest], { folder: join(dest, "texts"), stallAfter: 65536 });
    assert.equal(stopped.code, 1, stopped.stderr);
    assert.match(stopped.stderr, /^opencrate: interrupted: /m);
    assert.doesNotMatch(stopped.stderr, /earlier pull/);
    const finished = await runCli(["pull", uri, dest]);
    assert.equal(finished.code, 0, finished.stderr);
    assert.match(finished.stderr, /^opencrate: 1 file in .* came from an earlier pull and is no longer in .*: texts\/old\.txt \(/m);
  });

  for (const [when, stallAfter] of [
    ["just as a file's read is answered", 0],
    ["while a file's stream is stalled", 65536],
  ] as const) {
    it(`a pull interrupted (SIGINT) ${when} ends with its one line and exit 1, places no file unfinished and keeps what it got`, async () => {
      const name = `interrupted-${stallAfter}`;
      const run = await Snapshot.setup({ name, backend: new LocalBackend({ root }), console: false });
      await run.text("small.txt").save("small");
      // Over 1 MiB, so it streams (and stalls).
      const big = "y".repeat(2 * 1024 * 1024);
      await run.text("big.txt").save(big);
      await run.close();
      const dest = join(dir, `${name}-dest`);
      const uri = `${root}/${name}/v0`;

      const stopped = await pullInterrupted([uri, dest], { folder: join(dest, "texts"), stallAfter, grownTo: stallAfter });
      assert.equal(stopped.code, 1, stopped.stderr);
      // One line, no stack: the interruption is reported, not an error of its own.
      assert.match(stopped.stderr, /^opencrate: interrupted: \d+ of 3 files \(.*\) in .*, \d+ unfinished\. Run the same pull again to finish it\.\n$/);
      const texts = await readdir(join(dest, "texts"));
      assert.ok(!texts.includes("big.txt"), "nothing under the unfinished file's name");
      // What the stalled stream wrote is kept under the partial's name for the next pull; an empty partial is not.
      const partials = texts.filter((entry) => entry.startsWith(".ocpart-"));
      const kept = partials.length === 0 ? 0 : (await stat(join(dest, "texts", partials[0] ?? ""))).size;
      assert.equal(partials.length, stallAfter === 0 ? 0 : 1, `partial files: ${partials.join(", ")}`);
      if (stallAfter > 0) assert.ok(kept >= stallAfter && kept < big.length, `the partial holds ${kept} bytes`);
      assert.ok(!existsSync(join(dest, ".opencrate/pulled.journal")), "the pull's end folded its journal into the record");
      const record = JSON.parse(await readFile(join(dest, PULL_RECORD), "utf8")) as { files: Record<string, unknown> };
      assert.ok(!("texts/big.txt" in record.files), "the record names only files placed");

      const finished = await runCli(["pull", uri, dest]);
      assert.equal(finished.code, 0, finished.stderr);
      const resumed = kept === 0 ? "" : `, resumed at ${escapeRegExp(formatSize(kept))}`;
      assert.match(finished.stdout, new RegExp(`^pulled {4}texts/big\\.txt \\(2\\.00 MB${resumed}\\)$`, "m"));
      assert.equal(await readFile(join(dest, "texts/big.txt"), "utf8"), big);
      assert.deepEqual(await filesBelow(join(dest, "texts")), ["big.txt", "small.txt"], "no partial file is left");
    });
  }

  it("a pull whose failures were files replaced while it read them says that running it again finishes it", async () => {
    const backend = new LocalBackend({ root });
    const run = await Snapshot.setup({ name: "rewritten", backend, console: false });
    await run.json("metrics.json").save({ step: 1 });
    await run.text("notes.txt").save("notes");
    await run.close();
    const uri = `${root}/rewritten/v0`;
    const dest = join(dir, "rewritten-dest");
    const cli = startCli(["pull", uri, dest], {
      main: REPLACING_MAIN,
      env: { REPLACE_KEY_SUFFIX: "/jsons/metrics.json", REPLACE_FILE: join(root, "rewritten", "v0", "jsons", "metrics.json") },
    });
    const result = await cli.result;
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /^opencrate: failed jsons\/metrics\.json: .* changed since it was listed/m);
    const lines = result.stderr.trimEnd().split("\n");
    assert.match(lines.at(-1) ?? "", /^opencrate: pull incomplete: 2 of 3 files .*, 1 failed\. Run the same pull again to finish it\.$/);
    const again = await runCli(["pull", uri, dest]);
    assert.equal(again.code, 0, again.stderr);
  });

  it("pulls into a given folder with bounded concurrency, quietly with --quiet", async () => {
    const dest = join(dir, "quiet-dest");
    const result = await runCli(["pull", `${root}/train/v1`, dest, "--concurrency", "2", "--quiet"]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "");
    assert.equal(result.stderr, "");
    assert.deepEqual(new Uint8Array(await readFile(join(dest, "checkpoints/model.bin"))), MODEL_BYTES);
  });

  it("exits 2 on a bad --concurrency and 1 (one line) on a missing snapshot, writing nothing", async () => {
    const bad = await runCli(["pull", `${root}/train/v1`, join(dir, "never"), "--concurrency", "0"]);
    assert.equal(bad.code, 2);
    const missing = await runCli(["pull", `${root}/train/v9`, join(dir, "never")]);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr.split("\n").length, 2, missing.stderr);
    assert.ok(!existsSync(join(dir, "never")));
  });

  it("a dest that is a file, under a file, or not writable fails with one line naming it, downloading nothing", async () => {
    const file = join(dir, "a-file");
    await writeFile(file, "not a folder");
    for (const dest of [file, join(file, "below")]) {
      const result = await runCli(["pull", `${root}/train/v1`, dest]);
      assert.equal(result.code, 2, result.stderr);
      assert.equal(result.stderr, `opencrate: Cannot pull into ${dest}: it, or a folder on its path, is a file.\n`);
    }
    assert.equal(await readFile(file, "utf8"), "not a folder");

    const sealed = join(dir, "sealed");
    await mkdir(sealed, { mode: 0o555 });
    await chmod(sealed, 0o555);
    await chmod(dir, 0o755);
    for (const dest of [sealed, join(sealed, "inside")]) {
      const result = await runCliAsNobody(["pull", `${root}/train/v1`, dest]);
      assert.equal(result.code, 1, result.stderr);
      assert.equal(result.stderr, `opencrate: Cannot pull into ${dest}: no permission to create or write that folder (EACCES).\n`);
    }
    assert.deepEqual(await readdir(sealed), []);
  });

  it("pull of a version longer than the listing's first page downloads every file once, with its content", async () => {
    const names = await makeManyFiles(new LocalBackend({ root }));
    const dest = join(dir, "many");
    const result = await runCli(["pull", `${root}/many/v0`, dest]);
    assert.equal(result.code, 0, result.stderr);
    await assertPulledMany(dest, names, result.stdout);
  });

  it("pull into a folder inside the version itself pulls the version's files once, none of its own", async () => {
    const names = await makeManyFiles(new LocalBackend({ root }), "inside");
    // After every key of the version, so a listing that went on while the pull wrote would find the pull's files.
    const dest = join(root, "inside", "v0", "zz");
    const result = await runCli(["pull", `${root}/inside/v0`, dest]);
    assert.equal(result.code, 0, result.stderr);
    await assertPulledMany(dest, names, result.stdout);
  });

  it("keeps a file of the user's own and a pulled file edited since, naming them, until --overwrite; refreshes pulled files", async () => {
    await makeTwoVersions(new LocalBackend({ root }), "own");
    await assertKeepsOwnFiles((version) => `${root}/own/v${version}`, join(dir, "own-dest"));
  });

  it("refuses a key inside a .git folder and leaves the repository's config as it is", async () => {
    const gitRoot = join(dir, "git-root");
    await makeRoot(gitRoot);
    await mkdir(join(gitRoot, "train", "v1", ".git"));
    await writeFile(join(gitRoot, "train", "v1", ".git", "config"), '[core]\n\tfsmonitor = "touch pwned"\n');
    const dest = join(dir, "git-dest");
    await mkdir(join(dest, ".git"), { recursive: true });
    await writeFile(join(dest, ".git", "config"), "[core]\n\tbare = false\n");
    const result = await runCli(["pull", `${gitRoot}/train/v1`, dest]);
    assert.equal(result.code, 1, result.stderr);
    assert.match(
      result.stderr,
      /^opencrate: refused "train\/v1\/\.git\/config": the path has a "\.git" segment: a file there could change a git repository's configuration \(git refuses such paths too\); nothing was written for it\.$/m,
    );
    assert.match(result.stderr, /^opencrate: pull incomplete: 3 of 4 files .*: 3 downloaded, 0 already complete, 1 refused\.$/m);
    assert.equal(await readFile(join(dest, ".git", "config"), "utf8"), "[core]\n\tbare = false\n");
  });

  it("re-downloads, with --overwrite, a pulled file cut short since", async () => {
    const dest = join(dir, "truncated-dest");
    assert.equal((await runCli(["pull", `${root}/train/v1`, dest, "-q"])).code, 0);
    await truncate(join(dest, "checkpoints/model.bin"), 1000);
    const kept = await runCli(["pull", `${root}/train/v1`, dest]);
    assert.equal(kept.code, 1, kept.stderr);
    assert.match(kept.stderr, /^opencrate: not replaced checkpoints\/model\.bin: .* exists and was not placed by a pull \(or changed since\)/m);
    assert.equal((await readFile(join(dest, "checkpoints/model.bin"))).byteLength, 1000);
    const again = await runCli(["pull", `${root}/train/v1`, dest, "--overwrite"]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^pulled {4}checkpoints\/model\.bin \(292\.97 KB\)$/m);
    assert.deepEqual(new Uint8Array(await readFile(join(dest, "checkpoints/model.bin"))), MODEL_BYTES);
  });

  it("a dest file of the right size but another version's content is downloaded again, an edited one with --overwrite (no checksum on disk)", async () => {
    const backend = new LocalBackend({ root });
    for (const text of ["weights of v0", "weights of v1"]) {
      const run = await Snapshot.setup({ name: "same-size", backend, console: false });
      await run.text("weights.txt").save(text);
      await run.close();
    }
    const dest = join(dir, "same-size-dest");
    const weights = join(dest, "texts/weights.txt");
    assert.equal((await runCli(["pull", `${root}/same-size/v0`, dest, "-q"])).code, 0);
    assert.equal(await readFile(weights, "utf8"), "weights of v0");

    const next = await runCli(["pull", `${root}/same-size/v1`, dest]);
    assert.equal(next.code, 0, next.stderr);
    assert.match(next.stdout, /^pulled {4}texts\/weights\.txt \(13 Bytes\)$/m);
    assert.equal(await readFile(weights, "utf8"), "weights of v1");

    await writeFile(weights, "edited by me!");
    const kept = await runCli(["pull", `${root}/same-size/v1`, dest]);
    assert.equal(kept.code, 1, kept.stderr);
    assert.equal(await readFile(weights, "utf8"), "edited by me!");
    const again = await runCli(["pull", `${root}/same-size/v1`, dest, "--overwrite"]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(await readFile(weights, "utf8"), "weights of v1");
    const unchanged = await runCli(["pull", `${root}/same-size/v1`, dest]);
    assert.match(unchanged.stdout, /^complete {2}texts\/weights\.txt \(13 Bytes, already there\)$/m);
  });

  it("refuses to pull into a run's own version folder (it holds <name>.log and no pull wrote it), writing nothing", async () => {
    const backend = new LocalBackend({ root });
    for (const mine of [0, 1]) {
      const run = await Snapshot.setup({ name: "mine", backend, console: false });
      await run.json("metrics.json").save({ mine });
      await run.close();
    }
    const folder = join(root, "mine", "v0");
    const before = await filesBelow(folder);
    const metrics = await readFile(join(folder, "jsons/metrics.json"), "utf8");
    // As from inside the root, where the default dest ./train/<version> is that run's folder.
    const fromInside = await runCli(["pull", `${root}/mine/v1`, folder]);
    assert.equal(fromInside.code, 1);
    assert.match(fromInside.stderr, new RegExp(`^opencrate: Not pulling into ${folder}: it holds mine\\.log, so it is the folder of a run`));
    assert.equal(fromInside.stderr.trim().split("\n").length, 1);
    assert.deepEqual(await filesBelow(folder), before);
    assert.equal(await readFile(join(folder, "jsons/metrics.json"), "utf8"), metrics);
    assert.equal(existsSync(join(folder, PULL_RECORD)), false);

    // A rank's log alone, or the log of a run of another name, marks a run's folder as well.
    for (const log of ["mine.rank1.log", "eval.log", "eval.history.log"]) {
      const other = join(dir, `run-folder-${log}`);
      await mkdir(join(other, "jsons"), { recursive: true });
      await writeFile(join(other, log), "a run's lines\n");
      await writeFile(join(other, "jsons/metrics.json"), "theirs");
      const refused = await runCli(["pull", `${root}/mine/v1`, other]);
      assert.equal(refused.code, 1, log);
      assert.match(refused.stderr, new RegExp(`it holds ${log.replaceAll(".", "\\.")}, so it is the folder of a run`));
      assert.equal(await readFile(join(other, "jsons/metrics.json"), "utf8"), "theirs", log);
    }
  });

  it("a pulled folder whose log the record does not vouch for is refused when the store has no checksum to compare", async () => {
    const dest = join(dir, "unvouched-dest");
    assert.equal((await runCli(["pull", `${root}/train@initial-run`, dest, "-q"])).code, 0);
    // A copy has new inodes: local disk gives no checksum to show its logs are the version's own.
    const copy = join(dir, "unvouched-copy");
    await cp(dest, copy, { recursive: true });
    const refused = await runCli(["pull", `${root}/train@initial-run`, copy]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /its train\.history\.log is not the one the last pull placed there.*delete train\.history\.log and pull again\.$/m);
    await rm(join(copy, "train.history.log"));
    await rm(join(copy, "train.log"));
    // Its other files are not vouched for either: they are kept, until --overwrite.
    const kept = await runCli(["pull", `${root}/train@initial-run`, copy]);
    assert.equal(kept.code, 1, kept.stderr);
    assert.match(kept.stderr, /: 2 downloaded, 0 already complete, 2 not replaced\.$/m);
    const again = await runCli(["pull", `${root}/train@initial-run`, copy, "--overwrite"]);
    assert.equal(again.code, 0, again.stderr);
  });

  it("continues a partial download of the same revision from where it stopped", async () => {
    const dest = join(dir, "partial-dest");
    const revision = (await new LocalBackend({ root }).head("train/v1/checkpoints/model.bin")).revision;
    await mkdir(join(dest, "checkpoints"), { recursive: true });
    await writeFile(join(dest, "checkpoints", partialFileName("model.bin", revision)), MODEL_BYTES.subarray(0, 100_000));
    const result = await runCli(["pull", `${root}/train/v1`, dest]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^pulled {4}checkpoints\/model\.bin \(292\.97 KB, resumed at 97\.66 KB\)$/m);
    assert.deepEqual(new Uint8Array(await readFile(join(dest, "checkpoints/model.bin"))), MODEL_BYTES);
    assert.deepEqual(await filesBelow(join(dest, "checkpoints")), ["model.bin"], "the partial file was renamed into place");
  });

  it("finishes a pull killed in the middle of a big file, with the right content", async () => {
    const bigRoot = join(dir, "big-root");
    const big = new Uint8Array(96 * 1024 * 1024);
    for (let offset = 0; offset < big.length; offset += 4096) big[offset] = (offset / 4096) % 256;
    const run = await Snapshot.setup({ name: "big", backend: new LocalBackend({ root: bigRoot }), console: false });
    await run.checkpoint("weights.bin").save(big);
    await run.close();

    const dest = join(dir, "big-dest");
    const killed = await pullKilledMidFile([`${bigRoot}/big@latest`, dest, "--concurrency", "1"], {
      folder: join(dest, "checkpoints"),
      stallAfter: 16 * 1024 * 1024,
      grownTo: 8 * 1024 * 1024,
    });
    assert.ok(killed.size < big.length, `the partial holds ${killed.size} bytes, less than the file`);
    assert.ok(!existsSync(join(dest, "checkpoints/weights.bin")));

    const resumed = await runCli(["pull", `${bigRoot}/big@latest`, dest]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stdout, new RegExp(`^pulled {4}checkpoints/weights\\.bin \\(96\\.00 MB, resumed at ${formatSize(killed.size).replace(".", "\\.")}\\)$`, "m"));
    assert.equal(sha256(await readFile(join(dest, "checkpoints/weights.bin"))), sha256(big));
    assert.deepEqual(await filesBelow(join(dest, "checkpoints")), ["weights.bin"]);
  });

  it("finishes a pull killed outright after it placed files, refusing none of them; the user's files are still kept", async () => {
    const killRoot = join(dir, "kill-root");
    const names = await makeManyFiles(new LocalBackend({ root: killRoot }));
    const uri = `${killRoot}/many@latest`;
    const content = async (dest: string, name: string): Promise<unknown> => JSON.parse(await readFile(join(dest, "jsons", name), "utf8"));
    /** The files the killed pull left in place (not its partial files, not the record). */
    const placed = async (dest: string): Promise<string[]> =>
      (await filesBelow(dest)).filter((path) => !path.startsWith(".opencrate/") && !basename(path).startsWith(".ocpart-"));
    const killedPull = async (dest: string): Promise<void> => {
      const killed = await runCli(["pull", uri, dest, "-q"], { main: KILLING_MAIN, env: { KILL_AFTER_LINKS: "60" } });
      assert.equal(killed.signal, "SIGKILL", killed.stderr);
    };

    const dest = join(dir, "kill-dest");
    await killedPull(dest);
    const left = await placed(dest);
    assert.ok(left.length >= 60 && left.length < names.length, `${left.length} files placed`);
    const again = await runCli(["pull", uri, dest]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stderr, "");
    assert.match(again.stdout, new RegExp(`: ${names.length + 1 - left.length} downloaded, ${left.length} already complete\\.$`, "m"));
    for (const [index, name] of names.entries()) assert.deepEqual(await content(dest, name), { index });
    assert.deepEqual(await filesBelow(dest), [...names.map((name) => `jsons/${name}`), "many.log"].sort(), "no partial file left; the journal folded into the record");
    const third = await runCli(["pull", uri, dest]);
    assert.equal(third.code, 0, third.stderr);
    assert.match(third.stdout, new RegExp(`: 0 downloaded, ${names.length + 1} already complete\\.$`, "m"));

    // A file of the user's own at a path the version lists, and a file the killed pull placed, edited in place
    // since (same inode and size): both are kept, as before the kill.
    const mine = join(dir, "kill-mine");
    const own = names[3] ?? "";
    await mkdir(join(mine, "jsons"), { recursive: true });
    await writeFile(join(mine, "jsons", own), '{"mine":true}');
    await killedPull(mine);
    const edited = (await placed(mine)).map((path) => basename(path)).find((name) => name !== own && name.endsWith(".json")) ?? "";
    const before = await stat(join(mine, "jsons", edited), { bigint: true });
    const text = await readFile(join(mine, "jsons", edited), "utf8");
    await writeFile(join(mine, "jsons", edited), text.replace(/\d(?=\})/, (digit) => String((Number(digit) + 1) % 10)));
    const after = await stat(join(mine, "jsons", edited), { bigint: true });
    assert.equal(after.ino, before.ino);
    assert.equal(after.size, before.size);
    const kept = await runCli(["pull", uri, mine]);
    assert.equal(kept.code, 1, kept.stderr);
    assert.match(kept.stderr, /, 2 not replaced\.$/m);
    assert.match(kept.stderr, new RegExp(`^opencrate: not replaced jsons/${own.replace(".", "\\.")}: `, "m"));
    assert.match(kept.stderr, new RegExp(`^opencrate: not replaced jsons/${edited.replace(".", "\\.")}: `, "m"));
    assert.deepEqual(await content(mine, own), { mine: true });
    assert.notEqual(await readFile(join(mine, "jsons", edited), "utf8"), text);
  });

  it("refuses crafted keys that would land outside dest and writes nothing outside it", async () => {
    const craftRoot = join(dir, "craft-root");
    await makeRoot(craftRoot);
    const version = join(craftRoot, "train", "v1");
    // Names a store could hold but a safe pull must not write: backslash paths (Windows separators) and a control
    // character. A folder that is a link lists as the folder it leads to, so its file is pulled as any other.
    await writeFile(join(version, "..\\escaped.txt"), "escape 1");
    await mkdir(join(version, "evil"));
    await writeFile(join(version, "evil", "a\\..\\..\\..\\escaped.txt"), "escape 2");
    await writeFile(join(version, "bad\nname.txt"), "escape 3");
    const linkedSource = join(dir, "craft-linked-source");
    await mkdir(linkedSource);
    await writeFile(join(linkedSource, "linked.txt"), "read through a link");
    await symlink(linkedSource, join(version, "linked"));

    const work = join(dir, "craft-work");
    const dest = join(work, "inner", "dest");
    await mkdir(work);
    const before = await filesBelow(dir);
    const result = await runCli(["pull", `${craftRoot}/train/v1`, dest]);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /^opencrate: refused "train\/v1\/\.\.\\\\escaped\.txt": the path contains a backslash; nothing was written for it\.$/m);
    assert.match(result.stderr, /^opencrate: refused "train\/v1\/evil\/a\\\\\.\.\\\\\.\.\\\\\.\.\\\\escaped\.txt": the path contains a backslash/m);
    assert.match(result.stderr, /^opencrate: refused "train\/v1\/bad\\nname\.txt": the path contains a control character/m);
    assert.match(result.stderr, /^opencrate: pull incomplete: 4 of 7 files .* 3 refused\.$/m);

    assert.deepEqual(await filesBelow(dest), ["checkpoints/model.bin", "jsons/metrics.json", "linked/linked.txt", "train.log"]);
    const outside = (await filesBelow(dir)).filter((path) => !path.startsWith(relative(dir, dest)));
    assert.deepEqual(outside, before, "nothing was written outside dest");
  });

  it("refuses to write through a link planted in dest", async () => {
    const dest = join(dir, "linked-dest");
    const elsewhere = join(dir, "elsewhere");
    await mkdir(dest);
    await mkdir(elsewhere);
    await symlink(elsewhere, join(dest, "jsons"));
    const result = await runCli(["pull", `${root}/train/v1`, dest]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^opencrate: refused "train\/v1\/jsons\/metrics\.json": .*jsons is a symbolic link; downloads do not write through links; nothing was written for it\.$/m);
    assert.match(result.stderr, /^opencrate: pull incomplete: 2 of 3 files .*: 2 downloaded, 0 already complete, 1 refused\.$/m);
    assert.deepEqual(await readdir(elsewhere), []);
    assert.ok(existsSync(join(dest, "checkpoints/model.bin")), "the other files were pulled");
  });
});
