/**
 * A root or URI that looks like a URI but is malformed is INVALID_ARGUMENT naming it at every entry point (setup's
 * root, OPENCRATE_ROOT, Snapshot.open, oc.io, every CLI command), and is never taken for a local folder.
 */
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { backendFromUri, io, LocalBackend, parseLocation, parseSnapshotUri, Snapshot } from "../../src/index.ts";
import { rejectsWithCode } from "../conformance/helpers.ts";
import { runCli } from "../cli/helpers.ts";

const MALFORMED = ["s3:/bucket/x", "s3//bucket/x", "gs:bucket/x", "GS:/bucket/x", "xyz://bucket/x", "file:relative/x", "memory:name"];
const LOCAL_LOOKALIKES = ["runs/s3:/x", "./s3:/bucket", "v1:tag", "s3/bucket/x", "train@latest"];

describe("malformed URIs", () => {
  let cwd = "";
  let previousCwd = "";
  before(async () => {
    cwd = await mkdtemp(join(tmpdir(), "oc-malformed-"));
    previousCwd = process.cwd();
    process.chdir(cwd);
  });
  after(async () => {
    process.chdir(previousCwd);
    await rm(cwd, { recursive: true, force: true });
  });

  it("parseLocation refuses each, naming it, and still takes local look-alikes as paths", () => {
    for (const uri of MALFORMED) {
      assert.throws(
        () => parseLocation(uri),
        (error: Error & { code?: string }) => error.code === "INVALID_ARGUMENT" && error.message.includes(uri),
        uri,
      );
    }
    for (const path of LOCAL_LOOKALIKES) assert.deepEqual(parseLocation(path), { scheme: "file", path });
  });

  it("setup({ root }), OPENCRATE_ROOT and Snapshot.open refuse each before writing anything", async () => {
    for (const uri of MALFORMED) {
      const error = await rejectsWithCode(Snapshot.setup({ name: "train", root: uri, console: false }), "INVALID_ARGUMENT", `root ${uri}`);
      assert.ok(error.message.includes(uri), error.message);
      process.env.OPENCRATE_ROOT = uri;
      try {
        const fromEnv = await rejectsWithCode(Snapshot.setup({ name: "train", console: false }), "INVALID_ARGUMENT", `OPENCRATE_ROOT ${uri}`);
        assert.ok(fromEnv.message.includes("OPENCRATE_ROOT") && fromEnv.message.includes(uri), fromEnv.message);
      } finally {
        delete process.env.OPENCRATE_ROOT;
      }
      const opened = await rejectsWithCode(Snapshot.open(`${uri}/train@latest`), "INVALID_ARGUMENT", `open ${uri}`);
      assert.ok(opened.message.includes(uri), opened.message);
      assert.throws(() => parseSnapshotUri(`${uri}/train/v0`), (e: Error & { code?: string }) => e.code === "INVALID_ARGUMENT", uri);
    }
    assert.deepEqual(await readdir(cwd), [], "no local folder was made");
  });

  it("a URI with white space before or after is refused on every entry point; spaces inside a local path are fine", async () => {
    const padded = [" s3://bucket/x", "s3://bucket/x ", "\tgs://bucket/x", "memory://store/x\n", " s3:/bucket/x", " file:///tmp/x"];
    for (const uri of padded) {
      const shown = JSON.stringify(uri);
      assert.throws(
        () => parseLocation(uri),
        (error: Error & { code?: string }) => error.code === "INVALID_ARGUMENT" && error.message.includes(shown),
        shown,
      );
      await rejectsWithCode(Snapshot.setup({ name: "train", root: uri, console: false }), "INVALID_ARGUMENT", `root ${shown}`);
      process.env.OPENCRATE_ROOT = uri;
      try {
        const fromEnv = await rejectsWithCode(Snapshot.setup({ name: "train", console: false }), "INVALID_ARGUMENT", `OPENCRATE_ROOT ${shown}`);
        assert.ok(fromEnv.message.includes("OPENCRATE_ROOT") && fromEnv.message.includes(shown), fromEnv.message);
      } finally {
        delete process.env.OPENCRATE_ROOT;
      }
      if (uri.trimStart() !== uri) {
        await rejectsWithCode(Snapshot.open(`${uri.trimEnd()}/train@latest`), "INVALID_ARGUMENT", `open ${shown}`);
      }
    }
    assert.match(
      (() => { try { parseLocation(" s3://user:secret@bucket/x"); } catch (error) { return String(error); } return ""; })(),
      /\*\*\*@bucket/,
      "credentials are masked",
    );
    assert.deepEqual(await readdir(cwd), [], "no local folder was made");
    for (const path of ["my runs/a b", "runs/x ", " runs"]) assert.deepEqual(parseLocation(path), { scheme: "file", path });
  });

  it("a local root with white space before or after is refused on every entry point, naming OPENCRATE_ROOT", async () => {
    for (const root of [" snapshots", "snapshots ", "\tsnapshots", "runs/snapshots\n", "./runs "]) {
      const shown = JSON.stringify(root);
      const named = (error: Error & { code?: string }): boolean => error.code === "INVALID_ARGUMENT" && error.message.includes(shown);
      assert.ok(named(await rejectsWithCode(Snapshot.setup({ name: "train", root, console: false }), "INVALID_ARGUMENT", `root ${shown}`)));
      assert.ok(named(await rejectsWithCode(Snapshot.open(`${root}/train@latest`), "INVALID_ARGUMENT", `open ${shown}`)));
      assert.throws(() => new LocalBackend({ root }), named, `LocalBackend ${shown}`);
      assert.throws(() => backendFromUri(root), named, `backendFromUri ${shown}`);
      process.env.OPENCRATE_ROOT = root;
      try {
        const fromEnv = await rejectsWithCode(Snapshot.setup({ name: "train", console: false }), "INVALID_ARGUMENT", `OPENCRATE_ROOT ${shown}`);
        assert.ok(fromEnv.message.includes("OPENCRATE_ROOT") && fromEnv.message.includes(shown), fromEnv.message);
      } finally {
        delete process.env.OPENCRATE_ROOT;
      }
      for (const args of [["ls"], ["tree", root], ["ls", root]]) {
        const env = args.length === 1 ? { OPENCRATE_ROOT: root } : {};
        const result = await runCli(args, { cwd, env });
        // From the environment (no root given) it is no usage error.
        assert.equal(result.code, args.length === 1 ? 1 : 2, `${args.join(" ")} ${shown}: ${result.stderr}`);
        assert.ok(result.stderr.includes(shown.slice(1, -1).trim()) && /white space/.test(result.stderr), result.stderr);
        if (args.length === 1) assert.match(result.stderr, /OPENCRATE_ROOT/);
      }
    }
    // White space inside a root, or at the ends of a file's own name, is a name like any other.
    const inside = await Snapshot.setup({ name: "train", root: "my runs", console: false });
    await inside.text("notes ").save("x");
    await inside.close();
    assert.deepEqual((await readdir(cwd)).sort(), ["my runs"], "no folder named with white space around it");
    await rm(join(cwd, "my runs"), { recursive: true });
  });

  it("oc.io refuses each", async () => {
    for (const uri of MALFORMED) {
      await rejectsWithCode(io.listFilesInDir(uri), "INVALID_ARGUMENT", `listFilesInDir ${uri}`);
      await rejectsWithCode(io.text.save("x", `${uri}/a.txt`), "INVALID_ARGUMENT", `text.save ${uri}`);
      await rejectsWithCode(io.json.load(`${uri}/a.json`), "INVALID_ARGUMENT", `json.load ${uri}`);
    }
    assert.deepEqual(await readdir(cwd), [], "no local file was made");
  });

  it("a file:// URI without a path is refused, never taken for the file-system root", async () => {
    for (const uri of ["file://", "file://localhost", "file://?x"]) {
      assert.throws(() => backendFromUri(uri), (error: Error & { code?: string }) => error.code === "INVALID_ARGUMENT" && error.message.includes(uri), uri);
      await rejectsWithCode(Snapshot.setup({ name: "n", root: uri, console: false }), "INVALID_ARGUMENT", `root ${uri}`);
    }
    // "/" written out is a root like any other folder.
    assert.equal(backendFromUri("file:///").describe("x"), "/x");
    assert.deepEqual(parseLocation("file://localhost/data"), { scheme: "file", path: "/data" });
  });

  it("a NUL byte in a root is INVALID_ARGUMENT naming it, on every entry point", async () => {
    const root = join(cwd, "a\0b");
    const named = (error: Error & { code?: string; path?: string }): boolean =>
      error.code === "INVALID_ARGUMENT" && error.message.includes(JSON.stringify(root).slice(1, -1));
    for (const input of [root, "file:///tmp/a%00b"]) {
      assert.throws(() => parseLocation(input), (error: Error & { code?: string }) => error.code === "INVALID_ARGUMENT", input);
      await rejectsWithCode(Snapshot.setup({ name: "m", root: input, console: false }), "INVALID_ARGUMENT", `root ${input}`);
    }
    assert.ok(named(await rejectsWithCode(Snapshot.setup({ name: "m", root, console: false }), "INVALID_ARGUMENT", "setup")));
    assert.ok(named(await rejectsWithCode(Snapshot.open(`${root}/m@latest`), "INVALID_ARGUMENT", "open")));
    assert.ok(named(await rejectsWithCode(io.listFilesInDir(root), "INVALID_ARGUMENT", "listFilesInDir")));
    assert.throws(() => new LocalBackend({ root }), (error: Error & { code?: string }) => error.code === "INVALID_ARGUMENT");
    assert.deepEqual(await readdir(cwd), [], "nothing was made");
  });

  it("every CLI command exits 2 (a usage error) with one line naming the URI", async () => {
    const uri = "s3:/bucket/runs";
    for (const args of [["ls", uri], ["tree", uri], ["log", `${uri}/train@latest`], ["cat", `${uri}/train@latest/texts/a.txt`], ["pull", `${uri}/train@latest`, join(cwd, "dest")]]) {
      const result = await runCli(args, { cwd });
      assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
      assert.match(result.stderr, /^opencrate: Malformed location s3:\/bucket\/runs[^\n]*\n$/, args.join(" "));
    }
    assert.deepEqual(await readdir(cwd), [], "nothing was pulled or made");
  });
});
