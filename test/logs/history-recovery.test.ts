import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { ReadOptions, StorageBackend } from "../../src/backends/backend.ts";
import { RetryPolicy } from "../../src/backends/retry-policy.ts";
import { isOpenCrateError } from "../../src/errors.ts";
import { heldPrefix } from "../../src/logs/history-recovery.ts";
import { LogObjectWriter } from "../../src/logs/log-object.ts";
import { logBackendFactories } from "./backends.ts";
import { readText, warningsDuring, withFaultyPuts } from "./helpers.ts";

const LOG = "demo/v0/demo.log";
const HISTORY = "demo/v0/demo.history.log";
const NEVER = 3_600_000;
const RECOVERED = "OPENCRATE_LOG_RECOVERED";

/** One resumed run: start, write `lines`, close. */
async function resume(backend: StorageBackend, lines: readonly string[]): Promise<void> {
  const writer = new LogObjectWriter({ backend, logKey: LOG, historyKey: HISTORY, resume: true, flushIntervalMs: NEVER });
  await writer.start();
  for (const line of lines) writer.write(line);
  await writer.close();
}

/** A first run of the version (no history): `.log` holds `lines`. */
async function firstRun(backend: StorageBackend, lines: readonly string[]): Promise<void> {
  const writer = new LogObjectWriter({ backend, logKey: LOG, historyKey: HISTORY, resume: false, flushIntervalMs: NEVER });
  await writer.start();
  for (const line of lines) writer.write(line);
  await writer.close();
}

const bytes = (text: string): Uint8Array => Buffer.from(text, "utf8");

describe("heldPrefix", () => {
  it("finds .log whole at the end, inside the end, or not at all", () => {
    assert.equal(heldPrefix(bytes("x\na\nb\n"), true, bytes("a\nb\n")), 4);
    assert.equal(heldPrefix(bytes("x\na\nb\nc\nd"), true, bytes("a\nb\n")), 4, "followed by lines .log has not got yet");
    assert.equal(heldPrefix(bytes("x\nya\nb\n"), true, bytes("a\nb\n")), 0, "only where a line starts");
    assert.equal(heldPrefix(bytes("a\nb\n"), false, bytes("a\nb\n")), 0, "the window starts inside a line");
    assert.equal(heldPrefix(bytes("other\n"), true, bytes("a\n")), 0);
    assert.equal(heldPrefix(bytes(""), true, bytes("a\n")), 0);
    assert.equal(heldPrefix(bytes("x\n"), true, bytes("")), 0);
  });

  it("finds the longest end of the history that starts .log", () => {
    assert.equal(heldPrefix(bytes("x\na\nb\n"), true, bytes("a\nb\nc\n")), 4);
    assert.equal(heldPrefix(bytes("a\na\n"), true, bytes("a\na\na\n")), 4, "the longest, not the first");
    assert.equal(heldPrefix(bytes("x\na\nb"), true, bytes("a\nb\nc\n")), 3, "ending inside a line of .log");
    assert.equal(heldPrefix(bytes("x\nb\n"), true, bytes("a\nb\n")), 0, "an end of .log is not a start of it");
  });

  it("finds .log in pieces that another run's lines come between", () => {
    assert.equal(heldPrefix(bytes("r\nA1\nB1\nA2\nB2\n"), true, bytes("B1\nB2\n")), 6);
    assert.equal(heldPrefix(bytes("r\nB1\nB2\nA1\nB3\nA2\n"), true, bytes("B1\nB2\nB3\n")), 9, "pieces of several lines");
    assert.equal(heldPrefix(bytes("r\nA1\nB1\nA2\n"), true, bytes("B1\nB2\n")), 3, "the missing end of .log");
    assert.equal(heldPrefix(bytes("r\nB2\nA1\nB1\n"), true, bytes("B1\nB2\n")), 3, "in the order of .log");
    assert.equal(heldPrefix(bytes("r\nB1\nxB2\n"), true, bytes("B1\nB2\n")), 3, "each piece starting a line");
    assert.equal(heldPrefix(bytes("r\nB1\nA1\nB"), true, bytes("B1\nB2\n")), 4, "the last piece cut short at the end");
    assert.equal(heldPrefix(bytes("r\nB1\nB\nA1\n"), true, bytes("B1\nB2\n")), 3, "cut short only at the end");
  });
});

