/**
 * 200 mixed operations through the fault proxy (seeded resets before and after forwarding, cut answers, stalls,
 * 5xx, S3 SlowDown, GCS 503 JSON): small artifact saves and loads, multipart checkpoint saves and streamed loads,
 * version claims by `setup({ start: "new" })` with log flushes, and history flushes from resumed runs. Each
 * operation must succeed or fail with a TRANSIENT error. Afterwards a clean (unproxied) reader checks:
 * - every artifact holds exactly one of the bodies ever written to it (by SHA-256), and so did every load;
 * - S3: the only open multipart uploads are ones whose CreateMultipartUpload answer the proxy swallowed (the
 *   client never learned their ids; they hold no parts, and only a lifecycle rule can remove them).
 *   GCS: fake-gcs-server cannot list resumable sessions, so there is nothing to check;
 * - every claim belongs to exactly one setup, and every setup that reported success owns the claim of the
 *   version it reported; no two successful setups share a version (a claim whose setup failed is allowed: it
 *   is a gap, never reused);
 * - a flushed claim log holds its lines; the shared history holds every line of every writer exactly once.
 *
 * Excluded on fake-gcs-server, with the reason next to the rule below: faults on resumable chunk uploads.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { StorageBackend } from "../../src/backends/backend.ts";
import { isOpenCrateError } from "../../src/errors.ts";
import { Snapshot } from "../../src/index.ts";
import { VersionStore } from "../../src/snapshot/versions.ts";
import { readText } from "../support/assertions.ts";
import { seededRandom, startFaultProxy, type FaultKind, type FaultPlan, type FaultProxy } from "../support/fault-proxy.ts";
import { minioEnv, type S3ServerEnv } from "../support/servers.ts";
import { chunksOf, pseudoRandomBytes, runPool, sha256, shuffled } from "./support.ts";
import { cloudTargets, openUploads, type CloudTarget } from "./targets.ts";

/** OPENCRATE_FAULT_SEED replays another sequence of faults (the test prints the one it used). */
const SEED = Number(process.env.OPENCRATE_FAULT_SEED ?? 20260805);
const CONCURRENCY = 12;
const SMALL_NAMES = Array.from({ length: 8 }, (_, i) => `notes-${i}.txt`);
const CHECKPOINT_NAMES = ["model-a.bin", "model-b.bin", "model-c.bin"];
const HISTORY_WRITERS = 6;
/** No single operation may take longer than this (a hang is a failure, not a slow pass). */
const OPERATION_DEADLINE_MS = 120_000;
const MIX = { saveSmall: 50, loadSmall: 30, saveCheckpoint: 20, loadCheckpoint: 10, claim: 40, history: 50 } as const;

/** `onDownloads` counts the faults injected into object downloads, by kind. */
function faultPlan(target: CloudTarget, onDownloads: Map<FaultKind, number>): FaultPlan {
  const probabilities: Partial<Record<FaultKind, number>> = {
    "reset-before": 0.04,
    "reset-after": 0.06,
    "cut-response": 0.02,
    stall: 0.03,
  };
  for (const kind of target.errorFaults) probabilities[kind] = 0.03;
  return {
    probabilities,
    stallMs: 200,
    allows: (request, kind) => {
      const role = target.roleOf(request);
      // fake-gcs-server 1.55.1 takes the SDK's status query of a resumable session (Content-Range: bytes */*)
      // for the final chunk and commits the bytes received so far, and appends a re-sent chunk twice
      // (fakestorage/upload.go, uploadFileContent); real GCS answers 308. Chunk faults would test the emulator.
      if (target.kind === "gcs" && role === "multipart-part") return false;
      const download = role === "read" && request.method === "GET" && (target.kind === "s3" || request.url.includes("alt=media"));
      if (download) onDownloads.set(kind, (onDownloads.get(kind) ?? 0) + 1);
      return true;
    },
  };
}

