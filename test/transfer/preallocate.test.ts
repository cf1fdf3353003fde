/**
 * preallocate(): a file about to take parallel ranges gets its full size, its blocks reserved on Linux where the
 * `fallocate` command runs, and only extended (a hole) where it cannot; bytes already in it stay, and a file
 * already as long is left alone.
 */
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { chmod, mkdir, open, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { preallocate } from "../../src/transfer/preallocate.ts";
import { removeDir, tempDir } from "../cli/helpers.ts";

const MiB = 1024 * 1024;
const hasFallocate = process.platform === "linux" && spawnSync("fallocate", ["--help"]).status === 0;

let dir: string;
before(async () => {
  dir = await tempDir("preallocate");
});
after(async () => {
  await removeDir(dir);
});

async function preallocated(name: string, size: number, existing?: Uint8Array): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, existing ?? new Uint8Array(0));
  const handle = await open(path, "r+");
  try {
    await preallocate(handle, size, path);
  } finally {
    await handle.close();
  }
  return path;
}

test("an empty file takes the full size, its blocks reserved where fallocate runs", async (t) => {
  const path = await preallocated("empty.bin", 8 * MiB);
  const info = await stat(path);
  assert.equal(info.size, 8 * MiB);
  if (!hasFallocate) {
    t.diagnostic("no fallocate command here: the file is only extended");
    return;
  }
  assert.ok(info.blocks * 512 >= 8 * MiB, `${info.blocks} blocks of 512 bytes reserved for 8 MiB`);
});

test("bytes already in the file stay", async () => {
  const prefix = new Uint8Array(3 * 4096 + 17).fill(9);
  const path = await preallocated("prefix.bin", 2 * MiB, prefix);
  const bytes = await readFile(path);
  assert.equal(bytes.byteLength, 2 * MiB);
  assert.deepEqual(bytes.subarray(0, prefix.byteLength), Buffer.from(prefix));
  assert.ok(bytes.subarray(prefix.byteLength).every((byte) => byte === 0));
});

test("a file as long as asked, or longer, is left as it is", async () => {
  const content = new Uint8Array(5000).fill(4);
  const path = await preallocated("long.bin", 4000, content);
  assert.deepEqual(await readFile(path), Buffer.from(content));
});

/** Runs preallocate() on `path` to each size in turn in a fresh process whose PATH is `path`; resolves with its output. */
async function inChild(path: string, sizes: readonly number[], searchPath: string): Promise<string> {
  const module = new URL("../../src/transfer/preallocate.ts", import.meta.url).href;
  const script = [
    `import { open } from "node:fs/promises";`,
    `import { preallocate } from ${JSON.stringify(module)};`,
    `const handle = await open(${JSON.stringify(path)}, "r+");`,
    `try {`,
    ...sizes.map((size) => `  await preallocate(handle, ${size}, ${JSON.stringify(path)});`),
    `} catch (error) {`,
    `  console.log(JSON.stringify({ code: error.code, message: error.message }));`,
    `} finally {`,
    `  await handle.close();`,
    `}`,
  ].join("\n");
  const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", script], { env: { ...process.env, PATH: searchPath } });
  return stdout;
}

test("without the fallocate command the file is extended as a hole", async () => {
  const path = join(dir, "no-command.bin");
  await writeFile(path, "");
  assert.equal(await inChild(path, [4 * MiB, 6 * MiB], join(dir, "nothing-here")), "");
  const info = await stat(path);
  assert.equal(info.size, 6 * MiB);
  assert.ok(info.blocks * 512 < MiB, `a hole holds no blocks (${info.blocks} of 512 bytes)`);
});

test("a disk without room for the blocks fails with ENOSPC naming the file, which keeps its size", async () => {
  const bin = join(dir, "full-disk-bin");
  await mkdir(bin);
  const command = join(bin, "fallocate");
  await writeFile(command, "#!/bin/sh\necho 'fallocate: fallocate failed: No space left on device' >&2\nexit 1\n");
  await chmod(command, 0o755);
  const path = join(dir, "full-disk.bin");
  await writeFile(path, "kept");
  const failure = JSON.parse(await inChild(path, [64 * MiB], bin)) as { code: string; message: string };
  assert.equal(failure.code, "ENOSPC");
  assert.match(failure.message, /no space left/);
  assert.ok(failure.message.includes(path), failure.message);
  assert.equal((await readFile(path)).toString(), "kept");
});

test("an aborted download stops before the command runs, with the caller's reason, leaving the file as it was", async () => {
  const path = join(dir, "aborted.bin");
  await writeFile(path, "");
  const handle = await open(path, "r+");
  const reason = new Error("stopped by the caller (test)");
  try {
    const controller = new AbortController();
    controller.abort(reason);
    await assert.rejects(preallocate(handle, 4 * MiB, path, controller.signal), (error: unknown) => error === reason);
  } finally {
    await handle.close();
  }
  assert.equal((await stat(path)).size, 0);
});
