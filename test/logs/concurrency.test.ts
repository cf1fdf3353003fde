import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { StorageBackend } from "../../src/backends/backend.ts";
import { LocalBackend } from "../../src/backends/local/index.ts";
import { LogObjectWriter } from "../../src/logs/log-object.ts";
import { localFactory } from "../support/backends.ts";
import { logBackendFactories } from "./backends.ts";
import { readText } from "./helpers.ts";

const LOG = "race/v0/race.log";
const HISTORY = "race/v0/race.history.log";
const PREVIOUS_RUN = "previous run line 1\nprevious run line 2\n";

/** Checks that the history is the previous run, then every `w<id> <i>` line exactly once, in order per writer. */
function assertEveryLineOnce(history: string, writers: number, linesEach: number): void {
  assert.ok(history.startsWith(PREVIOUS_RUN), "the history starts with the previous run's .log, once");
  const lines = history.slice(PREVIOUS_RUN.length).split("\n");
  assert.equal(lines.pop(), "", "the history ends with a newline");
  assert.equal(lines.length, writers * linesEach, "no line lost or duplicated");
  const next = new Map<string, number>();
  for (const line of lines) {
    const [writer, index] = line.split(" ");
    assert.ok(writer !== undefined && index !== undefined, `unexpected line ${JSON.stringify(line)}`);
    const expected = next.get(writer) ?? 0;
    assert.equal(Number(index), expected, `${writer}'s lines are in order`);
    next.set(writer, expected + 1);
  }
  assert.equal(next.size, writers);
  for (const count of next.values()) assert.equal(count, linesEach);
}

async function writeConcurrently(backend: StorageBackend, writers: number, linesEach: number): Promise<void> {
  const instances = Array.from(
    { length: writers },
    () =>
      new LogObjectWriter({
        backend,
        logKey: LOG,
        historyKey: HISTORY,
        resume: true,
        flushIntervalMs: 5,
        flushBytes: 16 + Math.floor(Math.random() * 400),
      }),
  );
  await Promise.all(instances.map((writer) => writer.start()));
  for (let i = 0; i < linesEach; i++) {
    instances.forEach((writer, id) => writer.write(`w${id} ${i}`));
    if (Math.random() < 0.05) await new Promise((resolve) => setTimeout(resolve, Math.random() * 3));
  }
  await Promise.all(instances.map((writer) => writer.close()));
}

for (const factory of logBackendFactories()) {
  describe(`concurrent history writers on ${factory.label}`, { skip: factory.skip }, () => {
    after(() => factory.cleanup());

    it("8 in-process writers × 1,000 lines: every line exactly once, in order per writer", async () => {
      const backend = await factory.make();
      await backend.put(LOG, PREVIOUS_RUN);
      await writeConcurrently(backend, 8, 1000);
      assertEveryLineOnce(await readText(backend, HISTORY), 8, 1000);
    });
  });
}

describe("concurrent history writers in separate processes", () => {
  const local = localFactory();
  after(() => local.cleanup());

  it("4 processes × 1,000 lines on one local folder: every line exactly once", async () => {
    const backend = await local.make();
    await backend.put(LOG, PREVIOUS_RUN);
    assert.ok(backend instanceof LocalBackend);
    const root = backend.rootPath;
    const script = fileURLToPath(new URL("./fixtures/history-writer.ts", import.meta.url));
    const startAt = String(Date.now() + 1500); // all four start() at once, after Node has started them
    const exits = await Promise.all(
      [0, 1, 2, 3].map(
        (id) =>
          new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
            const child = spawn(process.execPath, [script, root, String(id), "1000", startAt], { stdio: ["ignore", "ignore", "pipe"] });
            let stderr = "";
            child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
            child.on("error", reject);
            child.on("exit", (code) => resolve({ code, stderr }));
          }),
      ),
    );
    for (const exit of exits) assert.equal(exit.code, 0, exit.stderr);
    assertEveryLineOnce(await readText(backend, HISTORY), 4, 1000);
  });
});
