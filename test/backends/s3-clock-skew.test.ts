/**
 * S3 from a machine whose clock is wrong, against MinIO: requests signed at once with the wrong time are all signed
 * again at the store's time (not only the first one refused), on every path (small reads, heads, listings, streams,
 * the SDK's client), a refusal that stays final names the clock, not the credentials, and a run's staleness is
 * judged on the store's time.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { S3Backend } from "../../src/backends/s3/index.ts";
import { mapWithConcurrency } from "../../src/cli/pool.ts";
import { useMachineTime } from "../../src/clock.ts";
import { Snapshot } from "../../src/index.ts";
import { Catalog } from "../../src/ui/catalog.ts";
import { runCli } from "../cli/helpers.ts";
import { rejectsWithCode } from "../conformance/helpers.ts";
import { rawClient, s3Options } from "../support/s3.ts";
import { minioEnv, skipUnless } from "../support/servers.ts";

const minio = minioEnv();
const FILES = 50;
const SKEWED_CLI = fileURLToPath(new URL("../cli/skewed-clock-cli.ts", import.meta.url));
const MINUTE = 60_000;
const OFFSETS: readonly (readonly [string, number])[] = [
  ["20 minutes behind", -20 * MINUTE],
  ["3 hours ahead", 3 * 60 * MINUTE],
  ["3 hours behind", -3 * 60 * MINUTE],
];

/** Runs `use` with this process's clock (the one requests are signed with) `offsetMs` away from the real time. */
async function withClockOff<T>(offsetMs: number, use: () => Promise<T>): Promise<T> {
  const restore = useMachineTime(() => Date.now() + offsetMs);
  try {
    return await use();
  } finally {
    restore();
  }
}

