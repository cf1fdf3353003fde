import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { StorageBackend } from "../../src/backends/backend.ts";
import { isOpenCrateError } from "../../src/errors.ts";
import { BATCH_IDS_METADATA_KEY } from "../../src/logs/history-append.ts";
import { LogObjectWriter } from "../../src/logs/log-object.ts";
import { RunLogger } from "../../src/logs/logger.ts";
import { memoryFactory } from "../support/backends.ts";
import { logBackendFactories } from "./backends.ts";
import { CapturedConsole, readText, withFaultyPuts, withoutTime } from "./helpers.ts";
import { useClock } from "../../src/clock.ts";
import { ManualClock } from "../support/manual-clock.ts";
import { RetryPolicy } from "../../src/backends/retry-policy.ts";

const LOG = "demo/v0/demo.log";
const HISTORY = "demo/v0/demo.history.log";
const NEVER = 3_600_000;
/** A guard, not a timing assertion: a flush that never comes fails the case instead of hanging the run. */
const CASE_GUARD_MS = 60_000;

/** Counts the flushes that stored lines (the writer's onStored), and waits for the next one. */
function storeWatch(): { onStored: () => void; next(): Promise<void>; readonly count: number } {
  let count = 0;
  const waiting: Array<() => void> = [];
  return {
    onStored: () => {
      count += 1;
      for (const wake of waiting.splice(0)) wake();
    },
    next: () => new Promise<void>((resolve) => waiting.push(resolve)),
    get count() {
      return count;
    },
  };
}

async function exists(backend: StorageBackend, key: string): Promise<boolean> {
  try {
    await backend.head(key);
    return true;
  } catch (error) {
    if (isOpenCrateError(error, "NOT_FOUND")) return false;
    throw error;
  }
}

/** One simulated run: start, write `lines`, close. */
async function run(backend: StorageBackend, resume: boolean, lines: readonly string[]): Promise<void> {
  const writer = new LogObjectWriter({ backend, logKey: LOG, historyKey: HISTORY, resume, flushIntervalMs: NEVER });
  await writer.start();
  for (const line of lines) writer.write(line);
  await writer.close();
}

