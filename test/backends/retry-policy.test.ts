/**
 * The retry policy on its own (schedule, cap, jitter, which calls go again, conflicts), how the backends derive
 * their SDK settings from it, and the loops above the backends (version claims, log appends) following the policy
 * their backend lends them. Every wait goes through an injected sleeper: nothing here waits on the clock.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { StorageBackend } from "../../src/backends/backend.ts";
import { sdkRetryOptions } from "../../src/backends/gcs/client.ts";
import { resolveGcsSettings } from "../../src/backends/gcs/options.ts";
import { checkedBackend } from "../../src/backends/layers/checked.ts";
import { PrefixedBackend } from "../../src/backends/layers/prefixed.ts";
import { LocalBackend } from "../../src/backends/local/index.ts";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { RetryPolicy, retryPolicyOf, type FailureKind, type RetryOptions } from "../../src/backends/retry-policy.ts";
import { clientConfig, resolveS3Settings } from "../../src/backends/s3/options.ts";
import { isOpenCrateError, TransientError } from "../../src/errors.ts";
import { appendBatches } from "../../src/logs/history-append.ts";
import { VersionStore } from "../../src/snapshot/versions.ts";

/** A sleeper that records each wait and returns at once. */
function recordingSleeper(): { readonly waits: number[]; readonly sleep: (ms: number) => Promise<void> } {
  const waits: number[] = [];
  return { waits, sleep: async (ms) => void waits.push(ms) };
}

/** Runs `policy.run` on a call that fails with `failure` every time; returns the tries it made. */
async function triesUntilGivenUp(policy: RetryPolicy, kind: Parameters<RetryPolicy["run"]>[0], failure: FailureKind): Promise<number> {
  let tries = 0;
  const refusal = new Error("refused");
  await assert.rejects(
    policy.run(kind, async () => {
      tries += 1;
      throw refusal;
    }, () => failure),
    (error: unknown) => error === refusal,
  );
  return tries;
}

