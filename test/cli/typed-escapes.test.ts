/**
 * A name shown escaped (`safe\u{200b}.txt`) can be typed back into the CLI: the escapes printable() writes are read
 * back in the part of an argument that names keys, never in a local root path.
 */
import assert from "node:assert/strict";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { LocalBackend } from "../../src/backends/local/index.ts";
import { withTypedEscapes } from "../../src/cli/typed-escapes.ts";
import { isOpenCrateError } from "../../src/errors.ts";
import { Snapshot } from "../../src/index.ts";
import { fromPrintable, printable } from "../../src/printable.ts";
import { removeDir, runCli, tempDir } from "./helpers.ts";

describe("fromPrintable", () => {
  it("reads back every character printable() escapes, and leaves every other one (a backslash aside)", () => {
    const failed: number[] = [];
    for (let code = 0; code <= 0x10ffff; code++) {
      if (code === 0x5c) continue;
      const text = `a${String.fromCodePoint(code)}b`;
      if (fromPrintable(printable(text)) !== text) failed.push(code);
    }
    assert.deepEqual(failed, []);
    assert.equal(fromPrintable("x\\n\\r\\t\\x1b\\x9b\\xad\\u{61c}\\u{200b}\\u{202e}\\u{2069}\\u{feff}\\u{d800}y"), "x\n\r\t\x1b\u009b\u00ad\u061c\u200b\u202e\u2069\ufeff\ud800y");
  });

  it("refuses an escape printable() would not write, naming it", () => {
    for (const bad of ["\\u{41}", "\\x41", "\\x0a", "\\x1B", "\\u{200B}", "\\u{0200b}", "\\u{ad}", "\\u{110000}", "\\x4", "\\q", "end\\", "\\\\"]) {
      assert.throws(
        () => fromPrintable(`a${bad}b`),
        (error: unknown) => isOpenCrateError(error, "INVALID_ARGUMENT") && error.message.includes(`"${bad.slice(bad.indexOf("\\"), bad.indexOf("\\") + 2)}`),
        bad,
      );
    }
  });
});

describe("withTypedEscapes", () => {
  it("reads escapes from the snapshot name on, never in a local root", () => {
    assert.equal(withTypedEscapes("/data/we\\ird/exp\\u{200b}/v0/a\\tb"), "/data/we\\ird/exp\u200b/v0/a\tb");
    assert.equal(withTypedEscapes("/data/we\\ird/exp\\u{200b}@latest/x"), "/data/we\\ird/exp\u200b@latest/x");
    assert.equal(withTypedEscapes("/data/we\\ird/exp"), "/data/we\\ird/exp");
    assert.equal(withTypedEscapes("s3://bucket/runs/exp\\u{202e}/v0"), "s3://bucket/runs/exp\u202e/v0");
  });
});

describe("opencrate with names typed as they are shown", () => {
  let dir: string;
  let root: string;
  const name = "run\u200b\u202e";
  const typedName = "run\\u{200b}\\u{202e}";
  const file = "safe\u200b\u202etxt.exe";
  const typedFile = "safe\\u{200b}\\u{202e}txt.exe";

  before(async () => {
    dir = await tempDir("typed-escapes");
    root = join(dir, "snapshots");
    for (const [at, made] of [
      [root, name],
      [join(dir, "we\\ird\\u{41}"), "plain"],
    ] as const) {
      const run = await Snapshot.setup({ name: "made", backend: new LocalBackend({ root: at }), console: false, runId: "job-1" });
      await run.text("plain.txt").save("plain");
      await run.close();
      await writeOn(join(at, "made", "v0", file), "hidden");
      // Another tool (Python OpenCrate takes any name) named the snapshot.
      await rename(join(at, "made"), join(at, made));
    }
  });
  after(() => removeDir(dir));

  it("cat reads a file by its escaped name, in a folder URI and with a selector", async () => {
    for (const uri of [`${root}/${typedName}/v0/${typedFile}`, `${root}/${typedName}@latest/${typedFile}`]) {
      const result = await runCli(["cat", uri]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, "hidden");
    }
  });

  it("ls lists a version and a name given in their escaped form, as it shows them", async () => {
    const files = await runCli(["ls", `${root}/${typedName}/v0`]);
    assert.equal(files.code, 0, files.stderr);
    assert.ok(files.stdout.includes(typedFile), files.stdout);
    const versions = await runCli(["ls", `${root}/${typedName}`]);
    assert.equal(versions.code, 0, versions.stderr);
    assert.match(versions.stdout, /\nv0\s/);
    const names = await runCli(["ls", root]);
    assert.ok(names.stdout.includes(typedName), names.stdout);
  });

  it("pull copies a version whose name and file need escapes", async () => {
    const dest = join(dir, "pulled");
    const result = await runCli(["pull", `${root}/${typedName}@0`, dest]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(await readFile(join(dest, file), "utf8"), "hidden");
  });

  it("a local root path holding a backslash is taken as written", async () => {
    const backslashRoot = join(dir, "we\\ird\\u{41}");
    const names = await runCli(["ls", backslashRoot]);
    assert.equal(names.code, 0, names.stderr);
    assert.ok(names.stdout.includes("plain"), names.stdout);
    const versions = await runCli(["ls", `${backslashRoot}/plain`]);
    assert.equal(versions.code, 0, versions.stderr);
    const cat = await runCli(["cat", `${backslashRoot}/plain/v0/${typedFile}`]);
    assert.equal(cat.code, 0, cat.stderr);
    assert.equal(cat.stdout, "hidden");
  });

  it("an escape printable() would not write is refused, naming the argument", async () => {
    const uri = `${root}/${typedName}/v0/safe\\u{41}.txt`;
    const result = await runCli(["cat", uri]);
    assert.equal(result.code, 2);
    assert.ok(result.stderr.includes("\\u{41}") && result.stderr.includes(uri), result.stderr);
  });
});

async function writeOn(path: string, content: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, content);
}