for (const factory of logBackendFactories()) {
  describe(`LogObjectWriter on ${factory.label}`, { skip: factory.skip }, () => {
    after(() => factory.cleanup());

    it("writes an empty .log at start and no history for a new run", async () => {
      const backend = await factory.make();
      const writer = new LogObjectWriter({ backend, logKey: LOG, historyKey: HISTORY, resume: false, flushIntervalMs: NEVER });
      await writer.start();
      assert.equal(await readText(backend, LOG), "");
      writer.write("one");
      writer.write("two\nstill two");
      await writer.flush();
      assert.equal(await readText(backend, LOG), "one\ntwo\nstill two\n");
      await writer.close();
      assert.equal(await exists(backend, HISTORY), false);
    });

    it("keeps .log to this run and grows the history run by run", async () => {
      const backend = await factory.make();
      await run(backend, false, ["run1 a", "run1 b"]);
      assert.equal(await readText(backend, LOG), "run1 a\nrun1 b\n");
      assert.equal(await exists(backend, HISTORY), false);

      await run(backend, true, ["run2 a"]);
      assert.equal(await readText(backend, LOG), "run2 a\n");
      assert.equal(await readText(backend, HISTORY), "run1 a\nrun1 b\nrun2 a\n");

      await run(backend, true, ["run3 a", "run3 b"]);
      assert.equal(await readText(backend, LOG), "run3 a\nrun3 b\n");
      assert.equal(await readText(backend, HISTORY), "run1 a\nrun1 b\nrun2 a\nrun3 a\nrun3 b\n");

      await run(backend, true, []);
      assert.equal(await readText(backend, LOG), "");
      assert.equal(await readText(backend, HISTORY), "run1 a\nrun1 b\nrun2 a\nrun3 a\nrun3 b\n");
    });

    it("starts the history with only this run's lines when there was no previous .log", async () => {
      const backend = await factory.make();
      await run(backend, true, ["first"]);
      assert.equal(await readText(backend, HISTORY), "first\n");
      assert.equal(await readText(backend, LOG), "first\n");
    });

    it("writes lines logged before setup into the first run's .log and not the next one's", async () => {
      const backend = await factory.make();
      const logger = new RunLogger({ consoleOutput: new CapturedConsole() });
      logger.info("before setup");
      const first = new LogObjectWriter({ backend, logKey: LOG, historyKey: HISTORY, resume: false, flushIntervalMs: NEVER });
      await first.start();
      logger.attach(first);
      logger.info("run one");
      await logger.flush();
      assert.deepEqual((await readText(backend, LOG)).split("\n").filter(Boolean).map(withoutTime), [
        "INFO     before setup",
        "INFO     run one",
      ]);
      logger.detach();
      await first.close();

      const second = new LogObjectWriter({ backend, logKey: LOG, historyKey: HISTORY, resume: true, flushIntervalMs: NEVER });
      await second.start();
      logger.attach(second);
      logger.info("run two");
      logger.detach();
      await second.close();
      assert.deepEqual((await readText(backend, LOG)).split("\n").filter(Boolean).map(withoutTime), ["INFO     run two"]);
      assert.deepEqual((await readText(backend, HISTORY)).split("\n").filter(Boolean).map(withoutTime), [
        "INFO     before setup",
        "INFO     run one",
        "INFO     run two",
      ]);
    });

    it("flushes once the buffered bytes pass flushBytes, not before", { timeout: CASE_GUARD_MS }, async () => {
      const backend = await factory.make();
      const stores = storeWatch();
      const restoreClock = useClock(new ManualClock());
      try {
        const writer = new LogObjectWriter({
          backend,
          logKey: LOG,
          historyKey: HISTORY,
          resume: true,
          flushIntervalMs: 1000,
          flushBytes: 20,
          onStored: stores.onStored,
        });
        await writer.start();
        writer.write("short");
        // A flush started by that line would have cut a batch of it alone by the next turn of the event loop.
        await new Promise((resolve) => setImmediate(resolve));
        const stored = stores.next();
        writer.write("long enough to pass");
        await stored;
        assert.equal(await readText(backend, LOG), "short\nlong enough to pass\n", "one flush, both lines");
        assert.equal(await readText(backend, HISTORY), "short\nlong enough to pass\n");
        await writer.close();
        assert.equal(stores.count, 1);
      } finally {
        restoreClock();
      }
    });

    it("flushes on the interval", { timeout: CASE_GUARD_MS }, async () => {
      const backend = await factory.make();
      const stores = storeWatch();
      const time = new ManualClock();
      const restoreClock = useClock(time);
      try {
        const writer = new LogObjectWriter({ backend, logKey: LOG, historyKey: HISTORY, resume: false, flushIntervalMs: 1000, onStored: stores.onStored });
        await writer.start();
        writer.write("tick");
        time.advance(999);
        await new Promise((resolve) => setImmediate(resolve));
        assert.equal(stores.count, 0, "nothing is stored before the interval has passed");
        const tick = stores.next();
        time.advance(1);
        await tick;
        assert.equal(await readText(backend, LOG), "tick\n");
        writer.write("tock");
        const tock = stores.next();
        time.advance(1000);
        await tock;
        assert.equal(await readText(backend, LOG), "tick\ntock\n");
        await writer.close();
        assert.equal(stores.count, 2);
      } finally {
        restoreClock();
      }
    });

    it("serializes flushes: lines written during a flush go into the next one, in order", async () => {
      const backend = await factory.make();
      const writer = new LogObjectWriter({ backend, logKey: LOG, historyKey: HISTORY, resume: true, flushIntervalMs: NEVER });
      await writer.start();
      const flushes: Promise<void>[] = [];
      for (let i = 0; i < 50; i++) {
        writer.write(`line ${i}`);
        if (i % 7 === 0) flushes.push(writer.flush());
      }
      await Promise.all(flushes);
      await writer.close();
      const expected = Array.from({ length: 50 }, (_, i) => `line ${i}\n`).join("");
      assert.equal(await readText(backend, LOG), expected);
      assert.equal(await readText(backend, HISTORY), expected);
    });

    it("keeps lines after a transient failure and stores them exactly once on the next flush", async () => {
      const inner = await factory.make();
      let failNext = 0;
      const backend = withFaultyPuts(inner, () => (failNext-- > 0 ? "fail-before" : undefined));
      const writer = new LogObjectWriter({
        backend,
        logKey: LOG,
        historyKey: HISTORY,
        resume: true,
        flushIntervalMs: NEVER,
        appendRetry: new RetryPolicy({ conflictAttempts: 11, attempts: 1, baseDelayMs: 1, maxDelayMs: 2 }),
      });
      await writer.start();
      writer.write("a");
      failNext = 2; // the .log write and the history append both fail
      await assert.rejects(writer.flush(), (error: unknown) => isOpenCrateError(error, "TRANSIENT"));
      writer.write("b");
      await writer.flush();
      await writer.close();
      assert.equal(await readText(inner, LOG), "a\nb\n");
      assert.equal(await readText(inner, HISTORY), "a\nb\n");
    });

    it("a resumed run that dies in the middle of a flush leaves no line that the next run loses", async () => {
      const inner = await factory.make();
      await run(inner, false, ["run1"]);
      const dying = dyingAfterOneWrite(inner);
      const writer = new LogObjectWriter({ backend: dying.backend, logKey: LOG, historyKey: HISTORY, resume: true, flushIntervalMs: NEVER });
      await writer.start();
      writer.write("run2 a");
      await writer.flush();
      writer.write("run2 b");
      dying.arm();
      void writer.flush().catch(() => {}); // never settles: the process "dies" after the flush's first write
      await dying.oneLanded;
      const seenInLog = (await readText(inner, LOG)).split("\n").filter(Boolean);
      await run(inner, true, ["run3"]); // the next run replaces .log
      const history = (await readText(inner, HISTORY)).split("\n").filter(Boolean);
      for (const line of seenInLog) assert.ok(history.includes(line), `${line} was in .log, so it must stay in the history`);
      assert.deepEqual(history, ["run1", "run2 a", "run2 b", "run3"], "the write that landed was the history's");
      assert.equal(await readText(inner, LOG), "run3\n");
    });

    it("drops lines written after close, with one warning", async () => {
      const backend = await factory.make();
      const warnings: string[] = [];
      const onWarning = (warning: Error & { code?: string }) => warnings.push(warning.code ?? "");
      process.on("warning", onWarning);
      try {
        const writer = new LogObjectWriter({ backend, logKey: LOG, historyKey: HISTORY, resume: false, flushIntervalMs: NEVER });
        await writer.start();
        writer.write("kept");
        await writer.close();
        writer.write("late 1");
        writer.write("late 2");
        await writer.flush();
        await new Promise((resolve) => setImmediate(resolve));
        assert.equal(await readText(backend, LOG), "kept\n");
        assert.deepEqual(warnings, ["OPENCRATE_LOG_CLOSED"]);
      } finally {
        process.off("warning", onWarning);
      }
    });
  });
}

