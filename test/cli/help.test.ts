import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { runCli } from "./helpers.ts";

describe("opencrate --help and --version", () => {
  it("shows usage and examples for the program and every command, exit 0", async () => {
    for (const command of [[], ["ls"], ["tree"], ["log"], ["cat"], ["pull"], ["ui"]]) {
      const result = await runCli([...command, "--help"]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /^Usage: opencrate/);
      assert.match(result.stdout, /Examples:\n {2}\$ opencrate /);
      if (command[0] !== undefined) assert.match(result.stdout, new RegExp(`\\$ opencrate ${command[0]} `));
    }
  });

  it("documents the options of each command", async () => {
    const pull = await runCli(["pull", "--help"]);
    for (const option of ["--concurrency <n>", "--quiet"]) assert.ok(pull.stdout.includes(option), option);
    const log = await runCli(["help", "log"]);
    assert.equal(log.code, 0);
    for (const option of ["--history", "--follow", "--interval <ms>"]) assert.ok(log.stdout.includes(option), option);
  });

  it("refuses an empty or blank ui --host as a usage error, never listening on every interface", async () => {
    for (const host of ["", " "]) {
      const result = await runCli(["ui", "memory://nowhere", "--port", "0", "--host", host]);
      assert.equal(result.code, 2, `--host ${JSON.stringify(host)}: ${result.stderr}`);
      assert.match(result.stderr, /--host/);
      assert.equal(result.stdout, "");
    }
  });

  it("reports an unknown command or option in one line, with its suggestion, exit 2", async () => {
    const cases: [string[], string][] = [
      [["lss"], "opencrate: unknown command 'lss'; did you mean ls? (see --help)\n"],
      [["ls", "--jsn"], "opencrate: unknown option '--jsn'; did you mean --json? (see --help)\n"],
      [["frobnicate"], "opencrate: unknown command 'frobnicate' (see --help)\n"],
    ];
    for (const [args, stderr] of cases) {
      const result = await runCli(args);
      assert.equal(result.code, 2, args.join(" "));
      assert.equal(result.stderr, stderr);
      assert.equal(result.stdout, "");
    }
  });

  it("prints the package version", async () => {
    const manifest = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
    const result = await runCli(["--version"]);
    assert.equal(result.code, 0);
    assert.equal(result.stdout, `${manifest.version}\n`);
  });

  it("keeps its compiled modules in Node's compile cache, unless NODE_DISABLE_COMPILE_CACHE is set", async () => {
    const folder = mkdtempSync(join(tmpdir(), "oc-compile-cache-"));
    try {
      // `ls` loads a command's implementation and the backends (`--version` loads little: the definitions).
      const root = join(folder, "root");
      mkdirSync(root);
      const cached = join(folder, "on");
      assert.equal((await runCli(["ls", root], { env: { NODE_COMPILE_CACHE: cached } })).code, 0);
      const files = readdirSync(cached, { recursive: true }).length;
      assert.ok(files > 50, `expected the command's modules in ${cached}, found ${files} entries`);
      const off = join(folder, "off");
      const result = await runCli(["--version"], { env: { NODE_COMPILE_CACHE: off, NODE_DISABLE_COMPILE_CACHE: "1" } });
      assert.equal(result.code, 0);
      assert.throws(() => readdirSync(off), { code: "ENOENT" });
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it("accepts --debug before or after the command", async () => {
    for (const args of [["--debug", "ls", "/nonexistent/opencrate"], ["ls", "/nonexistent/opencrate", "--debug"]]) {
      const result = await runCli(args);
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr, /^opencrate: [^\n]*\n[\s\S]*\n {4}at /);
    }
  });
});
