/**
 * A write of `.log` or of the run record whose request reaches the store late: the client heard nothing, its
 * retry landed and later writes followed, and then the first request lands. It must fail its condition rather than
 * put an older body back. A wrapper captures one put and sends it again later, as that late request. Also: a write
 * whose answer was lost and which lands before the next one is taken as ours, not as another run's `.log`. On every
 * backend; `.log` both appended to and (with `append` hidden) rewritten whole.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { AppendOptions, ObjectInfo, StorageBackend, WriteOptions } from "../../src/backends/backend.ts";
import { TransientError } from "../../src/errors.ts";
import { LogObjectWriter } from "../../src/logs/log-object.ts";
import { type RunRecord, RunRecordWriter } from "../../src/logs/run-record.ts";
import { logBackendFactories } from "./backends.ts";
import { readText, runningRecord, warningsDuring } from "./helpers.ts";

const LOG = "late/v0/late.log";
const HISTORY = "late/v0/late.history.log";
const RECORD = "late/.opencrate/run-records/0000000000/1-1-a.json";
const NEVER = 3_600_000;

/**
 * How the next put (or append) of a key goes: "retried" writes it (the retry that landed) and keeps a copy to send
 * later; "lost" writes nothing now, fails as a time-out does, and keeps the write to send later.
 */
type Hold = "retried" | "lost";

interface Holding {
  readonly backend: StorageBackend;
  /** The next put or append of `key` is held as `how` says. */
  hold(key: string, how: Hold): void;
  /** Sends the held write now: "landed", or the code it failed with. */
  land(): Promise<string>;
}

