/**
 * Local appends next to a program that appends to the same file without opencrate's lock (Python's loguru opens
 * `<name>.history.log` with O_APPEND): its bytes are never overwritten or cut, whenever they land.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { appendFileSync } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { readFile } from "node:fs/promises";
import { createRequire, syncBuiltinESMExports } from "node:module";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { LocalBackend } from "../../src/backends/local/index.ts";
import { isOpenCrateError } from "../../src/errors.ts";
import { localFactory } from "../support/backends.ts";

const KEY = "h/v0/h.history.log";
const text = (value: string): Uint8Array => Buffer.from(value, "utf8");

type Write = FileHandle["write"];
/** Stands in for `handle.write` on the file under test: `real` is the handle's own; `call` counts from 0. */
type WriteHook = (real: (...args: unknown[]) => Promise<unknown>, args: unknown[], call: number) => Promise<unknown>;

/** Runs `body` with each write through a handle opened on `path` going through `hook`. */
async function withWriteHook<T>(path: string, hook: WriteHook, body: () => Promise<T>): Promise<T> {
  const fsPromises = createRequire(import.meta.url)("node:fs/promises") as { open: (...args: unknown[]) => Promise<FileHandle> };
  const realOpen = fsPromises.open;
  fsPromises.open = async (...args: unknown[]): Promise<FileHandle> => {
    const handle = await realOpen(...args);
    if (args[0] !== path) return handle;
    const write = handle.write.bind(handle) as (...writeArgs: unknown[]) => Promise<unknown>;
    let call = 0;
    handle.write = ((...writeArgs: unknown[]) => hook(write, writeArgs, call++)) as unknown as Write;
    return handle;
  };
  syncBuiltinESMExports();
  try {
    return await body();
  } finally {
    fsPromises.open = realOpen;
    syncBuiltinESMExports();
  }
}

/** `args` of `handle.write(buffer, offset, length, position)` with the length cut to `length`. */
function shortened(args: unknown[], length: number): unknown[] {
  return [args[0], args[1], length, ...args.slice(3)];
}

/** Where `actual` first differs from `expected`, in a few words (undefined when equal): 40,000 lines are too many to diff. */
function firstDifference(actual: readonly string[], expected: readonly string[]): string | undefined {
  const at = expected.findIndex((line, index) => actual[index] !== line);
  if (at === -1 && actual.length === expected.length) return undefined;
  const index = at === -1 ? expected.length : at;
  return `${actual.length} lines, ${expected.length} expected; line ${index} is ${actual[index] ?? "missing"}, expected ${expected[index] ?? "none"}`;
}

function noSpace(): NodeJS.ErrnoException {
  return Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC", errno: -28, syscall: "write" });
}

