/**
 * A flush costs the lines it adds, not the log: once `.log` and the history hold several MiB, a flush of a few
 * lines writes (local disk) or uploads (MinIO: request bodies of PutObject and UploadPart; the part copies stay
 * inside the store) a few KiB. The same run with `append` hidden from the writer is the control: it rewrites both
 * objects, which shows the counting sees a whole-log flush when there is one.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, describe, it, type TestContext } from "node:test";
import type { ObjectInfo, StorageBackend, WriteOptions } from "../../src/backends/backend.ts";
import { S3Backend } from "../../src/backends/s3/index.ts";
import { LogObjectWriter } from "../../src/logs/log-object.ts";
import { localFactory } from "../support/backends.ts";
import { ensureBucket, s3Options } from "../support/s3.ts";
import { startS3Proxy, type RunningServer } from "../support/s3-proxy.ts";
import { minioEnv, skipUnless, type S3ServerEnv } from "../support/servers.ts";
import { readText } from "./helpers.ts";
import { deleteUnder } from "../support/bucket-factory.ts";

const MiB = 1024 * 1024;
const LOG = "cost/v0/cost.log";
const HISTORY = "cost/v0/cost.history.log";
/** Past S3's 5 MiB part minimum, so MinIO appends by part copy. */
const PREVIOUS_RUN_BYTES = 6 * MiB;
const THIS_RUN_BYTES = 6 * MiB;
const SMALL_FLUSHES = 3;
const LINES_PER_SMALL_FLUSH = 10;
/** Ten lines of ~100 bytes go to two objects; the rest is headroom for metadata and XML. */
const SMALL_FLUSH_LIMIT = 64 * 1024;

/** Reads how many bytes the backend has been sent so far. */
type Meter = () => number;

interface Measured {
  /** Bytes sent by each small flush (a few lines) once both objects are past 6 MiB. */
  readonly smallFlushes: number[];
}

function line(index: number): string {
  return `2026-01-01 00:00:00 - INFO     step ${String(index).padStart(8, "0")} loss=0.1234 `.padEnd(100, "x");
}

/** A previous run's 6 MiB `.log`, then a resumed run that logs 6 MiB and then a few lines per flush. */
async function measure(backend: StorageBackend, meter: Meter): Promise<Measured> {
  const previous = Array.from({ length: Math.ceil(PREVIOUS_RUN_BYTES / 100) }, (_, index) => `${line(index)}\n`).join("");
  await backend.put(LOG, previous);
  const writer = new LogObjectWriter({ backend, logKey: LOG, historyKey: HISTORY, resume: true, flushIntervalMs: 3_600_000, flushBytes: 256 * MiB });
  await writer.start();
  let next = 0;
  for (let written = 0; written < THIS_RUN_BYTES; written += 100) writer.write(line(next++));
  await writer.flush();
  const smallFlushes: number[] = [];
  for (let flush = 0; flush < SMALL_FLUSHES; flush++) {
    for (let count = 0; count < LINES_PER_SMALL_FLUSH; count++) writer.write(line(next++));
    const before = meter();
    await writer.flush();
    smallFlushes.push(meter() - before);
  }
  await writer.close();
  const history = await readText(backend, HISTORY);
  assert.ok(history.startsWith(previous), "the history starts with the previous run");
  assert.equal(history.length, previous.length + next * 101, "and holds every line of this run once");
  assert.equal((await readText(backend, LOG)).length, next * 101, ".log holds this run's lines");
  return { smallFlushes };
}

