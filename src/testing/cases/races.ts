/** Many writers on one key at once: create-only has one winner, compare-and-swap loses no increment, and readers
 * never see a torn object. */
import assert from "node:assert/strict";
import { CREATE_ONLY, ifRevision, type StorageBackend } from "../../backends/backend.ts";
import { isOpenCrateError } from "../../errors.ts";
import type { ConformanceFixture } from "../fixture.ts";
import { describeError, listKeys, MiB, readText } from "../helpers.ts";

const CREATE_WRITERS = 16;
const CAS_WORKERS = 20;
const BIG_CREATE_WRITERS = 4;
const INCREMENTS_PER_WORKER = 5;

/** Adds one to the counter at `key`: read the revision, then the value, write it back conditionally, retry. */
async function increment(backend: StorageBackend, key: string): Promise<number> {
  for (let attempts = 1; ; attempts++) {
    // Revision first: content read after it is that revision's or newer, and a newer one fails the swap.
    const { revision } = await backend.head(key);
    const value = Number(await readText(backend, key));
    try {
      await backend.put(key, String(value + 1), { mode: ifRevision(revision) });
      return attempts;
    } catch (error) {
      if (!isOpenCrateError(error, "PRECONDITION_FAILED")) throw error;
    }
  }
}

export function raceCases(fixture: ConformanceFixture): void {
  fixture.itNeeding(["createOnly"], `${CREATE_WRITERS} concurrent create-only writers: exactly one wins`, async (backend) => {
    const key = "race/claims/0007.json";
    const outcomes = await Promise.allSettled(
      Array.from({ length: CREATE_WRITERS }, (_, writer) =>
        backend.put(key, JSON.stringify({ writer }), { mode: CREATE_ONLY }).then((info) => ({ writer, info })),
      ),
    );
    const winners = outcomes.flatMap((outcome) => (outcome.status === "fulfilled" ? [outcome.value] : []));
    const losers = outcomes.flatMap((outcome) => (outcome.status === "rejected" ? [outcome.reason as unknown] : []));
    assert.equal(winners.length, 1, `one winner, not ${winners.length}`);
    for (const loser of losers) assert.ok(isOpenCrateError(loser, "ALREADY_EXISTS"), `a loser failed with ${describeError(loser)}`);
    const [winner] = winners;
    assert.ok(winner !== undefined);
    assert.deepEqual(JSON.parse(await readText(backend, key)), { writer: winner.writer }, "the content is the winner's");
    assert.equal((await backend.head(key)).revision, winner.info.revision);
  });

  fixture.itNeeding(["createOnly"], "concurrent create-only putStreams: exactly one wins", async (backend) => {
    const key = "race/streamed.bin";
    const outcomes = await Promise.allSettled(
      Array.from({ length: 8 }, (_, writer) => {
        async function* body(): AsyncGenerator<Uint8Array> {
          for (let part = 0; part < 4; part++) yield Buffer.alloc(256 * 1024, writer);
        }
        return backend.putStream(key, body(), { mode: CREATE_ONLY }).then(() => writer);
      }),
    );
    const winners = outcomes.flatMap((outcome) => (outcome.status === "fulfilled" ? [outcome.value] : []));
    assert.equal(winners.length, 1, `one winner, not ${winners.length}`);
    for (const outcome of outcomes) {
      if (outcome.status === "rejected") assert.ok(isOpenCrateError(outcome.reason, "ALREADY_EXISTS"), describeError(outcome.reason));
    }
    const content = await backend.get(key);
    assert.equal(content.byteLength, MiB);
    assert.ok(content.every((byte) => byte === winners[0]), "the content is the winner's, whole");
  });

  fixture.itNeeding(["createOnly"], "concurrent create-only putStreams above the multipart threshold: exactly one wins, whole", async (backend) => {
    // Past the multipart part size (S3) or the resumable threshold (GCS): the condition must hold at completion.
    const size = (backend.capabilities.multipartThreshold ?? 8 * MiB) + MiB + 17;
    const key = "race/parts.bin";
    const chunk = (writer: number, index: number): Buffer => Buffer.alloc(Math.min(MiB, size - index * MiB), (writer * 31 + index) & 0xff);
    const chunkCount = Math.ceil(size / MiB);
    const outcomes = await Promise.allSettled(
      Array.from({ length: BIG_CREATE_WRITERS }, (_, writer) => {
        async function* body(): AsyncGenerator<Uint8Array> {
          for (let index = 0; index < chunkCount; index++) yield chunk(writer, index);
        }
        return backend.putStream(key, body(), { mode: CREATE_ONLY }).then(() => writer);
      }),
    );
    const winners = outcomes.flatMap((outcome) => (outcome.status === "fulfilled" ? [outcome.value] : []));
    assert.equal(winners.length, 1, `one winner, not ${winners.length}`);
    for (const outcome of outcomes) {
      if (outcome.status === "rejected") assert.ok(isOpenCrateError(outcome.reason, "ALREADY_EXISTS"), describeError(outcome.reason));
    }
    const [winner] = winners;
    assert.ok(winner !== undefined);
    const content = Buffer.from(await backend.get(key));
    assert.equal(content.byteLength, size);
    for (let index = 0; index < chunkCount; index++) {
      assert.ok(content.subarray(index * MiB, (index + 1) * MiB).equals(chunk(winner, index)), `part ${index} is the winner's`);
    }
    assert.deepEqual(await listKeys(backend, "race/"), [key], "no loser left an object behind");
  });

  fixture.itNeeding(["compareAndSwap"], `${CAS_WORKERS} concurrent compare-and-swap increment loops lose no increment`, async (backend) => {
    const key = "race/counter.txt";
    await backend.put(key, "0", { mode: CREATE_ONLY });
    const attempts = await Promise.all(
      Array.from({ length: CAS_WORKERS }, async () => {
        let tries = 0;
        for (let done = 0; done < INCREMENTS_PER_WORKER; done++) tries += await increment(backend, key);
        return tries;
      }),
    );
    assert.equal(Number(await readText(backend, key)), CAS_WORKERS * INCREMENTS_PER_WORKER);
    const totalTries = attempts.reduce((sum, tries) => sum + tries, 0);
    assert.ok(totalTries >= CAS_WORKERS * INCREMENTS_PER_WORKER);
  });

  fixture.it("readers racing overwrites see the old or the new object, never a mix", async (backend) => {
    const key = "race/flip.bin";
    const bodies = [Buffer.alloc(MiB, 0x61), Buffer.alloc(MiB, 0x62)] as const;
    await backend.put(key, bodies[0]);
    let writing = true;
    const writer = (async () => {
      try {
        for (let round = 1; round <= 12; round++) await backend.put(key, bodies[round % 2] ?? bodies[0]);
      } finally {
        writing = false;
      }
    })();
    const readers = Array.from({ length: 3 }, async () => {
      let reads = 0;
      while (writing || reads === 0) {
        const seen = Buffer.from(await backend.get(key));
        assert.ok(seen.equals(bodies[0]) || seen.equals(bodies[1]), "a whole object, never a torn one");
        reads++;
      }
      return reads;
    });
    await Promise.all([writer, ...readers]);
  });

  fixture.itNeeding(["copyCreateOnly"], "create-only copies of a source another writer keeps replacing all succeed, each one whole state", async (backend) => {
    const source = "race/busy.json";
    const state = (serial: number): string => JSON.stringify({ serial, pad: String(serial % 10).repeat(64 * 1024) });
    await backend.put(source, state(0), { contentType: "application/json" });
    let stop = false;
    let written = 0;
    const writer = (async () => {
      while (!stop) {
        await backend.put(source, state(written + 1), { contentType: "application/json" });
        written += 1;
      }
    })();
    const copies = 12;
    const outcomes = await Promise.allSettled(
      Array.from({ length: copies }, (_, index) => backend.copy(source, `race/busy-copies/${index}.json`, { mode: CREATE_ONLY })),
    ).finally(() => {
      stop = true;
    });
    await writer;
    for (const outcome of outcomes) assert.equal(outcome.status, "fulfilled", outcome.status === "rejected" ? describeError(outcome.reason) : "");
    for (let index = 0; index < copies; index++) {
      const text = await readText(backend, `race/busy-copies/${index}.json`);
      const { serial } = JSON.parse(text) as { serial: number };
      assert.equal(text, state(serial), `copy ${index} holds one whole state`);
    }
    const left = [];
    for await (const info of backend.list("race/")) left.push(info.key);
    assert.equal(left.length, copies + 1, `no temporary object is left behind (${left.join(", ")})`);
  });
}
