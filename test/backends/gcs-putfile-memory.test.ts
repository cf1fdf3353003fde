/**
 * GCS putFile streams a large file up through a few reused buffers (file-range-body.ts), on fake-gcs-server: the
 * bytes arrive whole, and reading the file leaves no trail of garbage buffers (fresh ones per read piled up as
 * external memory until V8 collected them, tens of MiB for a large file).
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { GcsBackend } from "../../src/backends/gcs/index.ts";
import { assertSameBytes } from "../conformance/helpers.ts";
import { ensureGcsBucket, gcsOptions, rawObject } from "../support/gcs.ts";
import { writeRandomFile } from "../support/random-file.ts";
import { gcsEnv, skipUnless, type GcsServerEnv } from "../support/servers.ts";

const MiB = 1024 * 1024;
const server = gcsEnv();

describe("GCS putFile of a large file on fake-gcs-server", { skip: skipUnless(server, "fake-gcs-server", "TEST_GCS_ENDPOINT") }, () => {
  const gcs = server as GcsServerEnv;
  const prefix = `t-${randomUUID()}`;
  let backend: GcsBackend;
  let folder = "";
  before(async () => {
    await ensureGcsBucket(gcs);
    folder = await mkdtemp(join(tmpdir(), "oc-gcs-putfile-memory-"));
    backend = new GcsBackend(gcsOptions(gcs, { prefix }));
  });
  after(async () => {
    for await (const info of backend.list("")) await backend.delete(info.key);
    await backend.close();
    await rm(folder, { recursive: true, force: true });
  });

  it("streams it through reused buffers: array buffers grow by far less than the file, and the bytes arrive whole", async () => {
    const path = join(folder, "big.bin");
    const size = 64 * MiB + 12_345;
    await writeRandomFile(path, size);
    const before = process.memoryUsage().arrayBuffers;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().arrayBuffers)), 1);
    try {
      const info = await backend.putFile("big.bin", path);
      assert.equal(info.size, size);
    } finally {
      clearInterval(sampler);
    }
    peak = Math.max(peak, process.memoryUsage().arrayBuffers);
    assert.ok(peak - before < 16 * MiB, `array buffers grew by ${((peak - before) / MiB).toFixed(1)} MiB`);
    assertSameBytes((await rawObject(gcs, `${prefix}/big.bin`)) ?? Buffer.alloc(0), await readFile(path), "stored bytes");
  });
});
