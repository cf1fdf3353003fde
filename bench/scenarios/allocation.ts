/**
 * Version allocation under contention: PROCESSES processes at once, each calling `setup({ start: "new" })` then
 * `close()` PER_PROCESS times on one root, on local disk, MinIO and fake-gcs-server (those whose conditional
 * writes are atomic). Baseline in the same run: the same processes writing the same number of distinct keys
 * create-only with the raw API (`writeFile(…, { flag: "wx" })`, `PutObject` with `If-None-Match: *`,
 * `file.save` with `ifGenerationMatch: 0`), i.e. one request per operation and no contention.
 *
 * Each variant runs in its own process (the harness's child); that process starts the workers, which are more
 * harness children running the "worker-*" variants, and waits for them. Workers count the backend calls they
 * make (a counting wrapper around the StorageBackend), so "calls per allocation" is round trips as opencrate
 * issues them (SDK-internal retries not included; there were none on loopback).
 */
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { StorageBackend } from "../../src/backends/backend.ts";
import { GcsBackend } from "../../src/backends/gcs/index.ts";
import { LocalBackend } from "../../src/backends/local/index.ts";
import { S3Backend } from "../../src/backends/s3/index.ts";
import { Snapshot } from "../../src/index.ts";
import { VersionStore } from "../../src/snapshot/versions.ts";
import { gcsOptions } from "../../test/support/gcs.ts";
import { rawClient, s3Options } from "../../test/support/s3.ts";
import { gcsEnv, minioEnv } from "../../test/support/servers.ts";
import { measurePair, timed, type Measurement, type VariantResult } from "../harness.ts";
import { deleteEverything } from "./shared.ts";
import type { Scenario } from "./types.ts";

const run = promisify(execFile);
const childScript = fileURLToPath(new URL("../child.ts", import.meta.url));
const PROCESSES = Number(process.env.OPENCRATE_BENCH_ALLOC_PROCESSES ?? 16);
const PER_PROCESS = Number(process.env.OPENCRATE_BENCH_ALLOC_PER_PROCESS ?? 100);
/** Lets every worker load Node and the SDKs before the common start. */
const START_DELAY_MS = 6_000;
/** The size of a version claim, for the raw writes. */
const RAW_BODY = Buffer.from(JSON.stringify({ version: 0, tag: null, runId: null, host: "bench", pid: 0, createdAt: new Date(0).toISOString(), token: randomUUID() }, null, 2));

type Kind = "local" | "s3" | "gcs";
const COUNTED = ["head", "get", "getStream", "put", "putStream", "list", "listPage", "delete", "deleteMany", "copy"] as const;

