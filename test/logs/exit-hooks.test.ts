import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { StorageBackend } from "../../src/backends/backend.ts";
import { registerForExit } from "../../src/logs/exit-hooks.ts";
import { localFactory } from "../support/backends.ts";
import { readText, withoutTime } from "./helpers.ts";

const SCRIPT = fileURLToPath(new URL("./fixtures/exit-run.ts", import.meta.url));
const LINES = 500;

interface Child {
  /** Resolves with the next stdout line that equals `text`. */
  waitFor(text: string): Promise<void>;
  kill(signal: NodeJS.Signals): void;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

function startRun(root: string, mode: string, flushTimeoutMs = 60_000): Child {
  const args = [SCRIPT, root, mode, String(LINES), String(flushTimeoutMs)];
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  const waiters: Array<{ text: string; resolve: () => void }> = [];
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
    for (const waiter of waiters.splice(0)) {
      if (stdout.split("\n").includes(waiter.text)) waiter.resolve();
      else waiters.push(waiter);
    }
  });
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve, reject) => {
    child.on("error", reject);
    child.on("exit", (code, signal) => resolve({ code, signal, stderr }));
  });
  return {
    waitFor: (text) =>
      new Promise<void>((resolve, reject) => {
        if (stdout.split("\n").includes(text)) return resolve();
        waiters.push({ text, resolve });
        void exited.then((exit) => reject(new Error(`child exited (${exit.code ?? exit.signal}) before "${text}": ${exit.stderr}`)));
      }),
    kill: (signal) => child.kill(signal),
    exited,
  };
}

async function loggedLines(backend: StorageBackend): Promise<string[]> {
  const text = await readText(backend, "exit/v0/exit.log");
  return text.split("\n").filter((line) => line !== "").map(withoutTime);
}

const allLines = Array.from({ length: LINES }, (_, i) => `INFO     line ${i}`);

describe("exit hooks", () => {
  const local = localFactory();
  after(() => local.cleanup());

  async function makeRoot(): Promise<{ backend: StorageBackend; root: string }> {
    const backend = await local.make();
    return { backend, root: (backend as unknown as { rootPath: string }).rootPath };
  }

  it("installs signal listeners only while something is registered", () => {
    const before = { term: process.listenerCount("SIGTERM"), int: process.listenerCount("SIGINT") };
    const unregisterA = registerForExit({ flush: async () => {} });
    const unregisterB = registerForExit({ flush: async () => {} });
    assert.equal(process.listenerCount("SIGTERM"), before.term + 1);
    assert.equal(process.listenerCount("SIGINT"), before.int + 1);
    unregisterA();
    assert.equal(process.listenerCount("SIGTERM"), before.term + 1);
    unregisterB();
    unregisterB();
    assert.equal(process.listenerCount("SIGTERM"), before.term);
    assert.equal(process.listenerCount("SIGINT"), before.int);
  });

  it("flushes at a normal exit", async () => {
    const { backend, root } = await makeRoot();
    const exit = await startRun(root, "exit").exited;
    assert.equal(exit.code, 0, exit.stderr);
    assert.deepEqual(await loggedLines(backend), allLines);
  });

  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`flushes on ${signal}, then dies by ${signal}`, async () => {
      const { backend, root } = await makeRoot();
      const child = startRun(root, "wait");
      await child.waitFor("ready");
      assert.deepEqual(await loggedLines(backend), [], "nothing is stored before the signal");
      child.kill(signal);
      const exit = await child.exited;
      assert.equal(exit.signal, signal, exit.stderr);
      assert.equal(exit.code, null);
      assert.deepEqual(await loggedLines(backend), allLines);
    });
  }

  it("leaves the shutdown to an application that listens for the signal itself", async () => {
    const { backend, root } = await makeRoot();
    const child = startRun(root, "app-signal");
    await child.waitFor("ready");
    child.kill("SIGTERM");
    const exit = await child.exited;
    assert.equal(exit.signal, null, exit.stderr);
    assert.equal(exit.code, 7);
    assert.deepEqual(await loggedLines(backend), allLines);
  });

  it("stops retrying a flush that keeps failing at exit, says so, and exits", async () => {
    const { backend, root } = await makeRoot();
    const exit = await startRun(root, "exit-failing").exited;
    assert.equal(exit.code, 0, exit.stderr);
    assert.match(exit.stderr, /opencrate: could not store log lines at exit: store unreachable/);
    assert.deepEqual(await loggedLines(backend), allLines);
  });

  it("re-raises the signal when the flush outlasts the time-out, keeping what was stored", async () => {
    const { backend, root } = await makeRoot();
    const child = startRun(root, "hang", 200);
    await child.waitFor("ready");
    child.kill("SIGTERM");
    const exit = await child.exited;
    assert.equal(exit.signal, "SIGTERM", exit.stderr);
    assert.match(exit.stderr, /timed out after 200 ms/);
    assert.deepEqual(await loggedLines(backend), allLines);
  });

  it("does not swallow a second Ctrl-C while flushing", async () => {
    const { root } = await makeRoot();
    const child = startRun(root, "hang");
    await child.waitFor("ready");
    child.kill("SIGINT");
    await child.waitFor("flushing");
    child.kill("SIGINT");
    const exit = await child.exited;
    assert.equal(exit.signal, "SIGINT", exit.stderr);
  });
});
