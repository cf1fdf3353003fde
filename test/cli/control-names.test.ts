/**
 * Names from storage that hold terminal controls (ESC sequences, CR, LF, C1 controls such as U+009B CSI) or bidi
 * overrides are shown escaped in every human-readable output (ls, tree, pull's lines, error messages), so that they
 * cannot set the title, erase or forge rows, or reorder a line; `--json` keeps them exact.
 */
import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { LocalBackend } from "../../src/backends/local/index.ts";
import { renderTable } from "../../src/cli/format.ts";
import { Snapshot } from "../../src/index.ts";
import { renderTree } from "../../src/io/tree.ts";
import { printable } from "../../src/printable.ts";
import { claimKey } from "../../src/snapshot/layout.ts";
import { removeDir, runCli, tempDir } from "./helpers.ts";

/** What no human-readable output may hold raw: every control but the line ends the printer writes, and bidi controls. */
const RAW_CONTROL = /[\p{Cc}\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;

function assertNoRawControls(text: string, what: string): void {
  for (const line of text.split("\n")) assert.doesNotMatch(line, RAW_CONTROL, `${what}: ${JSON.stringify(line)}`);
}

/** Stored names and how they are shown. */
const HOSTILE: readonly (readonly [string, string])[] = [
  ["\x1b]0;PWNED-TITLE\x07\x1b[31mred.txt", "\\x1b]0;PWNED-TITLE\\x07\\x1b[31mred.txt"],
  ["\x1b[2K\x1b[1Ahide.txt", "\\x1b[2K\\x1b[1Ahide.txt"],
  ["nl\nforged.txt", "nl\\nforged.txt"],
  ["cr\rname.txt", "cr\\rname.txt"],
  ["csi\u009b2Kx.txt", "csi\\x9b2Kx.txt"],
  ["bidi\u202etxt.exe", "bidi\\u{202e}txt.exe"],
];
/** Accepted by pull (no C0 control) and still shown escaped. */
const PULLABLE: readonly (readonly [string, string])[] = [
  ["csi\u009b2Kx.txt", "csi\\x9b2Kx.txt"],
  ["bidi\u202etxt.exe", "bidi\\u{202e}txt.exe"],
  ["café 日本.txt", "café 日本.txt"],
];

describe("printable", () => {
  it("escapes C0 and C1 controls, DEL, bidi controls, invisible characters and lone surrogates; keeps other characters", () => {
    assert.equal(printable("a\x1b[31mb\x07\x00\x7f"), "a\\x1b[31mb\\x07\\x00\\x7f");
    assert.equal(printable("\n\r\t"), "\\n\\r\\t");
    assert.equal(printable("\u0080\u009b\u009f"), "\\x80\\x9b\\x9f");
    assert.equal(printable("\u202a\u202e\u2066\u2069\u200e\u200f\u061c\u2028\u2029"), "\\u{202a}\\u{202e}\\u{2066}\\u{2069}\\u{200e}\\u{200f}\\u{61c}\\u{2028}\\u{2029}");
    assert.equal(printable("x\ud800y"), "x\\u{d800}y");
    assert.equal(printable("safe\u200b.txt\u00ad\u180e\u2060\u2064\ufeff"), "safe\\u{200b}.txt\\xad\\u{180e}\\u{2060}\\u{2064}\\u{feff}");
    assert.equal(printable("می\u200cخواهم 👨\u200d👩"), "می\u200cخواهم 👨\u200d👩", "joiners stay");
    for (const kept of ["café", "日本", "Ünïcödé ß", "😀", "a b\\c", "\u00a0\u00a9"]) assert.equal(printable(kept), kept);
  });

  it("renderTable pads to the width of what is shown", () => {
    const table = renderTable(["A", "B"], [["x\x1by", "1"], ["日本", "2"]]);
    assert.equal(table, ["A       B", "x\\x1by  1", "日本      2"].join("\n"));
  });

  it("renderTree shows names and the root's label escaped", () => {
    const lastModified = new Date(0);
    const tree = renderTree(
      [
        { path: "a\nb/c\x1b[2K.txt", size: 1, lastModified },
        { path: "d\u202e.txt", size: 1, lastModified },
      ],
      { rootLabel: "root\r", depth: 2, verbose: false },
    );
    assert.equal(tree, ["root\\r", "├── a\\nb/", "│   └── c\\x1b[2K.txt", "└── d\\u{202e}.txt"].join("\n"));
  });
});

describe("opencrate ls, tree, pull and errors with names holding controls", () => {
  let dir: string;
  let root: string;

  before(async () => {
    dir = await tempDir("controls");
    root = join(dir, "snapshots");
    const backend = new LocalBackend({ root });
    for (const name of ["odd", "fine"]) {
      const run = await Snapshot.setup({ name, backend, console: false, runId: "job-1" });
      await run.text("plain.txt").save("plain");
      await run.close();
    }
    // Another tool added these files next to the snapshot's own.
    for (const [name] of HOSTILE) await writeOn(join(root, "odd", "v0", "texts", name), name);
    for (const [name] of PULLABLE) await writeOn(join(root, "fine", "v0", "texts", name), name);
    // ... and a run id that holds controls in the version's claim.
    const claimPath = join(root, claimKey("odd", 0));
    const claim = JSON.parse(await readFile(claimPath, "utf8")) as Record<string, unknown>;
    await writeFile(claimPath, JSON.stringify({ ...claim, runId: "job\x1b[2K\u202e9" }));
  });
  after(() => removeDir(dir));

  it("ls of a version shows each name escaped, one row each", async () => {
    const result = await runCli(["ls", `${root}/odd@0`]);
    assert.equal(result.code, 0, result.stderr);
    assertNoRawControls(result.stdout, "ls");
    const rows = result.stdout.trimEnd().split("\n").slice(2); // the version, the header
    assert.equal(rows.length, HOSTILE.length + 2); // and odd.log, texts/plain.txt
    for (const [, shown] of HOSTILE) assert.ok(rows.some((row) => row.endsWith(`  texts/${shown}`)), shown);
  });

  it("ls --json keeps the names exact", async () => {
    const result = await runCli(["ls", `${root}/odd@0`, "--json"]);
    assert.equal(result.code, 0, result.stderr);
    const paths = (JSON.parse(result.stdout) as { files: { path: string }[] }).files.map((file) => file.path);
    for (const [name] of HOSTILE) assert.ok(paths.includes(`texts/${name}`), JSON.stringify(name));
  });

  it("ls of a name shows a run id escaped", async () => {
    const result = await runCli(["ls", `${root}/odd`]);
    assert.equal(result.code, 0, result.stderr);
    assertNoRawControls(result.stdout, "ls versions");
    assert.match(result.stdout, /\n(v0)\s+-\s+\S+ \S+\s+finished\s+job\\x1b\[2K\\u\{202e\}9\s+\d+ Bytes\n$/);
  });

  it("tree shows each name escaped, on its own line", async () => {
    const result = await runCli(["tree", `${root}/odd@0`]);
    assert.equal(result.code, 0, result.stderr);
    assertNoRawControls(result.stdout, "tree");
    const lines = result.stdout.trimEnd().split("\n");
    assert.equal(lines.length, 1 + 1 + HOSTILE.length + 1 + 1); // v0, texts/, the names, plain.txt, odd.log
    for (const [, shown] of HOSTILE) assert.ok(lines.some((line) => line.endsWith(`── ${shown}`)), shown);
  });

  it("pull's lines show the names escaped; non-ASCII names as they are", async () => {
    const dest = join(dir, "pulled");
    const result = await runCli(["pull", `${root}/fine@0`, dest]);
    assert.equal(result.code, 0, result.stderr);
    assertNoRawControls(result.stdout, "pull stdout");
    for (const [name, shown] of PULLABLE) {
      assert.ok(result.stdout.split("\n").some((line) => line.startsWith(`pulled    texts/${shown} (`)), shown);
      assert.equal(await readFile(join(dest, "texts", name), "utf8"), name);
    }
  });

  it("pull's refusals and errors quoting a key show it escaped on stderr", async () => {
    const pulled = await runCli(["pull", `${root}/odd@0`, join(dir, "pulled-odd")]);
    assert.equal(pulled.code, 1);
    assertNoRawControls(pulled.stderr, "pull stderr");
    assertNoRawControls(pulled.stdout, "pull stdout");
    // A key with a C0 control is refused as invalid, one with only C1 and bidi controls is looked for.
    const invalid = await runCli(["cat", `${root}/odd@0/texts/gone\x1b]0;T\x07\u009b\u202e.txt`]);
    assert.equal(invalid.code, 2);
    assertNoRawControls(invalid.stderr, "cat stderr");
    assert.match(invalid.stderr, /gone\\x1b\]0;T\\x07\\x9b\\u\{202e\}\.txt/);
    assert.equal(invalid.stderr.split("\n").length, 2);
    const missing = await runCli(["cat", `${root}/odd@0/texts/gone\u009b2K\u202e.txt`]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^opencrate: No object at .*\/texts\/gone\\x9b2K\\u\{202e\}\.txt\.\n$/);
  });
});

async function writeOn(path: string, content: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, content);
}
