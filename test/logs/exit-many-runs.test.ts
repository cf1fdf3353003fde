/**
 * At exit, the runs of one process are closed together, each within the whole exit time-out: a run whose store
 * fails or hangs neither takes the time of the others nor keeps its own record from ending, and what the log-writer
 * thread warns about meanwhile is printed.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, describe, it } from "node:test";
import { LocalBackend } from "../../src/backends/local/index.ts";
import type { RunRecord } from "../../src/logs/run-record.ts";
import { listRunRecords } from "../../src/snapshot/run-records.ts";

const RUN = fileURLToPath(new URL("./fixtures/two-runs-exit.ts", import.meta.url));
const REPLACED = fileURLToPath(new URL("./fixtures/replaced-log-exit.ts", import.meta.url));
const STUCK = fileURLToPath(new URL("./fixtures/stuck-log.ts", import.meta.url));

interface Ended {
  readonly code: number | null;
  readonly stderr: string;
  readonly records: { readonly a: RunRecord | undefined; readonly b: RunRecord | undefined };
  readonly bLog: string;
}

async function runChild(root: string, env: Record<string, string>): Promise<Ended> {
  const child = spawn(process.execPath, ["--import", STUCK, RUN, root, join(root, "marker")], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, OPENCRATE_EXIT_FLUSH_MS: "3000", STUCK_MARKER: join(root, "marker"), STUCK_LOG: "/a/v0/a.log", ...env },
  });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on("error", reject);
    child.on("exit", (exitCode) => resolve(exitCode));
  });
  const backend = new LocalBackend({ root });
  const [a] = await listRunRecords(backend, "a", 0);
  const [b] = await listRunRecords(backend, "b", 0);
  return { code, stderr, records: { a, b }, bLog: await readFile(join(root, "b/v0/b.log"), "utf8") };
}

describe("closing several runs at exit", () => {
  const roots: string[] = [];
  after(() => Promise.all(roots.map((root) => rm(root, { recursive: true, force: true }))));
  async function freshRoot(): Promise<string> {
    const root = await mkdtemp(join(tmpdir(), "opencrate-many-"));
    roots.push(root);
    return root;
  }

  it("stores the second run although the first one's store hangs, and ends the first one's record", async () => {
    const ended = await runChild(await freshRoot(), { STUCK_MODE: "hang" });
    assert.equal(ended.code, 0, ended.stderr);
    assert.match(ended.bLog, /b first\n.*b last\n$/s);
    assert.equal(ended.records.b?.status, "finished", ended.stderr);
    assert.equal(ended.records.a?.status, "failed", ended.stderr);
    assert.match(ended.stderr, /timed out/);
  });

  it("stores a slow second run although the first one's close keeps failing", async () => {
    const ended = await runChild(await freshRoot(), { STUCK_MODE: "fail", SLOW_LOG: "/b/v0/b.log", SLOW_MS: "600" });
    assert.equal(ended.code, 0, ended.stderr);
    assert.match(ended.bLog, /b first\n.*b last\n$/s);
    assert.equal(ended.records.b?.status, "finished", ended.stderr);
    assert.equal(ended.records.a?.status, "failed", ended.stderr);
  });

  it("prints the warnings the log-writer thread raises while the process ends", async () => {
    const root = await freshRoot();
    const child = spawn(process.execPath, [REPLACED, root], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on("error", reject);
      child.on("exit", (exitCode) => resolve(exitCode));
    });
    assert.equal(code, 0, stderr);
    assert.match(stderr, /OPENCRATE_LOG_REPLACED.*a\.log/, stderr);
  });
});