describe("local append next to a program appending without the lock", () => {
  const local = localFactory();
  after(() => local.cleanup());

  async function historyWith(body: string): Promise<{ backend: LocalBackend; path: string; revision: string }> {
    const backend = await local.make();
    assert.ok(backend instanceof LocalBackend);
    const { revision } = await backend.put(KEY, body);
    return { backend, path: join(backend.rootPath, ...KEY.split("/")), revision };
  }

  it("keeps bytes appended after the revision check and before our write, and puts ours after them", async () => {
    const { backend, path, revision } = await historyWith("old line\n");
    const info = await withWriteHook(
      path,
      async (write, args, call) => {
        if (call === 0) appendFileSync(path, "python line\n"); // its own descriptor, O_APPEND, no lock
        return write(...args);
      },
      () => backend.append(KEY, text("our line\n"), { ifRevision: revision }),
    );
    assert.equal(await readFile(path, "utf8"), "old line\npython line\nour line\n");
    // The stats after our write: they count the other program's bytes too.
    assert.equal(info.size, Buffer.byteLength("old line\npython line\nour line\n"));
    assert.equal((await backend.head(KEY)).revision, info.revision);
  });

  it("a write that fails half-way is cut back to the old bytes when nothing else was appended", async () => {
    const { backend, path, revision } = await historyWith("old line\n");
    const failed = await withWriteHook(
      path,
      async (write, args, call) => {
        if (call === 0) return write(...shortened(args, 4));
        throw noSpace();
      },
      () => backend.append(KEY, text("our line\n"), { ifRevision: revision }).then(() => undefined, (error: unknown) => error),
    );
    assert.ok(isOpenCrateError(failed, "TRANSIENT"), String(failed));
    assert.equal(await readFile(path, "utf8"), "old line\n");
    const { revision: now } = await backend.head(KEY);
    await backend.append(KEY, text("next\n"), { ifRevision: now });
    assert.equal(await readFile(path, "utf8"), "old line\nnext\n");
  });

  it("a write that fails after another program appended behind our first bytes cuts nothing", async () => {
    const { backend, path, revision } = await historyWith("old line\n");
    const failed = await withWriteHook(
      path,
      async (write, args, call) => {
        if (call === 0) {
          const written = await write(...shortened(args, 4));
          appendFileSync(path, "python line\n");
          return written;
        }
        throw noSpace();
      },
      () => backend.append(KEY, text("our line\n"), { ifRevision: revision }).then(() => undefined, (error: unknown) => error),
    );
    assert.ok(isOpenCrateError(failed, "TRANSIENT"), String(failed));
    // Our first 4 bytes stay: removing them would take the other program's line with them.
    assert.equal(await readFile(path, "utf8"), "old line\nour python line\n");
  });

  it("every line of both writers is there, whole and once, when a child process appends all the while", async () => {
    const { backend, path } = await historyWith("");
    const childLines = 40_000;
    // What loguru does: one O_APPEND descriptor, one write per line, no lock.
    const child = spawn(
      process.execPath,
      [
        "-e",
        `const fs = require("node:fs");
         const fd = fs.openSync(process.argv[1], "a");
         for (let i = 0; i < ${childLines}; i++) fs.writeSync(fd, "py-" + String(i).padStart(6, "0") + " " + "p".repeat(60) + "\\n");
         fs.closeSync(fd);`,
        path,
      ],
      { stdio: "inherit" },
    );
    const exited = new Promise<number | null>((resolve, reject) => {
      child.once("error", reject);
      child.once("exit", resolve);
    });
    let running = true;
    void exited.then(() => (running = false));
    // Wait for the child's first line, so the appends below overlap its writes.
    while (running && (await backend.head(KEY)).size === 0) await new Promise((resolve) => setImmediate(resolve));

    const linesPerBatch = 5;
    let batches = 0;
    // Until the child is done, and at least 200 batches: half plain appends, half compare-and-swap ones.
    while (running || batches < 200) {
      const bytes = text(Array.from({ length: linesPerBatch }, (_, line) => `oc-${String(batches * linesPerBatch + line).padStart(6, "0")} ${"o".repeat(60)}\n`).join(""));
      if (batches % 2 === 0) {
        await backend.append(KEY, bytes);
      } else {
        for (;;) {
          const { revision } = await backend.head(KEY);
          try {
            await backend.append(KEY, bytes, { ifRevision: revision });
            break;
          } catch (error) {
            if (!isOpenCrateError(error, "PRECONDITION_FAILED")) throw error;
          }
        }
      }
      batches += 1;
    }
    assert.equal(await exited, 0);

    const lines = (await readFile(path, "utf8")).split("\n");
    assert.equal(lines.pop(), "", "the file ends with a whole line");
    const ours = lines.filter((line) => line.startsWith("oc-"));
    const theirs = lines.filter((line) => line.startsWith("py-"));
    assert.equal(ours.length + theirs.length, lines.length, "no line cut or mixed with another");
    const expected = (prefix: string, count: number, fill: string): string[] =>
      Array.from({ length: count }, (_, index) => `${prefix}-${String(index).padStart(6, "0")} ${fill.repeat(60)}`);
    assert.equal(firstDifference(theirs, expected("py", childLines, "p")), undefined, "the child's lines, each once, in order");
    assert.equal(firstDifference(ours, expected("oc", batches * linesPerBatch, "o")), undefined, "our lines, each once, in order");
  });
});
