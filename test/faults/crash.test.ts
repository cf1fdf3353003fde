/**
 * Processes that die: a child killed with SIGKILL in the middle of streaming a large checkpoint leaves the
 * previous checkpoint intact and loadable, and nothing at the final name or in listings (local: the temp file
 * stays on disk, hidden; S3: the killed multipart upload stays open until a lifecycle rule aborts it). A child
 * killed with SIGKILL keeps every log line it had flushed (and, as documented, loses the lines since). A child
 * sent SIGTERM flushes its buffered lines before it dies by the signal. On local disk, MinIO and fake-gcs-server.
 */
import assert from "node:assert/strict";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { after, describe, it } from "node:test";
import type { StorageBackend } from "../../src/backends/backend.ts";
import { Snapshot } from "../../src/index.ts";
import { collectKeys, readText } from "../support/assertions.ts";
import { startFaultProxy, type FaultProxy } from "../support/fault-proxy.ts";
import { minioEnv, type S3ServerEnv } from "../support/servers.ts";
import { chunksOf, pseudoRandomBytes, sha256, startChild } from "./support.ts";
import { backendFor, cloudTargets, openUploads, places } from "./targets.ts";

const CHILD = fileURLToPath(new URL("./fixtures/crash-child.ts", import.meta.url));
const CHECKPOINT = "crash/v0/checkpoints/model.bin";
const WAIT_MS = 30_000;

/** Polls `check` until it is true (or fails after WAIT_MS). */
async function eventually(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** The message of each stored log line. */
function messages(text: string): string[] {
  return text
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => line.replace(/^.*?\bINFO\s+/, ""));
}