export const allocation: Scenario = {
  name: "allocation",
  title: "Version allocation: concurrent processes calling setup({ start: \"new\" }) vs raw create-only writes",
  unavailable: () => undefined,

  async run({ repeats, scratch }) {
    const kinds: { kind: Kind; label: string }[] = [{ kind: "local", label: "local disk" }];
    if (minioEnv() !== undefined) kinds.push({ kind: "s3", label: "MinIO" });
    if (gcsEnv() !== undefined) kinds.push({ kind: "gcs", label: "fake-gcs-server" });
    const rows: string[] = [];
    for (const { kind, label } of kinds) {
      const args = { kind, scratch };
      const { baseline: raw, ours: lib } = await measurePair(this.name, { baseline: "raw", ours: "allocate" }, args, repeats);
      const rate = (m: Measurement): number => (m.extra?.operations ?? 0) / m.seconds;
      const perAllocation = (name: string): string => ((lib.extra?.[name] ?? 0) / (lib.extra?.operations ?? 1)).toFixed(2);
      rows.push(
        `| ${label} | ${rate(raw).toFixed(0)} writes/s | ${rate(lib).toFixed(0)} allocations/s | **${(rate(lib) / rate(raw)).toFixed(2)}×** | ` +
          `${perAllocation("calls")} (${["get", "head", "list", "put"].map((name) => `${name} ${perAllocation(name)}`).join(", ")}) | ` +
          `${perAllocation("claimAttempts")} |`,
      );
    }
    const missing = [minioEnv() === undefined ? "MinIO" : "", gcsEnv() === undefined ? "fake-gcs-server" : ""].filter((name) => name !== "");
    return {
      markdown: [
        "| store | raw create-only writes | opencrate setup + close | ratio | backend calls per allocation | claim attempts per allocation |",
        "|---|---|---|---|---|---|",
        ...rows,
        "",
        `${PROCESSES} processes × ${PER_PROCESS} operations each, all starting together, on one root (${PROCESSES * PER_PROCESS} versions, ` +
          "checked distinct and contiguous after each run). An allocation is the whole `setup({ start: \"new\" })` + `close()`: " +
          "read the latest hint, list the claims after it, check that no folder holds the number (one one-object listing), " +
          "create the claim (again after each lost race; the number won after lost races is checked too), rewrite the hint " +
          "at every 8th number, then create the empty `.log` and write the run record at the end (a run that ends within " +
          "a second and logs nothing writes no `running` record and starts no log-writer thread). Raw: one create-only " +
          "write of a distinct key of the " +
          "claim's size per operation. " +
          `Rates are operations over the wall time of the slowest process. Median of ${repeats} runs.` +
          (missing.length === 0 ? "" : ` Not measured (server not running): ${missing.join(", ")}.`),
      ].join("\n"),
    };
  },

  async runVariant(variant, args) {
    if (variant === "worker-allocate") return allocateWorker(args);
    if (variant === "worker-raw") return rawWorker(args);
    if (variant !== "allocate" && variant !== "raw") throw new Error(`unknown variant ${variant}`);
    const kind = (args.kind ?? "local") as Kind;
    const place = await freshPlace(kind, args.scratch ?? "");
    const startAt = Date.now() + START_DELAY_MS;
    try {
      const outcome = await timed(async () => {
        const results = await Promise.all(
          Array.from({ length: PROCESSES }, async (_, worker) => {
            const { stdout } = await run(
              process.execPath,
              [childScript, "allocation", `worker-${variant}`, JSON.stringify({ kind, place, worker: String(worker), startAt: String(startAt) })],
              { maxBuffer: 16 * 1024 * 1024, timeout: 30 * 60_000 },
            );
            return JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as VariantResult;
          }),
        );
        return results;
      });
      const results = outcome.value;
      const finished = Math.max(...results.map((result) => result.extra?.finishedAt ?? 0));
      const extra: Record<string, number> = {};
      for (const result of results) {
        for (const [name, value] of Object.entries(result.extra ?? {})) {
          if (name !== "finishedAt") extra[name] = (extra[name] ?? 0) + value;
        }
      }
      if (variant === "allocate") await checkContiguous(kind, place, PROCESSES * PER_PROCESS);
      return {
        seconds: (finished - startAt) / 1000,
        bytes: 0,
        peakRssBytes: Math.max(...results.map((result) => result.peakRssBytes)),
        extra,
      };
    } finally {
      await removePlace(kind, place);
    }
  },
};

/** One worker: PER_PROCESS setups + closes on a counting backend. */
async function allocateWorker(args: Readonly<Record<string, string>>): Promise<VariantResult> {
  const counts: Record<string, number> = { calls: 0, claimAttempts: 0 };
  const kind = (args.kind ?? "local") as Kind;
  const backend = counting(backendFor(kind, args.place ?? ""), counts);
  // Load the SDK before the start, as the raw workers do (the backend would on its first call).
  if (kind === "s3") await import("@aws-sdk/client-s3");
  if (kind === "gcs") await import("@google-cloud/storage");
  await waitUntil(Number(args.startAt));
  const outcome = await timed(async () => {
    for (let i = 0; i < PER_PROCESS; i++) {
      const snapshot = await Snapshot.setup({ name: "alloc", start: "new", backend, console: false });
      await snapshot.close();
    }
  });
  await backend.close();
  return {
    seconds: outcome.seconds,
    bytes: 0,
    peakRssBytes: outcome.peakRssBytes,
    extra: { ...counts, operations: PER_PROCESS, finishedAt: Date.now() },
  };
}

