/**
 * mapWithConcurrency: the limit on all calls, the limit on heavy ones, and results in the items' order, for items
 * given at once and for items that arrive over time (a listing read page by page).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { mapWithConcurrency } from "../../src/cli/pool.ts";

interface Item {
  readonly id: number;
  readonly heavy: boolean;
  readonly ms: number;
}

/** Runs the items, recording how many calls (and heavy calls) were in flight at most. */
async function runAll(items: readonly Item[], limit: number, heavyLimit?: number) {
  let running = 0;
  let heavyRunning = 0;
  let most = 0;
  let mostHeavy = 0;
  const started: number[] = [];
  const results = await mapWithConcurrency(
    items,
    limit,
    async (item, index) => {
      assert.equal(items[index], item);
      started.push(item.id);
      running += 1;
      if (item.heavy) heavyRunning += 1;
      most = Math.max(most, running);
      mostHeavy = Math.max(mostHeavy, heavyRunning);
      await sleep(item.ms);
      running -= 1;
      if (item.heavy) heavyRunning -= 1;
      return item.id * 10;
    },
    heavyLimit === undefined ? undefined : { isHeavy: (item) => item.heavy, limit: heavyLimit },
  );
  return { results, most, mostHeavy, started };
}

const mixed = (count: number): Item[] => Array.from({ length: count }, (_, id) => ({ id, heavy: id % 3 === 0, ms: id % 3 === 0 ? 15 : 2 }));

describe("mapWithConcurrency", () => {
  it("keeps the items' order and never runs more than the limit", async () => {
    const items = mixed(40);
    const { results, most } = await runAll(items, 6);
    assert.deepEqual(results, items.map((item) => item.id * 10));
    assert.equal(most, 6);
  });

  it("runs at most the heavy limit of heavy items, and fills the other slots with light ones", async () => {
    const items = mixed(60);
    const { results, most, mostHeavy, started } = await runAll(items, 8, 3);
    assert.deepEqual(results, items.map((item) => item.id * 10));
    assert.equal(mostHeavy, 3);
    assert.equal(most, 8, "light items take the slots heavy ones may not");
    assert.deepEqual([...started].sort((a, b) => a - b), items.map((item) => item.id), "every item ran once");
    // Heavy items start first while under their limit, so the long calls do not wait for the short ones.
    assert.deepEqual(started.slice(0, 3), [0, 3, 6]);
  });

  it("with only heavy items left, goes on at the heavy limit until all are done", async () => {
    const items: Item[] = [...Array.from({ length: 9 }, (_, id) => ({ id, heavy: true, ms: 5 })), { id: 9, heavy: false, ms: 1 }];
    const { results, mostHeavy } = await runAll(items, 6, 2);
    assert.deepEqual(results, items.map((item) => item.id * 10));
    assert.equal(mostHeavy, 2);
  });

  it("a limit of one runs one call at a time, heavy or not; a heavy limit of 0 still lets heavy items run", async () => {
    const one = await runAll(mixed(10), 1, 0);
    assert.equal(one.most, 1);
    assert.equal(one.mostHeavy, 1);
    assert.deepEqual(one.results, mixed(10).map((item) => item.id * 10));
  });

  it("starts calls on items that arrive over time before the rest have come, in order and within the limits", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const started: number[] = [];
    let startedBeforeGate = 0;
    let running = 0;
    let most = 0;
    async function* arriving(): AsyncGenerator<Item> {
      for (const item of mixed(5)) yield item;
      await gate;
      for (const item of mixed(30).slice(5)) yield item;
    }
    const done = mapWithConcurrency(
      arriving(),
      4,
      async (item) => {
        started.push(item.id);
        running += 1;
        most = Math.max(most, running);
        await sleep(item.ms);
        running -= 1;
        return item.id * 10;
      },
      { isHeavy: (item) => item.heavy, limit: 2 },
    );
    await sleep(40);
    startedBeforeGate = started.length;
    release();
    const results = await done;
    assert.equal(startedBeforeGate, 5, "the first items ran while the rest had not come");
    assert.deepEqual(results, mixed(30).map((item) => item.id * 10));
    assert.deepEqual([...started].sort((a, b) => a - b), mixed(30).map((item) => item.id), "every item ran once");
    assert.equal(most, 4);
  });

  it("when the items fail to arrive, starts nothing more, lets the calls under way finish, then rejects with that error", async () => {
    const broken = new Error("listing failed (test)");
    async function* failing(): AsyncGenerator<number> {
      yield 1;
      yield 2;
      yield 3;
      await sleep(5);
      throw broken;
    }
    const started: number[] = [];
    const finished: number[] = [];
    await assert.rejects(
      mapWithConcurrency(failing(), 1, async (item) => {
        started.push(item);
        await sleep(30);
        finished.push(item);
        return item;
      }),
      (error: unknown) => error === broken,
    );
    assert.deepEqual(started, [1], "items 2 and 3 had come but did not start after the failure");
    assert.deepEqual(finished, [1], "the call under way finished before the rejection");
  });

  it("when a call fails, starts nothing more, stops reading the items, lets the others finish, then rejects with it", async () => {
    const broken = new Error("call failed (test)");
    let read = 0;
    async function* arriving(): AsyncGenerator<number> {
      for (let item = 0; item < 100; item++) {
        read += 1;
        yield item;
        await sleep(1);
      }
    }
    const started: number[] = [];
    const finished: number[] = [];
    await assert.rejects(
      mapWithConcurrency(arriving(), 2, async (item) => {
        started.push(item);
        if (item === 3) throw broken;
        await sleep(item === 2 ? 40 : 2);
        finished.push(item);
        return item;
      }),
      (error: unknown) => error === broken,
    );
    assert.ok(finished.includes(2), "the slow call under way finished before the rejection");
    assert.ok(!started.some((item) => item > 4), `nothing started after the failure: ${started.join(", ")}`);
    assert.ok(read < 10, `the items stopped being read: ${read} read`);
    const array = await mapWithConcurrency([1, 2, 3, 4, 5, 6], 1, async (item) => {
      if (item === 2) throw broken;
      return item;
    }).catch((error: unknown) => error);
    assert.equal(array, broken);
  });

  it("an empty source resolves with no results and no call", async () => {
    let calls = 0;
    async function* none(): AsyncGenerator<number> {}
    assert.deepEqual(await mapWithConcurrency(none(), 3, async () => ++calls), []);
    assert.deepEqual(await mapWithConcurrency([], 3, async () => ++calls), []);
    assert.equal(calls, 0);
  });
});