for (const factory of logBackendFactories()) {
  describe(`a resumed run keeps every line of the previous .log on ${factory.label}`, { skip: factory.skip }, () => {
    after(() => factory.cleanup());

    it("appends the previous .log to a history that lacks it, then this run's lines", async () => {
      const backend = await factory.make();
      await firstRun(backend, ["run1 a", "run1 b"]);
      await backend.put(HISTORY, "written by another tool\n");
      const warnings = await warningsDuring(() => resume(backend, ["run2"]));
      assert.deepEqual(warnings, [RECOVERED]);
      assert.equal(await readText(backend, HISTORY), "written by another tool\nrun1 a\nrun1 b\nrun2\n");
      assert.equal(await readText(backend, LOG), "run2\n");
    });

    it("ends an unfinished last line of the history before the recovered lines", async () => {
      const backend = await factory.make();
      await firstRun(backend, ["run1"]);
      await backend.put(HISTORY, "no newline at the end");
      await warningsDuring(() => resume(backend, ["run2"]));
      assert.equal(await readText(backend, HISTORY), "no newline at the end\nrun1\nrun2\n");
    });

    it("appends nothing when the history ends with the previous .log", async () => {
      const backend = await factory.make();
      await firstRun(backend, ["run1 a", "run1 b"]);
      await backend.put(HISTORY, "older\nrun1 a\nrun1 b\n");
      const warnings = await warningsDuring(() => resume(backend, ["run2"]));
      assert.deepEqual(warnings, []);
      assert.equal(await readText(backend, HISTORY), "older\nrun1 a\nrun1 b\nrun2\n");
    });

    it("appends nothing when the history holds the previous .log and lines after it", async () => {
      // A run still writing appends to the history before `.log`; a crash on local disk can leave part of a batch
      // at the end of the history.
      const backend = await factory.make();
      await firstRun(backend, ["run1 a", "run1 b"]);
      await backend.put(HISTORY, "older\nrun1 a\nrun1 b\nrun1 c\nrun1 d (cut sho");
      const warnings = await warningsDuring(() => resume(backend, ["run2"]));
      assert.deepEqual(warnings, []);
      // The cut line keeps its bytes and is ended, so this run's first line starts a line of its own.
      assert.equal(await readText(backend, HISTORY), "older\nrun1 a\nrun1 b\nrun1 c\nrun1 d (cut sho\nrun2\n");
    });

    it("ends a cut last line of the history when the previous .log is empty", async () => {
      const backend = await factory.make();
      await firstRun(backend, []);
      await backend.put(HISTORY, "older\nrun1 a (cut sho");
      assert.deepEqual(await warningsDuring(() => resume(backend, ["run2"])), []);
      assert.equal(await readText(backend, HISTORY), "older\nrun1 a (cut sho\nrun2\n");
    });

    it("ends the recovered lines when the previous .log was cut inside a line", async () => {
      const backend = await factory.make();
      await firstRun(backend, ["run1 a"]);
      await backend.put(LOG, "run1 a\nrun1 b (cut sho");
      await backend.put(HISTORY, "older\nrun1 a\n");
      assert.deepEqual(await warningsDuring(() => resume(backend, ["run2"])), [RECOVERED]);
      assert.equal(await readText(backend, HISTORY), "older\nrun1 a\nrun1 b (cut sho\nrun2\n");
    });

    it("ends the last line of a history seeded from a .log cut inside a line", async () => {
      const backend = await factory.make();
      await firstRun(backend, ["run1 a"]);
      await backend.put(LOG, "run1 a\nrun1 b (cut sho");
      await warningsDuring(() => resume(backend, ["run2"]));
      assert.equal(await readText(backend, HISTORY), "run1 a\nrun1 b (cut sho\nrun2\n");
    });

    it("appends only the lines the history lacks when it holds the first lines of the previous .log", async () => {
      const backend = await factory.make();
      await firstRun(backend, ["run1 a", "run1 b", "run1 c"]);
      await backend.put(HISTORY, "older\nrun1 a\n");
      const warnings = await warningsDuring(() => resume(backend, ["run2"]));
      assert.deepEqual(warnings, [RECOVERED]);
      assert.equal(await readText(backend, HISTORY), "older\nrun1 a\nrun1 b\nrun1 c\nrun2\n");
    });

    it("keeps the lines of a run whose history append failed and that died before the next flush", async () => {
      const inner = await factory.make();
      await firstRun(inner, ["run1"]);
      let failHistory = false;
      const backend = withFaultyPuts(inner, (key) => (failHistory && key === HISTORY ? "fail-before" : undefined));
      const dying = new LogObjectWriter({
        backend,
        logKey: LOG,
        historyKey: HISTORY,
        resume: true,
        flushIntervalMs: NEVER,
        appendRetry: new RetryPolicy({ conflictAttempts: 2, attempts: 2, baseDelayMs: 1, maxDelayMs: 2 }),
      });
      await dying.start();
      dying.write("run2 a");
      await dying.flush();
      dying.write("run2 b");
      failHistory = true;
      await assert.rejects(dying.flush(), (error: unknown) => isOpenCrateError(error, "TRANSIENT"));
      assert.equal(await readText(inner, LOG), "run2 a\nrun2 b\n", ".log shows the line the history has not got");
      // The process dies here: `dying` is never flushed or closed again.
      const warnings = await warningsDuring(() => resume(inner, ["run3"]));
      assert.deepEqual(warnings, [RECOVERED]);
      assert.equal(await readText(inner, HISTORY), "run1\nrun2 a\nrun2 b\nrun3\n");
      assert.equal(await readText(inner, LOG), "run3\n");
    });

    it("recovers the lines once when two runs resume at once", async () => {
      const backend = await factory.make();
      await firstRun(backend, ["run1 a", "run1 b"]);
      await backend.put(HISTORY, "older\n");
      await warningsDuring(async () => {
        await Promise.all([resume(backend, []), resume(backend, [])]);
      });
      assert.equal(await readText(backend, HISTORY), "older\nrun1 a\nrun1 b\n");
    });

    it("appends nothing after two runs resumed at once and wrote in turn", async () => {
      // The second to start takes `.log` over; the first one's later lines go only to the history, between the
      // batches of the run that owns `.log`.
      const backend = await factory.make();
      await firstRun(backend, ["run1"]);
      const open = (): LogObjectWriter =>
        new LogObjectWriter({ backend, logKey: LOG, historyKey: HISTORY, resume: true, flushIntervalMs: NEVER });
      const first = open();
      const second = open();
      const warnings = await warningsDuring(async () => {
        await first.start();
        first.write("A1");
        await first.flush();
        await second.start();
        second.write("B1");
        await second.flush();
        first.write("A2");
        await first.flush();
        second.write("B2 a");
        second.write("B2 b");
        await second.flush();
        first.write("A3");
        await first.close();
        second.write("B3");
        await second.close();
      });
      assert.deepEqual(warnings, ["OPENCRATE_LOG_REPLACED"]);
      assert.equal(await readText(backend, HISTORY), "run1\nA1\nB1\nA2\nB2 a\nB2 b\nA3\nB3\n");
      assert.equal(await readText(backend, LOG), "B1\nB2 a\nB2 b\nB3\n");
      assert.deepEqual(await warningsDuring(() => resume(backend, ["run3"])), []);
      assert.equal(await readText(backend, HISTORY), "run1\nA1\nB1\nA2\nB2 a\nB2 b\nA3\nB3\nrun3\n");
    });

    it("appends only the lines the history lacks when another run's lines come between those it holds", async () => {
      const backend = await factory.make();
      await firstRun(backend, ["B1", "B2", "B3"]);
      await backend.put(HISTORY, "run0\nB1\nA1\nB2\nA2\n");
      assert.deepEqual(await warningsDuring(() => resume(backend, ["run2"])), [RECOVERED]);
      assert.equal(await readText(backend, HISTORY), "run0\nB1\nA1\nB2\nA2\nB3\nrun2\n");
    });

    it("ends another run's unfinished last line before the lines the history lacks", async () => {
      const backend = await factory.make();
      await firstRun(backend, ["B1", "B2"]);
      await backend.put(HISTORY, "run0\nB1\nA1 (cut sho");
      assert.deepEqual(await warningsDuring(() => resume(backend, ["run2"])), [RECOVERED]);
      assert.equal(await readText(backend, HISTORY), "run0\nB1\nA1 (cut sho\nB2\nrun2\n");
    });

    it("reads only the end of a long history", async () => {
      const inner = await factory.make();
      await firstRun(inner, ["run1 a", "run1 b"]);
      const older = "x".repeat(99) + "\n";
      await inner.put(HISTORY, older.repeat(4_000) + "run1 a\n");
      const reads: Array<{ key: string; options: ReadOptions | undefined }> = [];
      const backend = new Proxy(inner, {
        get(target, property) {
          if (property === "get") {
            return (key: string, options?: ReadOptions): Promise<Uint8Array> => {
              reads.push({ key, options });
              return target.get(key, options);
            };
          }
          const value: unknown = Reflect.get(target, property, target);
          return typeof value === "function" ? value.bind(target) : value;
        },
      });
      const writer = new LogObjectWriter({ backend, logKey: LOG, historyKey: HISTORY, resume: true, flushIntervalMs: NEVER });
      await warningsDuring(() => writer.start());
      const historyReads = reads.filter((read) => read.key === HISTORY);
      assert.equal(historyReads.length, 1);
      if (inner.append !== undefined) {
        // Where the store cannot append (GCS), every history append reads the whole object anyway.
        const range = historyReads[0]?.options?.range;
        assert.ok(range !== undefined && "length" in range && range.length !== undefined && range.length <= 2 * 14 + 64 * 1024 + 1, JSON.stringify(range));
      }
      writer.write("run2");
      await writer.close();
      const history = await readText(inner, HISTORY);
      assert.ok(history.endsWith(`${older}run1 a\nrun1 b\nrun2\n`));
      assert.equal(history.length, 400_000 + "run1 a\nrun1 a\nrun1 b\nrun2\n".length - "run1 a\n".length);
    });
  });
}