for (const place of places()) {
  describe(`killed processes on ${place.label}`, { skip: place.skip }, () => {
    const backends: StorageBackend[] = [];
    const proxies: FaultProxy[] = [];
    after(async () => {
      await Promise.all(backends.map((backend) => backend.close()));
      await Promise.all(proxies.map((proxy) => proxy.close()));
      await place.cleanup();
    });

    async function fresh(): Promise<{ where: string; backend: StorageBackend }> {
      const where = await place.fresh();
      const backend = await backendFor(place.kind, where);
      backends.push(backend);
      return { where, backend };
    }

    it("SIGKILL in the middle of a checkpoint save leaves the previous one intact, loadable and alone", async () => {
      const { where, backend } = await fresh();
      const previous = pseudoRandomBytes(3 * 1024 * 1024 + 17, 5);
      const first = await Snapshot.setup({ name: "crash", backend, console: false });
      await first.checkpoint("model.bin").saveStream(chunksOf(previous));
      await first.close();

      // On GCS the child goes through a fault-free proxy, to see its resumable chunks arrive.
      let proxy: FaultProxy | undefined;
      if (place.kind === "gcs") {
        const target = cloudTargets().find((candidate) => candidate.kind === "gcs");
        proxy = await startFaultProxy({ target: target?.endpoint ?? "", seed: 1 });
        proxies.push(proxy);
      }
      const child = startChild(CHILD, ["save", place.kind, where, ...(proxy === undefined ? [] : [proxy.endpoint])]);
      await child.waitForLine("midway");
      if (place.kind === "local") {
        const folder = join(where, "crash", "v0", "checkpoints");
        await eventually("a temp file with bytes in it", async () => {
          for (const name of await readdir(folder)) {
            if (name.startsWith(".~oc-") && (await stat(join(folder, name))).size > 0) return true;
          }
          return false;
        });
      } else if (place.kind === "s3") {
        await eventually("uploaded parts", async () =>
          (await openUploads(minioEnv() as S3ServerEnv, where)).some((upload) => upload.key.endsWith(CHECKPOINT) && upload.parts > 0),
        );
      } else {
        await eventually("resumable chunks", async () => (proxy?.counters.byMethod.PUT ?? 0) >= 2);
      }
      child.kill("SIGKILL");
      const exit = await child.exited;
      assert.equal(exit.signal, "SIGKILL", exit.stderr);

      assert.equal(sha256(await backend.get(CHECKPOINT)), sha256(previous), "the stored checkpoint is the previous one");
      const reader = await Snapshot.setup({ name: "crash", start: 0, backend, console: false });
      const loaded: Buffer[] = [];
      for await (const chunk of await reader.checkpoint("model.bin").openRead()) loaded.push(chunk as Buffer);
      await reader.close();
      assert.equal(sha256(Buffer.concat(loaded)), sha256(previous), "and it loads whole");
      assert.deepEqual(await collectKeys(backend, "crash/v0/checkpoints/"), [CHECKPOINT], "nothing else is listed");
      if (place.kind === "local") {
        const onDisk = await readdir(join(where, "crash", "v0", "checkpoints"));
        assert.ok(onDisk.some((name) => name.startsWith(".~oc-")), "the killed save's temp file is on disk, hidden from listings");
      }
      if (place.kind === "s3") {
        const open = await openUploads(minioEnv() as S3ServerEnv, where);
        assert.equal(open.length, 1, "the killed upload stays open (with its parts) until a lifecycle rule aborts it");
      }
    });

    it("SIGKILL keeps every log line flushed before the kill", async () => {
      const { where, backend } = await fresh();
      const child = startChild(CHILD, ["log", place.kind, where]);
      await child.waitForLine("unflushed");
      const flushed = Math.max(...child.lines().filter((line) => line.startsWith("flushed ")).map((line) => Number(line.slice(8))));
      child.kill("SIGKILL");
      const exit = await child.exited;
      assert.equal(exit.signal, "SIGKILL", exit.stderr);
      assert.equal(flushed, 120);
      const stored = messages(await readText(backend, "logs/v0/logs.log"));
      assert.deepEqual(
        stored,
        Array.from({ length: flushed }, (_, i) => `line ${i}`),
        "every flushed line, in order; the 25 written after the last flush are lost",
      );
    });

    it("SIGKILL of code that logs without ever yielding keeps the lines older than the flush interval", async () => {
      const { where, backend } = await fresh();
      const child = startChild(CHILD, ["sync", place.kind, where]);
      // 150 lines are 3 s of the child's loop; the documented loss is one flush interval (200 ms) of lines.
      await child.waitForLine("logged 150");
      child.kill("SIGKILL");
      const exit = await child.exited;
      assert.equal(exit.signal, "SIGKILL", exit.stderr);
      const stored = messages(await readText(backend, "busy/v0/busy.log"));
      const kept = 100; // with a second of slack for a loaded machine
      assert.ok(stored.length >= kept, `only ${stored.length} of the first ${kept} lines were stored`);
      assert.deepEqual(stored, Array.from({ length: stored.length }, (_, i) => `line ${i}`), "each line once, in order");
    });

    it("a store that refuses connections for 2.5 s at exit gets every line within the exit budget", { skip: place.kind === "local" ? "local disk has no connection to refuse" : false }, async () => {
      const { where, backend } = await fresh();
      const target = cloudTargets().find((candidate) => candidate.kind === place.kind);
      let refusing = false;
      const proxy = await startFaultProxy({
        target: target?.endpoint ?? "",
        seed: 2,
        plan: { decide: () => (refusing ? "reset-before" : "pass") },
      });
      proxies.push(proxy);
      const child = startChild(CHILD, ["blip", place.kind, where, proxy.endpoint]);
      await child.waitForLine("ready");
      refusing = true;
      const back = sleep(2_500).then(() => {
        refusing = false;
      });
      const exit = await child.exited;
      await back;
      assert.equal(exit.code, 3, exit.stderr);
      assert.ok(proxy.counters.injected["reset-before"] > 0, "the store refused the exit's first tries");
      assert.deepEqual(messages(await readText(backend, "blip/v0/blip.log")), Array.from({ length: 3000 }, (_, i) => `line ${i}`));
    });

    it("SIGTERM stores the buffered lines before the process dies by the signal", async () => {
      const { where, backend } = await fresh();
      const child = startChild(CHILD, ["sigterm", place.kind, where]);
      await child.waitForLine("ready");
      assert.deepEqual(messages(await readText(backend, "term/v0/term.log")), [], "nothing is stored before the signal");
      child.kill("SIGTERM");
      const exit = await child.exited;
      assert.equal(exit.signal, "SIGTERM", exit.stderr);
      assert.deepEqual(messages(await readText(backend, "term/v0/term.log")), Array.from({ length: 500 }, (_, i) => `line ${i}`));
    });
  });
}
