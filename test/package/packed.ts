/**
 * The package as npm users get it, for the tests under test/package: `npm pack` of the built dist/ into a scratch
 * folder, projects to install it into, and commands run there. Registry packages come from a cache under
 * .cache/package-test (filled from the registry on the first run, offline after).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);
export const repo = fileURLToPath(new URL("../..", import.meta.url));
export const cacheDir = join(repo, ".cache", "package-test");
export const npmCache = join(cacheDir, "npm-cache");

export interface Result {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
}

/** Runs a command; resolves with its output and exit code whatever the code. */
export async function run(file: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<Result> {
  try {
    const { stdout, stderr } = await execFileAsync(file, args, {
      cwd,
      env: { ...process.env, NO_COLOR: "1", OPENCRATE_ROOT: "", ...env },
      timeout: 300_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    return { stdout, stderr, code: 0 };
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string; code?: unknown };
    if (typeof failed.code !== "number") throw error;
    return { stdout: failed.stdout ?? "", stderr: failed.stderr ?? "", code: failed.code };
  }
}

export async function ok(file: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
  const result = await run(file, args, cwd, env);
  assert.equal(result.code, 0, `${file} ${args.join(" ")} in ${cwd} exited ${result.code}:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

/** The npm options every install here uses: the shared cache, quiet. */
export const NPM_OPTIONS: readonly string[] = ["--cache", npmCache, "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"];

export const npm = (args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<string> => ok("npm", [...args, ...NPM_OPTIONS], cwd, env);

export async function project(parent: string, name: string, manifest: Record<string, unknown>): Promise<string> {
  const dir = join(parent, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "package.json"), JSON.stringify({ name, private: true, ...manifest }, null, 2));
  return dir;
}

/** Fails, saying what to run, when a source file is newer than the built package. */
async function assertBuiltFromSources(): Promise<void> {
  const built = join(repo, "dist", "index.js");
  assert.ok(existsSync(built), "dist/ is missing: run `npm run build` (scripts/dev.sh test does it) before the tests");
  const builtAt = (await stat(built)).mtimeMs;
  const sources = (await readdir(join(repo, "src"), { recursive: true })).filter((name) => name.endsWith(".ts"));
  for (const source of sources) {
    const changedAt = (await stat(join(repo, "src", source))).mtimeMs;
    assert.ok(changedAt <= builtAt, `src/${source} is newer than dist/: run \`npm run build\` (scripts/dev.sh test does it) before the tests`);
  }
}

/** Packs the package into `dir`; returns the tarball's path. */
export async function pack(dir: string): Promise<string> {
  await mkdir(npmCache, { recursive: true });
  // Packed from the dist/ the test run was started with (scripts/dev.sh builds it first): prepack would delete
  // and rebuild it while other test files run the CLI and the examples from it.
  await assertBuiltFromSources();
  const packed = await ok("npm", ["pack", "--ignore-scripts", "--pack-destination", dir, "--silent"], repo);
  const tarball = join(dir, packed.trim().split("\n").at(-1) ?? "");
  assert.ok(existsSync(tarball), `npm pack wrote ${tarball}`);
  return tarball;
}