interface Ledger {
  /** Every body ever handed to a save (SHA-256), per artifact: a failed save may still have landed. */
  readonly written: Map<string, Set<string>>;
  readonly setups: { tag: string; version?: number; flushed: boolean; closed: boolean; lines: string[] }[];
  /** Lines written to each history writer, in order. */
  readonly historyLines: string[][];
  readonly outcomes: Map<string, { ok: number; transient: number }>;
  readonly violations: string[];
}

for (const target of cloudTargets()) {
  describe(`200 mixed operations under injected faults on ${target.label}`, { skip: target.skip }, () => {
    const closers: (() => Promise<void>)[] = [];
    after(async () => {
      for (const close of closers.reverse()) await close().catch(() => {});
      await target.cleanup();
    });

    it("each succeeds or fails TRANSIENT, and a clean reader finds no partial artifact, open upload, shared version or lost line", async (t) => {
      const prefix = await target.freshPrefix();
      const proxy = await startFaultProxy({ target: target.endpoint, seed: SEED });
      closers.push(() => proxy.close());
      const clean = target.backend(prefix);
      const faulty = target.backend(prefix, proxy.endpoint);
      closers.push(() => clean.close(), () => faulty.close());
      const ledger: Ledger = { written: new Map(), setups: [], historyLines: [], outcomes: new Map(), violations: [] };

      // Before the faults: the artifacts' snapshot (which also probes the store), first bodies, history writers.
      const artifacts = await Snapshot.setup({ name: "soak", backend: faulty, console: false, logFlushIntervalMs: 3_600_000 });
      closers.push(() => artifacts.close());
      for (const name of SMALL_NAMES) await saveSmall(artifacts, ledger, name, `${name} initial`);
      for (const [index, name] of CHECKPOINT_NAMES.entries()) await saveCheckpoint(artifacts, ledger, target, name, 1000 + index);
      const firstRun = await Snapshot.setup({ name: "hist", backend: clean, console: false });
      firstRun.info("first run");
      await firstRun.close();
      const writers: Snapshot[] = [];
      for (let w = 0; w < HISTORY_WRITERS; w++) {
        const writer = await Snapshot.setup({ name: "hist", start: 0, backend: faulty, console: false, logFlushIntervalMs: 3_600_000 });
        closers.push(() => writer.close());
        writers.push(writer);
        ledger.historyLines.push([]);
      }

      const random = seededRandom(SEED);
      const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
      const operations: { kind: string; run: () => Promise<void> }[] = [];
      for (let i = 0; i < MIX.saveSmall; i++) {
        const name = pick(SMALL_NAMES);
        operations.push({ kind: "save small", run: () => saveSmall(artifacts, ledger, name, `${name} #${i} ${random()}`) });
      }
      for (let i = 0; i < MIX.loadSmall; i++) {
        const name = pick(SMALL_NAMES);
        operations.push({ kind: "load small", run: () => loadSmall(artifacts, ledger, name) });
      }
      for (let i = 0; i < MIX.saveCheckpoint; i++) {
        const name = pick(CHECKPOINT_NAMES);
        operations.push({ kind: "save checkpoint", run: () => saveCheckpoint(artifacts, ledger, target, name, i) });
      }
      for (let i = 0; i < MIX.loadCheckpoint; i++) {
        const name = pick(CHECKPOINT_NAMES);
        operations.push({ kind: "load checkpoint", run: () => loadCheckpoint(artifacts, ledger, name) });
      }
      for (let i = 0; i < MIX.claim; i++) {
        operations.push({ kind: "claim", run: () => claim(faulty, ledger, `c${i}`) });
      }
      for (let i = 0; i < MIX.history; i++) {
        const w = Math.floor(random() * HISTORY_WRITERS);
        operations.push({ kind: "history flush", run: () => flushHistory(writers[w] as Snapshot, ledger, w, i) });
      }
      assert.equal(operations.length, 200);

      const downloadFaults = new Map<FaultKind, number>();
      proxy.setPlan(faultPlan(target, downloadFaults));
      await runPool(
        shuffled(operations, random).map((operation) => () => outcomeOf(ledger, operation.kind, withDeadline(operation.run()))),
        CONCURRENCY,
      );
      proxy.setPlan({});
      t.diagnostic(`seed ${SEED}; proxy: ${proxy.describe()}`);
      t.diagnostic(`faults on downloads: ${[...downloadFaults].map(([kind, count]) => `${kind} ${count}`).join(", ") || "none"}`);
      t.diagnostic(`outcomes: ${[...ledger.outcomes].map(([kind, count]) => `${kind} ${count.ok} ok / ${count.transient} transient`).join("; ")}`);

      // Faults off: what was kept must now be stored.
      for (const writer of writers) await writer.close();
      await artifacts.close();

      assert.deepEqual(ledger.violations, [], "every operation succeeded or failed TRANSIENT, and every load read a whole body");
      assert.ok(proxy.counters.injected["reset-after"] > 0 && proxy.counters.forwarded > 0, proxy.describe());

      // Artifacts: exactly one of the bodies written to each.
      for (const [key, hashes] of ledger.written) {
        const stored = sha256(await clean.get(key));
        assert.ok(hashes.has(stored), `${key} holds a body that was never written (${stored})`);
      }

      // Multipart uploads.
      if (target.kind === "s3") {
        const lost = new Set(
          proxy.swallowed
            .filter((answer) => answer.method === "POST" && /[?&]uploads(=|&|$)/.test(answer.url))
            .map((answer) => /<UploadId>([^<]+)<\/UploadId>/.exec(answer.body)?.[1]),
        );
        const open = await openUploads(minioEnv() as S3ServerEnv, prefix);
        t.diagnostic(`open multipart uploads: ${open.length} (CreateMultipartUpload answers lost: ${lost.size})`);
        for (const upload of open) {
          assert.ok(lost.has(upload.uploadId), `upload ${upload.uploadId} of ${upload.key} was left open`);
          assert.equal(upload.parts, 0, `upload ${upload.uploadId} of ${upload.key} holds parts`);
        }
      }

      // Version claims.
      const claims = await new VersionStore(clean, "claims").listClaims();
      const setupsByTag = new Map(ledger.setups.map((setup) => [setup.tag, setup]));
      assert.equal(new Set(claims.map((entry) => entry.token)).size, claims.length, "every claim has its own token");
      const claimedTags = new Set<string>();
      for (const entry of claims) {
        const setup = entry.tag === undefined ? undefined : setupsByTag.get(entry.tag);
        assert.ok(setup !== undefined, `claim ${entry.version} (tag ${entry.tag}) belongs to no setup`);
        assert.ok(!claimedTags.has(setup.tag), `setup ${setup.tag} holds two claims`);
        claimedTags.add(setup.tag);
        if (setup.version !== undefined) assert.equal(entry.version, setup.version, `setup ${setup.tag} reported another version than it claimed`);
      }
      const succeeded = ledger.setups.filter((setup) => setup.version !== undefined);
      assert.equal(new Set(succeeded.map((setup) => setup.version)).size, succeeded.length, "no two successful setups share a version");
      for (const setup of succeeded) assert.ok(claimedTags.has(setup.tag), `setup ${setup.tag} reported v${setup.version} without a claim`);
      t.diagnostic(`claims: ${claims.length}; setups ${succeeded.length} ok, ${ledger.setups.length - succeeded.length} failed (${claims.length - succeeded.length} of them left a claim)`);

      // Logs of the claims.
      for (const setup of succeeded) {
        if (!setup.flushed) continue;
        const stored = await readText(clean, `claims/v${setup.version}:${setup.tag}/claims.log`);
        const lines = stored.split("\n").filter((line) => line !== "").map(messageOf);
        if (setup.closed) assert.deepEqual(lines, setup.lines, `log of ${setup.tag}`);
        else assert.deepEqual(lines.slice(0, setup.lines.length), setup.lines, `log of ${setup.tag}`);
      }

      // The shared history: the first run, then every writer's lines exactly once, in order per writer.
      const history = (await readText(clean, "hist/v0/hist.history.log")).split("\n").filter((line) => line !== "").map(messageOf);
      assert.equal(history[0], "first run");
      const expected = ledger.historyLines.flat().sort();
      assert.deepEqual([...history.slice(1)].sort(), expected, "every history line exactly once");
      for (const [w, lines] of ledger.historyLines.entries()) {
        assert.deepEqual(history.filter((line) => line.startsWith(`h${w} `)), lines, `writer ${w}'s lines in order`);
      }
    });
  });
}