describe("RetryPolicy", () => {
  it("doubles the wait from the base per retry and stops at the cap", () => {
    const policy = new RetryPolicy({ baseDelayMs: 100, maxDelayMs: 1_000, jitter: "none" });
    assert.deepEqual([1, 2, 3, 4, 5, 6, 60].map((retry) => policy.delayMs(retry)), [100, 200, 400, 800, 1_000, 1_000, 1_000]);
  });

  it("keeps jittered waits within their bounds", () => {
    for (const draw of [0, 0.25, 0.999_999]) {
      const full = new RetryPolicy({ baseDelayMs: 100, maxDelayMs: 250, jitter: "full", random: () => draw });
      const equal = new RetryPolicy({ baseDelayMs: 100, maxDelayMs: 250, jitter: "equal", random: () => draw });
      for (const [retry, ceiling] of [[1, 100], [2, 200], [3, 250], [9, 250]] as const) {
        assert.equal(full.delayMs(retry), draw * ceiling);
        assert.ok(full.delayMs(retry) >= 0 && full.delayMs(retry) < ceiling);
        assert.ok(equal.delayMs(retry) >= ceiling / 2 && equal.delayMs(retry) < ceiling, `equal jitter ${equal.delayMs(retry)}`);
      }
    }
    const sampled = new RetryPolicy({ baseDelayMs: 40, maxDelayMs: 40 });
    for (let i = 0; i < 200; i++) {
      const delay = sampled.delayMs(3);
      assert.ok(delay >= 0 && delay < 40, String(delay));
    }
  });

  it("tries a call `attempts` times in all, waiting the schedule between tries through the injected sleeper", async () => {
    const { waits, sleep } = recordingSleeper();
    const policy = new RetryPolicy({ attempts: 4, baseDelayMs: 10, maxDelayMs: 25, jitter: "none", sleep });
    assert.equal(await triesUntilGivenUp(policy, "read", "transient"), 4);
    assert.deepEqual(waits, [10, 20, 25]);
    let tries = 0;
    const value = await policy.run("read", async () => {
      if (++tries < 3) throw new Error("busy");
      return "ok";
    }, () => "transient");
    assert.equal(value, "ok");
    assert.equal(tries, 3);
  });

  it("sends a call whose outcome is unknown again only when its kind is idempotent", async () => {
    const policy = new RetryPolicy({ attempts: 3, sleep: recordingSleeper().sleep });
    assert.equal(await triesUntilGivenUp(policy, "conditional", "unknown"), 1);
    assert.equal(await triesUntilGivenUp(policy, "conditional", "transient"), 3, "refused before anything was applied: safe");
    for (const kind of ["read", "list", "delete", "overwrite"] as const) assert.equal(await triesUntilGivenUp(policy, kind, "unknown"), 3);
    const readsOnly = new RetryPolicy({ attempts: 3, idempotent: ["read"], sleep: recordingSleeper().sleep });
    assert.equal(await triesUntilGivenUp(readsOnly, "overwrite", "unknown"), 1);
    assert.equal(await triesUntilGivenUp(readsOnly, "read", "unknown"), 3);
    assert.equal(await triesUntilGivenUp(policy, "read", "final"), 1);
  });

  it("counts conflicts apart from failures, up to conflictAttempts; 1 means a conflict is final", async () => {
    const policy = new RetryPolicy({ attempts: 2, conflictAttempts: 5, sleep: recordingSleeper().sleep });
    assert.equal(await triesUntilGivenUp(policy, "conditional", "conflict"), 5);
    const never = new RetryPolicy({ conflictAttempts: 1, sleep: recordingSleeper().sleep });
    assert.equal(await triesUntilGivenUp(never, "conditional", "conflict"), 1);
    // Two conflicts and one transient failure, then success: neither budget (5 and 2) is spent.
    const outcomes: FailureKind[] = ["conflict", "transient", "conflict"];
    let tries = 0;
    const result = await policy.run("conditional", async () => {
      if (tries < outcomes.length) throw Object.assign(new Error("x"), { kind: outcomes[tries++] });
      return "written";
    }, (error) => (error as { kind: FailureKind }).kind);
    assert.equal(result, "written");
  });

  it("stops at once when the signal aborts, even mid-wait", async () => {
    const controller = new AbortController();
    const policy = new RetryPolicy({ attempts: 10, sleep: async () => controller.abort(new Error("stop")) });
    let tries = 0;
    await assert.rejects(policy.run("read", async () => {
      tries += 1;
      throw new Error("busy");
    }, () => "transient", controller.signal));
    assert.equal(tries, 1);
    await assert.rejects(new RetryPolicy().wait(1, controller.signal), /stop/);
  });

  it("refuses bad options with INVALID_ARGUMENT naming the option", () => {
    const bad: [RetryOptions, string][] = [
      [{ attempts: 0 }, "attempts"],
      [{ attempts: 1.5 }, "attempts"],
      [{ baseDelayMs: -1 }, "baseDelayMs"],
      [{ baseDelayMs: 100, maxDelayMs: 50 }, "maxDelayMs"],
      [{ jitter: "some" as "full" }, "jitter"],
      [{ idempotent: ["write" as "read"] }, "idempotent"],
      [{ idempotent: "read" as unknown as [] }, "idempotent"],
      [{ conflictAttempts: 0 }, "conflictAttempts"],
      [{ sleep: 5 as unknown as () => Promise<void> }, "sleep"],
    ];
    for (const [options, name] of bad) {
      assert.throws(() => new RetryPolicy(options), (error: unknown) => isOpenCrateError(error, "INVALID_ARGUMENT") && error.message.includes(name));
    }
    assert.throws(() => new RetryPolicy(null as unknown as RetryOptions), (error: unknown) => isOpenCrateError(error, "INVALID_ARGUMENT"));
  });

  it("gives plain options that rebuild an equal policy (for the log writer's thread)", () => {
    const policy = new RetryPolicy({ attempts: 7, baseDelayMs: 3, maxDelayMs: 9, jitter: "equal", idempotent: ["read"], conflictAttempts: 4, sleep: async () => {} });
    const options = structuredClone(policy.options);
    assert.deepEqual(new RetryPolicy(options).options, policy.options);
    assert.equal("sleep" in options, false);
  });
});