describe("LogObjectWriter history appends with lost answers", () => {
  const factories = logBackendFactories();
  after(() => Promise.all(factories.map((factory) => factory.cleanup())));

  // Stores that keep user metadata (where a lost answer is possible at all).
  for (const factory of factories.filter((candidate) => candidate.label !== "local")) {
    it(`does not apply a batch twice when a write landed but its answer was lost (${factory.label})`, { skip: factory.skip }, async () => {
      const inner = await factory.make();
      let loseAnswers = 0;
      const backend = withFaultyPuts(inner, (key) => (key === HISTORY && loseAnswers-- > 0 ? "fail-after" : undefined));
      const writer = new LogObjectWriter({ backend, logKey: LOG, historyKey: HISTORY, resume: true, flushIntervalMs: NEVER });
      await writer.start(); // the seed (empty: no previous .log) is written before any answer is lost
      writer.write("once");
      loseAnswers = 1;
      await writer.flush();
      writer.write("twice?");
      loseAnswers = 1;
      await writer.flush();
      await writer.close();
      assert.equal(await readText(inner, HISTORY), "once\ntwice?\n");
      const info = await inner.head(HISTORY);
      assert.equal(info.metadata?.[BATCH_IDS_METADATA_KEY]?.split(" ").length, 2);
    });
  }

  for (const factory of factories) {
    it(`seeds the history once when the seed's answer was lost (${factory.label})`, { skip: factory.skip }, async () => {
      const inner = await factory.make();
      await inner.put(LOG, "previous\n");
      let loseAnswers = 1;
      const backend = withFaultyPuts(inner, (key, mode) =>
        key === HISTORY && mode?.kind === "create" && loseAnswers-- > 0 ? "fail-after" : undefined,
      );
      const writer = new LogObjectWriter({ backend, logKey: LOG, historyKey: HISTORY, resume: true, flushIntervalMs: NEVER });
      await writer.start();
      assert.equal(loseAnswers, 0, "the seed's answer was lost");
      writer.write("resumed");
      await writer.close();
      assert.equal(await readText(inner, HISTORY), "previous\nresumed\n");
    });
  }
});

