/** The command refuses a Node.js older than package.json's `engines` with one clear line, before loading anything. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { OLDEST_NODE, unsupportedNode } from "../../src/cli/node-support.ts";
import { MAIN } from "./helpers.ts";

const run = promisify(execFile);

/** A preload that makes the process report `version` as its Node.js. */
const pretend = (version: string): string =>
  `data:text/javascript,Object.defineProperty(process,"versions",{value:{...process.versions,node:${JSON.stringify(version)}}})`;

describe("the Node.js the command needs", () => {
  it("is the one package.json's engines names", async () => {
    const manifest = JSON.parse(await readFile(new URL("../../package.json", import.meta.url), "utf8")) as { engines: { node: string } };
    assert.equal(manifest.engines.node, `>=${OLDEST_NODE.replace(/\.0$/, "")}`);
  });

  it("accepts that release and later ones, refuses earlier ones naming both", () => {
    for (const version of ["22.12.0", "22.23.5", "23.0.0", "24.21.0", "30.1.2"]) assert.equal(unsupportedNode(version), undefined, version);
    for (const version of ["20.20.2", "22.0.0", "22.11.9", "18.19.1"]) {
      assert.equal(unsupportedNode(version), `opencrate needs Node.js ${OLDEST_NODE} or later; this is Node.js ${version}.`);
    }
  });

  it("an older Node.js gets that line and exit code 1, and nothing else runs", async () => {
    const failed = await run(process.execPath, ["--import", pretend("22.0.0"), MAIN, "ls", "nowhere"]).then(
      () => assert.fail("the command ran"),
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
    assert.equal(failed.code, 1);
    assert.equal(failed.stdout, "");
    assert.equal(failed.stderr, `opencrate needs Node.js ${OLDEST_NODE} or later; this is Node.js 22.0.0.\n`);
    const { stdout } = await run(process.execPath, ["--import", pretend("22.12.0"), MAIN, "--version"]);
    assert.match(stdout, /^\d+\.\d+\.\d+/);
  });
});