describe("backends take the policy from their options", () => {
  it("S3: attempts from retry (or the maxAttempts shorthand), and the SDK's retries follow the policy", async () => {
    assert.equal(resolveS3Settings({ bucket: "bkt" }).retry.attempts, 3);
    assert.equal(resolveS3Settings({ bucket: "bkt", maxAttempts: 5 }).retry.attempts, 5);
    assert.equal(resolveS3Settings({ bucket: "bkt", maxAttempts: 5, retry: { attempts: 2 } }).retry.attempts, 2);
    assert.throws(() => resolveS3Settings({ bucket: "bkt", retry: { attempts: 0 } }), (error: unknown) => isOpenCrateError(error, "INVALID_ARGUMENT"));

    const settings = resolveS3Settings({ bucket: "bkt", retry: { attempts: 3, baseDelayMs: 30, maxDelayMs: 50, jitter: "none" } });
    const strategy = clientConfig(settings, undefined, "us-east-1").retryStrategy;
    assert.ok(strategy !== undefined && "refreshRetryTokenForRetry" in strategy);
    const busy = { errorType: "TRANSIENT" as const, error: Object.assign(new Error("503"), { cause: undefined }) };
    const first = await strategy.acquireInitialRetryToken("s3");
    const second = await strategy.refreshRetryTokenForRetry(first, busy);
    assert.deepEqual([second.getRetryCount(), second.getRetryDelay()], [1, 30]);
    const third = await strategy.refreshRetryTokenForRetry(second, { ...busy, errorType: "THROTTLING" });
    assert.deepEqual([third.getRetryCount(), third.getRetryDelay()], [2, 50]);
    await assert.rejects(strategy.refreshRetryTokenForRetry(third, busy), /503/, "the third attempt was the last");
    await assert.rejects(strategy.refreshRetryTokenForRetry(first, { errorType: "CLIENT_ERROR", error: Object.assign(new Error("403"), { cause: undefined }) }), /403/);
    // A 5xx or reset may have been applied: sent again only while "overwrite" counts as idempotent; throttling always.
    const readsOnly = clientConfig(resolveS3Settings({ bucket: "bkt", retry: { idempotent: ["read"] } }), undefined, "us-east-1").retryStrategy;
    assert.ok(readsOnly !== undefined && "refreshRetryTokenForRetry" in readsOnly);
    await assert.rejects(readsOnly.refreshRetryTokenForRetry(first, busy), /503/);
    assert.equal((await readsOnly.refreshRetryTokenForRetry(first, { ...busy, errorType: "THROTTLING" })).getRetryCount(), 1);
  });

  it("GCS: attempts from retry (or maxRetries + 1), and the SDK's retry count follows them", () => {
    assert.equal(resolveGcsSettings({ bucket: "bkt" }, {}).retry.attempts, 4);
    assert.equal(resolveGcsSettings({ bucket: "bkt", maxRetries: 0 }, {}).retry.attempts, 1);
    const settings = resolveGcsSettings({ bucket: "bkt", maxRetries: 5, retry: { attempts: 2 } }, {});
    assert.equal(settings.retry.attempts, 2);
    assert.equal(settings.maxRetries, 1);
  });

  it("GCS: the SDK's own retry settings come from the policy", async () => {
    const sdk = await import("@google-cloud/storage");
    const derived = sdkRetryOptions(resolveGcsSettings({ bucket: "bkt", retry: { attempts: 3, maxDelayMs: 2_500 } }, {}).retry, sdk);
    assert.deepEqual([derived.autoRetry, derived.maxRetries, derived.retryDelayMultiplier, derived.maxRetryDelay], [true, 2, 2, 2.5]);
    const once = sdkRetryOptions(resolveGcsSettings({ bucket: "bkt", retry: { attempts: 1 } }, {}).retry, sdk);
    assert.equal(once.autoRetry, false, "one attempt: the SDK sends nothing again");
    const stalled = { name: "Error", message: "stalled", errors: [{ reason: "ETIMEDOUT" }] };
    assert.equal(derived.retryableErrorFn?.(stalled), true, "socket time-outs are retried");
  });

  it("local, memory and the layers in front of them lend their policy to the loops above", () => {
    const memory = new MemoryBackend({ retry: { attempts: 9 } });
    assert.equal(retryPolicyOf(checkedBackend(new PrefixedBackend(memory, "p"))).attempts, 9);
    const local = new LocalBackend({ root: "/tmp/opencrate-retry-policy", retry: { conflictAttempts: 3 } });
    assert.equal(local.retryPolicy.conflictAttempts, 3);
    assert.equal(local.retryPolicy.maxDelayMs, 50, "lock waits on local disk stay short");
    assert.equal(local.portableOptions().retry?.conflictAttempts, 3);
  });
});

/** `inner` with each put failing with what `fail` returns for its key (and no append), for the loops above a backend. */
function failingWrites(inner: StorageBackend, fail: (key: string) => Error | undefined): StorageBackend {
  return new Proxy(inner, {
    get(target, property) {
      if (property === "append") return undefined;
      if (property === "put") {
        return async (key: string, ...rest: unknown[]) => {
          const error = fail(key);
          if (error !== undefined) throw error;
          return (target.put as (...args: unknown[]) => Promise<unknown>).call(target, key, ...rest);
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

describe("loops above a backend follow its policy", () => {
  it("a version claim that never gets an answer is given up after `attempts` tries, with the policy's waits", async () => {
    const { waits, sleep } = recordingSleeper();
    const memory = new MemoryBackend({ retry: { attempts: 3, baseDelayMs: 7, jitter: "none", sleep } });
    let claimWrites = 0;
    const backend = failingWrites(memory, (key) => {
      if (!key.includes("/versions/")) return undefined;
      claimWrites += 1;
      return new TransientError("store unreachable");
    });
    await assert.rejects(new VersionStore(backend, "exp").allocateNew({ tag: undefined, runId: undefined }), (error: unknown) =>
      isOpenCrateError(error, "TRANSIENT"),
    );
    assert.equal(claimWrites, 3);
    assert.deepEqual(waits, [7, 14]);
  });

  it("a log append that keeps losing its compare-and-swap gives up after conflictAttempts", async () => {
    const { waits, sleep } = recordingSleeper();
    const memory = new MemoryBackend({ retry: { conflictAttempts: 4, baseDelayMs: 1, maxDelayMs: 1, jitter: "none", sleep } });
    await memory.put("h.log", "start\n");
    const precondition = await memory.put("x", "x", { mode: { kind: "replace", revision: "stale" } }).catch((error: unknown) => error);
    const contested = failingWrites(memory, () => precondition as Error);
    await assert.rejects(appendBatches(contested, "h.log", [{ id: "b1", bytes: Buffer.from("line\n") }]), (error: unknown) =>
      isOpenCrateError(error, "TRANSIENT") && /after 4 conflicting writes/.test(error.message),
    );
    assert.equal(waits.length, 3);
  });
});