/** The backend as a writer sees it when the store offers no append. */
function withoutAppend(backend: StorageBackend): StorageBackend {
  return new Proxy(backend, {
    get(target, property) {
      if (property === "append") return undefined;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** Counts the bytes handed to put and append. */
function counting(backend: StorageBackend): { backend: StorageBackend; meter: Meter } {
  let sent = 0;
  const wrapped = new Proxy(backend, {
    get(target, property) {
      if (property === "put") {
        return (key: string, body: Uint8Array | string, options?: WriteOptions): Promise<ObjectInfo> => {
          sent += typeof body === "string" ? Buffer.byteLength(body) : body.byteLength;
          return target.put(key, body, options);
        };
      }
      if (property === "append" && target.append !== undefined) {
        const append = target.append.bind(target);
        return (key: string, bytes: Uint8Array, options?: Parameters<typeof append>[2]): Promise<ObjectInfo> => {
          sent += bytes.byteLength;
          return append(key, bytes, options);
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { backend: wrapped, meter: () => sent };
}

/** Request bodies of every PUT through the proxy: PutObject and UploadPart (an UploadPartCopy has none). */
function uploadedThrough(proxy: RunningServer): Meter {
  return () => proxy.requests.reduce((sum, request) => sum + (request.method === "PUT" ? request.body.byteLength : 0), 0);
}

function report(context: TestContext, label: string, measured: Measured): void {
  context.diagnostic(`${label}: bytes sent per flush of ${LINES_PER_SMALL_FLUSH} lines at 6+ MiB: ${measured.smallFlushes.join(", ")}`);
}

describe("flush cost on local disk", () => {
  const local = localFactory();
  after(() => local.cleanup());

  it("a flush of a few lines writes the lines, not the 6 and 12 MiB objects", async (context) => {
    const { backend, meter } = counting(await local.make());
    const measured = await measure(backend, meter);
    report(context, "local with append", measured);
    for (const bytes of measured.smallFlushes) assert.ok(bytes <= SMALL_FLUSH_LIMIT, `a small flush wrote ${bytes} bytes`);
  });

  it("control: without append the same flush rewrites both objects", async (context) => {
    const { backend, meter } = counting(withoutAppend(await local.make()));
    const measured = await measure(backend, meter);
    report(context, "local without append", measured);
    for (const bytes of measured.smallFlushes) assert.ok(bytes >= PREVIOUS_RUN_BYTES + 2 * THIS_RUN_BYTES, `${bytes} bytes`);
  });
});

const minio = minioEnv();

describe("flush cost on MinIO", { skip: skipUnless(minio, "MinIO", "TEST_MINIO_ENDPOINT") }, () => {
  const server = minio as S3ServerEnv;
  const proxies: RunningServer[] = [];
  const prefixes: string[] = [];
  after(async () => {
    await Promise.all(proxies.map((proxy) => proxy.close()));
    const cleaner = new S3Backend(s3Options(server));
    await deleteUnder(cleaner, prefixes);
    await cleaner.close();
  });

  async function proxied(): Promise<{ backend: S3Backend; meter: Meter }> {
    await ensureBucket(server);
    const proxy = await startS3Proxy(server.endpoint);
    proxies.push(proxy);
    const prefix = `t-${randomUUID()}`;
    prefixes.push(prefix);
    return { backend: new S3Backend(s3Options(server, { prefix, endpoint: proxy.endpoint })), meter: uploadedThrough(proxy) };
  }

  it("a flush of a few lines uploads the lines; the objects are copied inside the store", async (context) => {
    const { backend, meter } = await proxied();
    try {
      const measured = await measure(backend, meter);
      report(context, "MinIO with append", measured);
      for (const bytes of measured.smallFlushes) assert.ok(bytes <= SMALL_FLUSH_LIMIT, `a small flush uploaded ${bytes} bytes`);
    } finally {
      await backend.close();
    }
  });

  it("control: without append the same flush uploads both objects again", async (context) => {
    const { backend, meter } = await proxied();
    try {
      const measured = await measure(withoutAppend(backend), meter);
      report(context, "MinIO without append", measured);
      for (const bytes of measured.smallFlushes) assert.ok(bytes >= PREVIOUS_RUN_BYTES + 2 * THIS_RUN_BYTES, `${bytes} bytes`);
    } finally {
      await backend.close();
    }
  });
});
