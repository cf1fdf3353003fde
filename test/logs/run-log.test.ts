/**
 * `.log` on a backend with `append` (run-log.ts): only new lines are appended, a lost answer is not mistaken for
 * another run, and a run whose `.log` another run replaced stops writing it instead of mixing the two.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { utimes } from "node:fs/promises";
import { join } from "node:path";
import type { AppendOptions, ObjectInfo, StorageBackend } from "../../src/backends/backend.ts";
import { LocalBackend } from "../../src/backends/local/index.ts";
import { TransientError } from "../../src/errors.ts";
import { LogObjectWriter } from "../../src/logs/log-object.ts";
import { localFactory } from "../support/backends.ts";
import { logBackendFactories } from "./backends.ts";
import { readText, warningsDuring, withFaultyPuts } from "./helpers.ts";

const LOG = "runs/v0/runs.log";
const HISTORY = "runs/v0/runs.history.log";
const NEVER = 3_600_000;

function writer(backend: StorageBackend, resume: boolean): LogObjectWriter {
  return new LogObjectWriter({ backend, logKey: LOG, historyKey: HISTORY, resume, flushIntervalMs: NEVER });
}

/** Backends with `append`; GCS has none, and its whole-object rewrite of .log is what log-object.test.ts covers. */
const appendingFactories = (): ReturnType<typeof logBackendFactories> =>
  logBackendFactories().filter((factory) => !factory.label.startsWith("gcs"));

for (const factory of appendingFactories()) {
  describe(`.log appends on ${factory.label}`, { skip: factory.skip }, () => {
    after(() => factory.cleanup());

    it("a run whose .log another resumed run replaced stops writing it; its lines still reach the history", async () => {
      const backend = await factory.make();
      assert.ok(backend.append !== undefined, `${factory.label} has append`);
      await backend.put(LOG, "run0\n");
      const first = writer(backend, true);
      const second = writer(backend, true);
      const warnings = await warningsDuring(async () => {
        await first.start();
        first.write("first a");
        await first.flush();
        await second.start();
        second.write("second a");
        first.write("first b");
        await first.flush();
        await second.flush();
        first.write("first c");
        await Promise.all([first.close(), second.close()]);
      });
      assert.equal(await readText(backend, LOG), "second a\n", ".log is the last run to start, never a mix");
      assert.deepEqual(warnings, ["OPENCRATE_LOG_REPLACED"]);
      const history = (await readText(backend, HISTORY)).split("\n").filter(Boolean);
      assert.deepEqual([...history].sort(), ["first a", "first b", "first c", "run0", "second a"]);
    });
  });
}

describe(".log appends whose answer was lost", () => {
  const factories = appendingFactories();
  after(() => Promise.all(factories.map((factory) => factory.cleanup())));

  // Stores that keep user metadata: the batch ids there tell our landed append from another run's object.
  for (const factory of factories.filter((candidate) => candidate.label !== "local")) {
    it(`stores each line once and keeps .log (${factory.label})`, { skip: factory.skip }, async () => {
      const inner = await factory.make();
      assert.ok(inner.append !== undefined, `${factory.label} has append`);
      let loseAnswers = 0;
      const backend = withFaultyPuts(inner, (key, _mode, operation) =>
        key === LOG && operation === "append" && loseAnswers-- > 0 ? "fail-after" : undefined,
      );
      const run = writer(backend, false);
      const warnings = await warningsDuring(async () => {
        await run.start();
        run.write("a");
        loseAnswers = 1;
        await assert.rejects(run.flush());
        run.write("b");
        await run.flush();
        run.write("c");
        await run.close();
      });
      assert.equal(await readText(inner, LOG), "a\nb\nc\n");
      assert.deepEqual(warnings, []);
    });
  }
});

describe(".log appends on local disk after a failed append", () => {
  const local = localFactory();
  after(() => local.cleanup());

  it("an append cut back by the backend (same size, new revision) is retried, not taken for another run", async () => {
    const inner = await local.make();
    assert.ok(inner instanceof LocalBackend);
    let failNext = 0;
    const backend = new Proxy(inner, {
      get(target, property) {
        if (property === "append") {
          return async (key: string, bytes: Uint8Array, options?: AppendOptions): Promise<ObjectInfo> => {
            if (key === LOG && failNext-- > 0) {
              // What a write failing half-way leaves: the old bytes, a new modification time.
              const later = new Date(Date.now() + 5_000);
              await utimes(join(target.rootPath, ...key.split("/")), later, later);
              throw new TransientError(`injected failed append to ${key}`, { path: key });
            }
            return target.append(key, bytes, options);
          };
        }
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const run = writer(backend, false);
    const warnings = await warningsDuring(async () => {
      await run.start();
      run.write("a");
      await run.flush();
      run.write("b");
      failNext = 1;
      await assert.rejects(run.flush());
      run.write("c");
      await run.close();
    });
    assert.equal(await readText(inner, LOG), "a\nb\nc\n");
    assert.deepEqual(warnings, []);
  });
});