function holding(inner: StorageBackend, hideAppend: boolean): Holding {
  let armed: { key: string; how: Hold } | undefined;
  let held: (() => Promise<ObjectInfo>) | undefined;
  const write = async (key: string, send: () => Promise<ObjectInfo>): Promise<ObjectInfo> => {
    if (armed?.key !== key) return send();
    const { how } = armed;
    armed = undefined;
    held = send;
    if (how === "retried") return send();
    throw new TransientError(`no answer for ${key}`, { path: key });
  };
  const backend = new Proxy(inner, {
    get(target, property) {
      if (property === "append") {
        if (hideAppend || target.append === undefined) return undefined;
        const append = target.append.bind(target);
        return (key: string, bytes: Uint8Array, options?: AppendOptions) => write(key, () => append(key, bytes, options));
      }
      if (property === "put") {
        return (key: string, body: Uint8Array | string, options?: WriteOptions) => write(key, () => target.put(key, body, options));
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return {
    backend,
    hold(key, how) {
      armed = { key, how };
    },
    async land() {
      const send = held;
      held = undefined;
      assert.ok(send !== undefined, "a put was held");
      try {
        await send();
        return "landed";
      } catch (error) {
        return (error as { code?: string }).code ?? String(error);
      }
    },
  };
}

function logWriter(backend: StorageBackend, resume: boolean): LogObjectWriter {
  return new LogObjectWriter({ backend, logKey: LOG, historyKey: HISTORY, resume, flushIntervalMs: NEVER });
}

function lines(prefix: string): string[] {
  return [0, 1, 2, 3, 4].map((i) => `${prefix} ${i}`);
}

const REFUSED = ["ALREADY_EXISTS", "PRECONDITION_FAILED"];

const record = runningRecord("late.log");

for (const factory of logBackendFactories()) {
  describe(`late writes on ${factory.label}`, { skip: factory.skip }, () => {
    after(() => factory.cleanup());

    for (const rewritten of [false, true]) {
      const shape = rewritten ? "rewritten whole" : "appended to";
      for (const resume of [false, true]) {
        it(`.log ${shape}: the empty .log of a ${resume ? "resumed" : "new"} run, landing after the first flush, changes nothing`, async () => {
          const held = holding(await factory.make(), rewritten);
          if (resume) await held.backend.put(LOG, "previous run\n");
          const writer = logWriter(held.backend, resume);
          const warnings = await warningsDuring(async () => {
            held.hold(LOG, "retried");
            await writer.start();
            for (const line of lines("a")) writer.write(line);
            await writer.flush();
            assert.ok(REFUSED.includes(await held.land()), "the late empty .log is refused");
            for (const line of lines("b")) writer.write(line);
            await writer.close();
          });
          assert.deepEqual(warnings, []);
          assert.equal(await readText(held.backend, LOG), [...lines("a"), ...lines("b")].map((line) => `${line}\n`).join(""));
        });
      }

      it(`.log ${shape}: a flush's write landing after later flushes changes nothing`, async () => {
        const held = holding(await factory.make(), rewritten);
        const writer = logWriter(held.backend, false);
        const warnings = await warningsDuring(async () => {
          await writer.start();
          for (const line of lines("a")) writer.write(line);
          await writer.flush();
          for (const line of lines("b")) writer.write(line);
          held.hold(LOG, "retried");
          await writer.flush();
          for (const line of lines("c")) writer.write(line);
          await writer.close();
          assert.ok(REFUSED.includes(await held.land()), "the late write is refused");
        });
        assert.deepEqual(warnings, []);
        assert.equal(await readText(held.backend, LOG), [...lines("a"), ...lines("b"), ...lines("c")].map((line) => `${line}\n`).join(""));
      });
    }

    it(".log rewritten whole: a write whose answer was lost and that lands before the next one is ours, not another run's", async () => {
      const held = holding(await factory.make(), true);
      const writer = logWriter(held.backend, false);
      const warnings = await warningsDuring(async () => {
        await writer.start();
        for (const line of lines("a")) writer.write(line);
        held.hold(LOG, "lost");
        await assert.rejects(writer.flush(), { code: "TRANSIENT" });
        assert.equal(await held.land(), "landed");
        for (const line of lines("b")) writer.write(line);
        await writer.close();
      });
      assert.deepEqual(warnings, []);
      assert.equal(await readText(held.backend, LOG), [...lines("a"), ...lines("b")].map((line) => `${line}\n`).join(""));
    });

    it(".log rewritten whole: a write whose answer was lost and that lands after the next one changes nothing", async () => {
      const held = holding(await factory.make(), true);
      const writer = logWriter(held.backend, false);
      const warnings = await warningsDuring(async () => {
        await writer.start();
        for (const line of lines("a")) writer.write(line);
        await writer.flush();
        for (const line of lines("b")) writer.write(line);
        held.hold(LOG, "lost");
        await assert.rejects(writer.flush(), { code: "TRANSIENT" });
        for (const line of lines("c")) writer.write(line);
        await writer.flush();
        assert.ok(REFUSED.includes(await held.land()), "the late write is refused");
        await writer.close();
      });
      assert.deepEqual(warnings, []);
      assert.equal(await readText(held.backend, LOG), [...lines("a"), ...lines("b"), ...lines("c")].map((line) => `${line}\n`).join(""));
    });

    it(".log rewritten whole: a run whose .log another run replaced stops writing it", async () => {
      const backend = holding(await factory.make(), true).backend;
      const first = logWriter(backend, false);
      const second = logWriter(backend, false);
      const warnings = await warningsDuring(async () => {
        await first.start();
        first.write("first a");
        await first.flush();
        await second.start();
        second.write("second a");
        await second.flush();
        first.write("first b");
        await first.flush();
        await first.close();
        await second.close();
      });
      assert.deepEqual(warnings, ["OPENCRATE_LOG_REPLACED"]);
      assert.equal(await readText(backend, LOG), "second a\n");
    });

    it("the run record: a `running` write landing after the final record changes nothing", async () => {
      const held = holding(await factory.make(), false);
      const writer = new RunRecordWriter(held.backend, RECORD, record);
      held.hold(RECORD, "retried");
      await writer.start();
      await writer.touch(true);
      await writer.end({ status: "finished", exitCode: 0, signal: null });
      assert.ok(REFUSED.includes(await held.land()), "the late record is refused");
      const stored = JSON.parse(await readText(held.backend, RECORD)) as RunRecord;
      assert.equal(stored.status, "finished");
    });

    it("the run record: a write whose answer was lost and that landed is written over by the next one", async () => {
      const held = holding(await factory.make(), false);
      const writer = new RunRecordWriter(held.backend, RECORD, record);
      await writer.start();
      held.hold(RECORD, "lost");
      await writer.touch(true);
      assert.equal(await held.land(), "landed");
      await writer.end({ status: "failed", exitCode: 3, signal: null });
      const stored = JSON.parse(await readText(held.backend, RECORD)) as RunRecord;
      assert.equal(stored.status, "failed");
      assert.equal(stored.exitCode, 3);
    });

    it("the run record: a write after a hand-off, with the first writer's write still on its way, stays the newest", async () => {
      const held = holding(await factory.make(), false);
      const first = new RunRecordWriter(held.backend, RECORD, record);
      held.hold(RECORD, "lost");
      await first.start().catch(() => {});
      const second = new RunRecordWriter(held.backend, RECORD, record);
      second.adopt(first.handOff());
      await second.end({ status: "finished", exitCode: 0, signal: null });
      assert.ok(REFUSED.includes(await held.land()), "the first writer's late record is refused");
      const stored = JSON.parse(await readText(held.backend, RECORD)) as RunRecord;
      assert.equal(stored.status, "finished");
    });
  });
}
