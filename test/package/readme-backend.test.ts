/**
 * The README's "Writing your own backend" example, as written, run with the commands its comment gives: the plain
 * one on this Node.js, the one for older releases on the oldest Node.js package.json's engines allow (installed once
 * from the npm registry's node-<platform>-<arch> package into .cache/package-test). The backend under test is a
 * LocalBackend in a temporary folder, which passes every case.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { OLDEST_NODE } from "../../src/cli/node-support.ts";
import { cacheDir, npm, pack, project, repo, run } from "./packed.ts";

/** The npm package of a Node.js build for this machine, if there is one. */
const NODE_PACKAGE = ({ linux: "node-linux", darwin: "node-darwin" } as Record<string, string>)[process.platform];
const nodeSkip = (() => {
  if (NODE_PACKAGE !== undefined && ["x64", "arm64"].includes(process.arch)) return false;
  const reason = `no npm package of Node.js ${OLDEST_NODE} for ${process.platform}-${process.arch}`;
  if (process.env.CI === "true") throw new Error(`CI=true but ${reason}.`);
  console.warn(`\n!!! SKIPPING the README's backend example on the oldest Node.js: ${reason}.\n`);
  return reason;
})();

/** The oldest supported Node.js, installed once. */
async function oldestNode(): Promise<string> {
  const name = `${NODE_PACKAGE ?? ""}-${process.arch}`;
  const dir = join(cacheDir, `node-${OLDEST_NODE}`);
  const node = join(dir, "node_modules", name, "bin", "node");
  if (!existsSync(node)) {
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "package.json"), JSON.stringify({ name: "node-cache", private: true }));
    await npm(["install", `${name}@${OLDEST_NODE}`], dir);
  }
  return node;
}

/** The README's example test file, and the commands its comment gives to run it. */
async function readmeExample(): Promise<{ code: string; commands: string[] }> {
  const readme = await readFile(join(repo, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## Writing your own backend"));
  const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1] ?? "";
  assert.ok(code.startsWith("// my-backend.test.ts"), "README.md's backend example is my-backend.test.ts");
  const comments = code.split("\n").filter((line) => line.startsWith("//")).join("\n");
  return { code, commands: [...comments.matchAll(/\bnode(?: --[\w-]+)* --test my-backend\.test\.ts/g)].map(([command]) => command) };
}

describe("the README's backend example, run as it says", { skip: nodeSkip }, () => {
  let work: string;
  let dir: string;
  let commands: string[];

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "opencrate-readme-backend-"));
    const tarball = await pack(work);
    dir = await project(work, "my-backend", { type: "module" });
    await npm(["install", tarball], dir);
    const example = await readmeExample();
    commands = example.commands;
    await writeFile(join(dir, "my-backend.test.ts"), example.code);
    await writeFile(
      join(dir, "my-backend.ts"),
      `import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalBackend } from "opencrate";

export class MyBackend extends LocalBackend {
  constructor(options: { prefix: string }) {
    super({ root: join(mkdtempSync(join(tmpdir(), "my-backend-")), options.prefix) });
  }
}
`,
    );
  });

  after(async () => {
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  it("gives a command for Node.js 22.18 and later and one for older releases", () => {
    assert.deepEqual(commands, ["node --test my-backend.test.ts", "node --experimental-strip-types --test my-backend.test.ts"]);
  });

  for (const [label, which] of [
    ["the plain command, on this Node.js", 0],
    [`the command for older releases, on Node.js ${OLDEST_NODE}`, 1],
  ] as const) {
    it(`${label}, passes the conformance suite`, { timeout: 300_000 }, async () => {
      const command = commands[which];
      assert.ok(command !== undefined, `README.md gives ${label.replace(/,.*/, "")}`);
      const node = which === 0 ? process.execPath : await oldestNode();
      const [, ...args] = command.split(" ");
      const file = args.pop() ?? "";
      // Without NODE_TEST_CONTEXT, which would make the inner runner report to this one; a smaller big-stream case.
      const result = await run(node, [...args, "--test-reporter=spec", file], dir, { NODE_TEST_CONTEXT: undefined, OPENCRATE_CONFORMANCE_BIG_MB: "16" });
      assert.equal(result.code, 0, `${command} on ${node}:\n${result.stdout}\n${result.stderr}`);
      assert.match(result.stdout, /ℹ fail 0\n/);
      assert.ok(Number(/ℹ pass (\d+)/.exec(result.stdout)?.[1]) > 40, result.stdout);
    });
  }
});