/** Records a finished operation: success, TRANSIENT, or a violation (any other error). */
async function outcomeOf(ledger: Ledger, kind: string, work: Promise<void>): Promise<void> {
  const count = ledger.outcomes.get(kind) ?? { ok: 0, transient: 0 };
  ledger.outcomes.set(kind, count);
  try {
    await work;
    count.ok += 1;
  } catch (error) {
    if (isOpenCrateError(error, "TRANSIENT")) count.transient += 1;
    else ledger.violations.push(`${kind}: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
  }
}

function withDeadline(work: Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`hung for ${OPERATION_DEADLINE_MS} ms`)), OPERATION_DEADLINE_MS);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

function record(ledger: Ledger, key: string, hash: string): void {
  const hashes = ledger.written.get(key) ?? new Set<string>();
  hashes.add(hash);
  ledger.written.set(key, hashes);
}

async function saveSmall(snapshot: Snapshot, ledger: Ledger, name: string, content: string): Promise<void> {
  const artifact = snapshot.text(name);
  record(ledger, artifact.storage.key, sha256(Buffer.from(content)));
  await artifact.save(content);
}

async function loadSmall(snapshot: Snapshot, ledger: Ledger, name: string): Promise<void> {
  const artifact = snapshot.text(name);
  const hash = sha256(Buffer.from(await artifact.load()));
  if (!ledger.written.get(artifact.storage.key)?.has(hash)) ledger.violations.push(`load small: ${name} read a body never written`);
}

async function saveCheckpoint(snapshot: Snapshot, ledger: Ledger, target: CloudTarget, name: string, seed: number): Promise<void> {
  // Past two parts (S3, 5 MiB parts) or chunks (GCS, 256 KiB), so the upload is multipart / resumable.
  const body = pseudoRandomBytes(target.multipartAbove * 2 + 4096 * (seed % 97) + 1, seed + 1);
  const artifact = snapshot.checkpoint(name);
  record(ledger, artifact.storage.key, sha256(body));
  await artifact.saveStream(chunksOf(body));
}

async function loadCheckpoint(snapshot: Snapshot, ledger: Ledger, name: string): Promise<void> {
  const artifact = snapshot.checkpoint(name);
  const stream = await artifact.openRead();
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  const hash = sha256(Buffer.concat(chunks));
  if (!ledger.written.get(artifact.storage.key)?.has(hash)) {
    ledger.violations.push(`load checkpoint: ${name} read a body never written`);
  }
}

/** setup({ start: "new" }) with a tag naming this operation, three lines, flush, close. */
async function claim(backend: StorageBackend, ledger: Ledger, tag: string): Promise<void> {
  const entry: Ledger["setups"][number] = { tag, flushed: false, closed: false, lines: [] };
  ledger.setups.push(entry);
  const snapshot = await Snapshot.setup({ name: "claims", start: "new", tag, backend, console: false, logFlushIntervalMs: 3_600_000 });
  entry.version = snapshot.version as number;
  try {
    for (let k = 0; k < 3; k++) {
      const line = `${tag} line ${k}`;
      snapshot.info(line);
      entry.lines.push(line);
    }
    await snapshot.flush();
    entry.flushed = true;
    await snapshot.close();
    entry.closed = true;
  } finally {
    if (!entry.closed) await snapshot.close().catch(() => {});
  }
}

async function flushHistory(writer: Snapshot, ledger: Ledger, w: number, operation: number): Promise<void> {
  const lines = ledger.historyLines[w] as string[];
  for (let k = 0; k < 4; k++) {
    const line = `h${w} op${operation} ${k}`;
    writer.info(line);
    lines.push(line);
  }
  await writer.flush();
}

/** The message of a stored log line: what follows the level. */
function messageOf(line: string): string {
  return line.replace(/^.*?\b(DEBUG|INFO|SUCCESS|WARNING|ERROR|CRITICAL)\s+/, "");
}