describe("LogObjectWriter start", () => {
  it("refuses a history on a store without create-only and compare-and-swap, before any write", async () => {
    const inner = await memoryFactory().make();
    const backend = new Proxy(inner, {
      get(target, property) {
        if (property === "capabilities") return { ...target.capabilities, compareAndSwap: false };
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const writer = new LogObjectWriter({ backend, logKey: LOG, historyKey: HISTORY, resume: true });
    await assert.rejects(writer.start(), (error: unknown) => isOpenCrateError(error, "NOT_SUPPORTED"));
    writer.write("never stored");
    await writer.close();
    assert.equal(await exists(inner, LOG), false);
    assert.equal(await exists(inner, HISTORY), false);
  });

  it("can be started again after a failed start, and stores lines written before it", async () => {
    const inner = await memoryFactory().make();
    let failNext = 1;
    const backend = withFaultyPuts(inner, () => (failNext-- > 0 ? "fail-before" : undefined));
    const writer = new LogObjectWriter({ backend, logKey: LOG, historyKey: HISTORY, resume: false, flushIntervalMs: NEVER });
    writer.write("early");
    await assert.rejects(writer.start(), (error: unknown) => isOpenCrateError(error, "TRANSIENT"));
    await writer.flush();
    assert.equal(await exists(inner, LOG), false, "nothing is written before a successful start");
    await writer.start();
    await writer.close();
    assert.equal(await readText(inner, LOG), "early\n");
  });
});

/**
 * `inner`, except that once armed, the first put / copy / append goes through (`oneLanded` resolves) and every
 * later one never answers: a process that died in the middle of a flush.
 */
function dyingAfterOneWrite(inner: StorageBackend): { backend: StorageBackend; arm(): void; oneLanded: Promise<void> } {
  let armed = false;
  let landed = false;
  let signal: () => void = () => {};
  const oneLanded = new Promise<void>((resolve) => {
    signal = resolve;
  });
  const backend = new Proxy(inner, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      const bound = (value as (...args: unknown[]) => unknown).bind(target);
      if (property !== "put" && property !== "copy" && property !== "append") return bound;
      return async (...args: unknown[]): Promise<unknown> => {
        if (!armed) return bound(...args);
        if (landed) return new Promise<never>(() => {});
        landed = true;
        const result = await bound(...args);
        signal();
        return result;
      };
    },
  });
  return {
    backend,
    arm: () => {
      armed = true;
    },
    oneLanded,
  };
}
