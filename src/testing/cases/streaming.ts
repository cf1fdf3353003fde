/** putStream from generators and streams of unknown length, failures midway, and a big transfer in constant memory. */
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import type { ConformanceFixture } from "../fixture.ts";
import { deterministicChunks, PeakRss, sha256 } from "../big-data.ts";
import { isOpenCrateError, TransientError } from "../../errors.ts";
import { assertSameBytes, describeError, listKeys, MiB, randomBody, readText } from "../helpers.ts";

const BIG_MB = Number(process.env.OPENCRATE_CONFORMANCE_BIG_MB ?? 256);
/** RSS may grow by this much while the big body streams up and back (the body itself is far larger). */
const RSS_GROWTH_LIMIT = 150 * MiB;

export function streamingCases(fixture: ConformanceFixture): void {
  fixture.it("putStream takes an async generator of unknown length and reports progress", async (backend) => {
    const sizes = [1, 1000, 64 * 1024, 5 * MiB + 3, 7, 3 * MiB, 0, 2 * MiB + 11];
    const parts = sizes.map((size) => randomBody(size));
    const total = sizes.reduce((sum, size) => sum + size, 0);
    async function* body(): AsyncGenerator<Uint8Array> {
      for (const part of parts) yield part;
    }
    const progress: number[] = [];
    const info = await backend.putStream("streams/unknown-length.bin", body(), { onProgress: (bytes) => progress.push(bytes) });
    assert.equal(info.size, total);
    assertSameBytes(await backend.get("streams/unknown-length.bin"), Buffer.concat(parts), "content");
    assert.ok(progress.length > 0, "onProgress was called");
    assert.equal(progress.at(-1), total, "the last progress report is the whole body");
    for (let index = 1; index < progress.length; index++) {
      assert.ok((progress[index] ?? 0) >= (progress[index - 1] ?? 0), "progress never goes back");
    }
  });

  fixture.it("putStream takes a Node Readable, a known size, and an empty body", async (backend) => {
    const body = randomBody(2 * MiB + 5);
    const readable = Readable.from([body.subarray(0, MiB), body.subarray(MiB)]);
    await backend.putStream("streams/readable.bin", readable, { size: body.byteLength });
    assertSameBytes(await backend.get("streams/readable.bin"), body, "readable");
    const empty = await backend.putStream("streams/empty.bin", Readable.from([]));
    assert.equal(empty.size, 0);
    assert.equal((await backend.head("streams/empty.bin")).size, 0);
  });

  fixture.it("a body that fails midway leaves nothing new: a new key stays absent, an old one intact", async (backend) => {
    const failure = new Error("the body broke");
    async function* breaking(): AsyncGenerator<Uint8Array> {
      yield randomBody(MiB);
      yield randomBody(MiB);
      throw failure;
    }
    for (const key of ["streams/new.bin", "streams/existing.txt"]) {
      if (key === "streams/existing.txt") await backend.put(key, "old content");
      let caught: unknown;
      await backend.putStream(key, breaking()).catch((error: unknown) => {
        caught = error;
      });
      assert.ok(caught !== undefined, `${key}: putStream failed`);
      assert.ok(isOpenCrateError(caught, "INVALID_ARGUMENT"), `${key}: an INVALID_ARGUMENT OpenCrateError (got ${describeError(caught)})`);
      assert.equal(caught.cause, failure, `${key}: the body's own error is the cause`);
      assert.ok(caught.message.includes(backend.describe(key)), `${key}: the message names the location (${caught.message})`);
    }
    // An OpenCrateError from the body (another store's read stream, say) keeps its code.
    const transient = new TransientError("the source store went away");
    async function* failingSource(): AsyncGenerator<Uint8Array> {
      yield randomBody(1024);
      throw transient;
    }
    await assert.rejects(backend.putStream("streams/new.bin", failingSource()), (error) => error === transient);
    // So does a progress callback that throws.
    const callback = new Error("progress callback broke");
    await assert.rejects(
      backend.putStream("streams/new.bin", Readable.from([randomBody(1024)]), {
        onProgress: () => {
          throw callback;
        },
      }),
      (error) => isOpenCrateError(error, "INVALID_ARGUMENT") && error.cause === callback,
    );
    await assert.rejects(backend.head("streams/new.bin"));
    assert.equal(await readText(backend, "streams/existing.txt"), "old content");
    assert.deepEqual(await listKeys(backend, ""), ["streams/existing.txt"], "nothing left behind");
  });

  fixture.it("a read stream destroyed early releases the object", async (backend) => {
    await backend.put("streams/partly-read.bin", randomBody(4 * MiB));
    const stream = await backend.getStream("streams/partly-read.bin");
    for await (const chunk of stream) {
      assert.ok(chunk.byteLength > 0);
      break;
    }
    assert.ok(stream.destroyed, "breaking out of the loop destroys the stream");
    await backend.put("streams/partly-read.bin", "rewritten");
    assert.equal(await readText(backend, "streams/partly-read.bin"), "rewritten");
    await backend.delete("streams/partly-read.bin");
    assert.deepEqual(await listKeys(backend, ""), []);
  });

  // The memory backend holds every object in RAM by design: it streams a smaller body and skips the RSS bound.
  const constantMemory = fixture.options.constantMemory !== false;
  const megabytes = constantMemory ? BIG_MB : Math.min(BIG_MB, 16);
  fixture.it(`streams ${megabytes} MiB up and back down${constantMemory ? " in constant memory" : ""}`, async (backend) => {
    const total = megabytes * MiB;
    const rss = constantMemory ? new PeakRss() : undefined;
    const sent = sha256();
    const received = sha256();
    let receivedBytes = 0;
    let growth: number | undefined;
    try {
      const info = await backend.putStream("streams/big.bin", deterministicChunks(total, MiB, sent, () => rss?.sample()));
      assert.equal(info.size, total);
      for await (const chunk of await backend.getStream("streams/big.bin")) {
        received.update(chunk);
        receivedBytes += chunk.byteLength;
        rss?.sample();
      }
    } finally {
      growth = rss?.stop();
      await backend.delete("streams/big.bin");
    }

    assert.equal(receivedBytes, total);
    assert.equal(received.digest("hex"), sent.digest("hex"), "the bytes read back hash the same as the bytes sent");
    if (growth !== undefined) {
      assert.ok(
        growth < RSS_GROWTH_LIMIT,
        `RSS grew by ${(growth / MiB).toFixed(1)} MiB moving ${megabytes} MiB (limit ${RSS_GROWTH_LIMIT / MiB} MiB)`,
      );
    }
  });
}