/** One worker: PER_PROCESS create-only writes of distinct keys with the raw API. */
async function rawWorker(args: Readonly<Record<string, string>>): Promise<VariantResult> {
  const kind = (args.kind ?? "local") as Kind;
  const place = args.place ?? "";
  const key = (i: number): string => `raw/${args.worker ?? "0"}-${i}.json`;
  let write: (i: number) => Promise<unknown>;
  let close = async (): Promise<void> => {};
  if (kind === "local") {
    await mkdir(join(place, "raw"), { recursive: true });
    write = (i) => writeFile(join(place, key(i)), RAW_BODY, { flag: "wx" });
  } else if (kind === "s3") {
    const server = minioEnv();
    if (server === undefined) throw new Error("TEST_MINIO_ENDPOINT is not set");
    const { PutObjectCommand } = await import("@aws-sdk/client-s3");
    const client = await rawClient(server);
    write = (i) => client.send(new PutObjectCommand({ Bucket: server.bucket, Key: `${place}/${key(i)}`, Body: RAW_BODY, IfNoneMatch: "*" }));
    close = async () => client.destroy();
  } else {
    const server = gcsEnv();
    if (server === undefined) throw new Error("TEST_GCS_ENDPOINT is not set");
    const { Storage } = await import("@google-cloud/storage");
    const storage = new Storage({ apiEndpoint: server.endpoint, projectId: server.projectId, useAuthWithCustomEndpoint: false });
    storage.baseUrl = `${server.endpoint}/storage/v1`; // as the backend does (STORAGE_EMULATOR_HOST quirk)
    const bucket = storage.bucket(server.bucket);
    write = (i) => bucket.file(`${place}/${key(i)}`).save(RAW_BODY, { resumable: false, preconditionOpts: { ifGenerationMatch: 0 } });
  }
  await waitUntil(Number(args.startAt));
  const outcome = await timed(async () => {
    for (let i = 0; i < PER_PROCESS; i++) await write(i);
  });
  await close();
  return {
    seconds: outcome.seconds,
    bytes: 0,
    peakRssBytes: outcome.peakRssBytes,
    extra: { operations: PER_PROCESS, calls: PER_PROCESS, finishedAt: Date.now() },
  };
}

function backendFor(kind: Kind, place: string): StorageBackend {
  if (kind === "local") return new LocalBackend({ root: place });
  if (kind === "s3") {
    const server = minioEnv();
    if (server === undefined) throw new Error("TEST_MINIO_ENDPOINT is not set");
    return new S3Backend(s3Options(server, { prefix: place }));
  }
  const server = gcsEnv();
  if (server === undefined) throw new Error("TEST_GCS_ENDPOINT is not set");
  return new GcsBackend(gcsOptions(server, { prefix: place }));
}

/** A root folder (local) or prefix (cloud) nobody has used. */
async function freshPlace(kind: Kind, scratch: string): Promise<string> {
  return kind === "local" ? mkdtemp(join(scratch, "alloc-")) : `bench-alloc-${randomUUID()}`;
}

async function removePlace(kind: Kind, place: string): Promise<void> {
  if (kind === "local") {
    await rm(place, { recursive: true, force: true });
    return;
  }
  const backend = backendFor(kind, place);
  try {
    await deleteEverything(backend);
  } finally {
    await backend.close();
  }
}

async function checkContiguous(kind: Kind, place: string, expected: number): Promise<void> {
  const backend = backendFor(kind, place);
  try {
    const versions = await new VersionStore(backend, "alloc").listVersionNumbers();
    if (versions.length !== expected || versions.some((version, index) => version !== index)) {
      throw new Error(`allocation bench on ${kind}: expected versions 0..${expected - 1}, found ${versions.length} (${versions.slice(0, 5).join(", ")}…)`);
    }
  } finally {
    await backend.close();
  }
}

/** `backend` with every storage call counted in `counts` (by method, and in total; claim writes separately). */
function counting(backend: StorageBackend, counts: Record<string, number>): StorageBackend {
  const bump = (name: string, by = 1): void => {
    counts[name] = (counts[name] ?? 0) + by;
    counts.calls = (counts.calls ?? 0) + by;
  };
  return new Proxy(backend, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      const name = String(property);
      if (!(COUNTED as readonly string[]).includes(name)) return value.bind(target);
      if (name === "list") {
        return (...args: unknown[]) => {
          bump("list");
          const pages = value.apply(target, args) as AsyncIterable<unknown>;
          return (async function* () {
            let seen = 0;
            for await (const item of pages) {
              if (++seen % 1000 === 0) bump("list"); // one more request per page of 1000
              yield item;
            }
          })();
        };
      }
      return (...args: unknown[]) => {
        bump(name.startsWith("get") ? "get" : name.startsWith("put") ? "put" : name);
        if (name === "put" && typeof args[0] === "string" && args[0].includes("/.opencrate/versions/")) {
          counts.claimAttempts = (counts.claimAttempts ?? 0) + 1;
        }
        return value.apply(target, args) as unknown;
      };
    },
  });
}

async function waitUntil(epochMs: number): Promise<void> {
  const wait = epochMs - Date.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
}