describe("S3 with a clock far from the store's (MinIO)", { skip: skipUnless(minio, "MinIO", "TEST_MINIO_ENDPOINT") }, () => {
  const prefix = `clock-skew-${process.pid}-${Date.now()}`;
  const names = Array.from({ length: FILES }, (_, i) => `item_${String(i).padStart(2, "0")}.json`);
  const keys = names.map((name) => `files/${name}`);
  let dir: string;

  before(async () => {
    if (minio === undefined) return;
    dir = await mkdtemp(join(tmpdir(), "opencrate-clock-skew-"));
    const writer = new S3Backend(s3Options(minio, { prefix }));
    await mapWithConcurrency(keys, 16, (key, index) => writer.put(key, JSON.stringify({ index })));
    const run = await Snapshot.setup({ name: "skew", backend: writer, console: false });
    await mapWithConcurrency(names, 16, (name, index) => run.json(name).save({ index }));
    await run.close();
    await writer.close();
  });

  after(async () => {
    if (minio === undefined) return;
    const cleaner = new S3Backend(s3Options(minio, { prefix }));
    const all: string[] = [];
    for await (const info of cleaner.list("")) all.push(info.key);
    await cleaner.deleteMany(all);
    await cleaner.close();
    await rm(dir, { recursive: true, force: true });
  });

  for (const [label, offsetMs] of OFFSETS) {
    it(`${label}: 50 small reads, 16 heads and streams at once, and listings all succeed without the SDK`, async () => {
      if (minio === undefined) return;
      await withClockOff(offsetMs, async () => {
        const backend = new S3Backend(s3Options(minio, { prefix }));
        try {
          const bodies = await mapWithConcurrency(keys, 16, async (key) => JSON.parse(Buffer.from(await backend.get(key)).toString("utf8")) as unknown);
          assert.deepEqual(bodies, keys.map((_, index) => ({ index })));
          const heads = await Promise.all(keys.slice(0, 16).map((key) => backend.head(key)));
          assert.deepEqual(heads.map((info) => info.key), keys.slice(0, 16));
          const streamed = await Promise.all(keys.slice(16, 32).map(async (key) => {
            const chunks: Buffer[] = [];
            for await (const chunk of await backend.getStream(key)) chunks.push(chunk as Buffer);
            return JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown;
          }));
          assert.deepEqual(streamed, keys.slice(16, 32).map((_, index) => ({ index: index + 16 })));
          const listings = await Promise.all(Array.from({ length: 8 }, () => backend.listPage("files/")));
          for (const page of listings) assert.equal(page.objects.length, FILES);
        } finally {
          await backend.close();
        }
      });
    });
  }

  it("reads through the SDK's client (credentials from a provider) share one corrected clock with it", async () => {
    if (minio === undefined) return;
    await withClockOff(-3 * 60 * MINUTE, async () => {
      const credentials = async () => ({ accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey });
      const backend = new S3Backend(s3Options(minio, { prefix, credentials }));
      try {
        const bodies = await mapWithConcurrency(keys, 16, async (key) => JSON.parse(Buffer.from(await backend.get(key)).toString("utf8")) as unknown);
        assert.deepEqual(bodies, keys.map((_, index) => ({ index })));
      } finally {
        await backend.close();
      }
    });
  });

  it("the SDK's own requests refused for their time are sent again, whichever calls the policy lets go again", async () => {
    if (minio === undefined) return;
    const credentials = async () => ({ accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey });
    const backend = new S3Backend(s3Options(minio, { prefix, credentials, retry: { idempotent: ["read"] } }));
    // The SDK signs on Date.now(): a listing through it, from a machine 3 hours behind as far as the SDK can tell.
    const realNow = Date.now;
    Date.now = () => realNow() - 3 * 60 * MINUTE;
    try {
      assert.equal((await backend.listPage("files/")).objects.length, FILES);
    } finally {
      Date.now = realNow;
      await backend.close();
    }
  });

  it("a refusal for the signing time that is not sent again names the clock and how far off it is", async () => {
    if (minio === undefined) return;
    await withClockOff(-3 * 60 * MINUTE, async () => {
      for (const [what, call] of [
        ["a read", (backend: S3Backend) => backend.get(keys[0] ?? "")],
        ["a head", (backend: S3Backend) => backend.head(keys[0] ?? "")],
        ["a listing", (backend: S3Backend) => backend.listPage("files/")],
      ] as const) {
        // A new backend each: the first refusal corrects its clock, so its next request would be signed in time.
        const backend = new S3Backend(s3Options(minio, { prefix, maxAttempts: 1 }));
        try {
          const error = await rejectsWithCode(call(backend), "PERMISSION_DENIED", what);
          assert.match(error.message, /this machine's clock is 3 h 0 min behind the store's/, `${what}: ${error.message}`);
          assert.doesNotMatch(error.message, /check the credentials/, what);
          assert.ok(Buffer.from(await backend.get(keys[1] ?? "")).byteLength > 0, `${what}: the next request is signed at the store's time`);
        } finally {
          await backend.close();
        }
      }
    });
  });

  it("the SDK's own refusal for the signing time names the clock too", async () => {
    if (minio === undefined) return;
    const client = await rawClient(minio);
    // The SDK signs at its own clock moved by this offset: a machine 3 hours behind, as far as the SDK can tell.
    client.config.systemClockOffset = -3 * 60 * MINUTE;
    await withClockOff(-3 * 60 * MINUTE, async () => {
      const backend = new S3Backend({ bucket: minio.bucket, prefix, client, maxAttempts: 1 });
      try {
        const error = await rejectsWithCode(backend.listPage("files/"), "PERMISSION_DENIED", "a listing through the SDK");
        assert.match(error.message, /RequestTimeTooSkewed/);
        assert.match(error.message, /this machine's clock is 3 h 0 min behind the store's/, error.message);
      } finally {
        await backend.close();
        client.destroy();
      }
    });
  });

  it("a reader whose clock is 3 hours ahead still sees a live run as running, on the store's time", async () => {
    if (minio === undefined) return;
    const writer = new S3Backend(s3Options(minio, { prefix }));
    const run = await Snapshot.setup({ name: "live", backend: writer, console: false });
    try {
      run.info("a line");
      await run.flush();
      const status = await withClockOff(3 * 60 * MINUTE, async () => {
        const reader = new S3Backend(s3Options(minio, { prefix }));
        try {
          return (await new Catalog(reader).versions("live")).map((row) => row.status);
        } finally {
          await reader.close();
        }
      });
      assert.deepEqual(status, ["running"]);
    } finally {
      await run.close();
      await writer.close();
    }
  });

  for (const [label, offsetMs] of OFFSETS) {
    it(`${label}: opencrate ls and a pull of 50 files with --concurrency 16 work`, { timeout: 120_000 }, async () => {
      if (minio === undefined) return;
      const env = {
        AWS_ENDPOINT_URL_S3: minio.endpoint,
        AWS_ACCESS_KEY_ID: minio.accessKeyId,
        AWS_SECRET_ACCESS_KEY: minio.secretAccessKey,
        AWS_REGION: minio.region,
        CLOCK_OFFSET_MS: String(offsetMs),
      };
      const uri = `s3://${minio.bucket}/${prefix}/skew`;
      const listed = await runCli(["ls", uri], { env, main: SKEWED_CLI });
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(listed.stdout, /^v0 /m);
      const dest = join(dir, `pulled${offsetMs}`);
      const pulled = await runCli(["pull", `${uri}@latest`, dest, "--concurrency", "16"], { env, main: SKEWED_CLI });
      assert.equal(pulled.code, 0, pulled.stderr);
      for (const index of [0, 17, FILES - 1]) {
        assert.deepEqual(JSON.parse(await readFile(join(dest, "jsons", names[index] ?? ""), "utf8")), { index });
      }
    });
  }
});
