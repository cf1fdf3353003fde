/**
 * A configured retry policy, honoured against the real servers through the fault proxy: with `attempts: 1` a
 * faulted call fails at once after one request; with more attempts the same faults are ridden out, one request
 * per attempt, and each wait between them comes from the policy (its jitter draws are counted).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { StorageBackend } from "../../src/backends/backend.ts";
import { GcsBackend } from "../../src/backends/gcs/index.ts";
import type { RetryOptions } from "../../src/backends/retry-policy.ts";
import { S3Backend } from "../../src/backends/s3/index.ts";
import { isOpenCrateError } from "../../src/errors.ts";
import { startFaultProxy, type FaultProxy } from "../support/fault-proxy.ts";
import { gcsOptions } from "../support/gcs.ts";
import { s3Options } from "../support/s3.ts";
import { gcsEnv, minioEnv } from "../support/servers.ts";
import { cloudTargets, type CloudTarget } from "./targets.ts";

/** A backend on `prefix` through `endpoint` with the given policy and nothing else of the test targets' own. */
function backendWith(target: CloudTarget, prefix: string, endpoint: string, retry: RetryOptions): StorageBackend {
  if (target.kind === "s3") {
    const server = minioEnv();
    if (server === undefined) throw new Error("MinIO is not running");
    return new S3Backend(s3Options(server, { prefix, endpoint, retry }));
  }
  const server = gcsEnv();
  if (server === undefined) throw new Error("fake-gcs-server is not running");
  return new GcsBackend(gcsOptions(server, { prefix, apiEndpoint: endpoint, retry }));
}

for (const target of cloudTargets()) {
  describe(`a configured retry policy on ${target.label}`, { skip: target.skip }, () => {
    let proxy: FaultProxy;
    let prefix: string;
    const backends: StorageBackend[] = [];
    before(async () => {
      proxy = await startFaultProxy({ target: target.endpoint, seed: 1 });
      prefix = await target.freshPrefix();
      const clean = target.backend(prefix);
      backends.push(clean);
      await clean.put("a.txt", "hello");
    });
    after(async () => {
      await Promise.all(backends.map((backend) => backend.close()));
      await proxy.close();
      await target.cleanup();
    });

    /** Reads a.txt through the proxy while the first `faults` reads of it get the target's read fault. */
    async function readThrough(retry: RetryOptions, faults: number): Promise<{ result: unknown; requests: number; draws: number }> {
      let draws = 0;
      const backend = backendWith(target, prefix, proxy.endpoint, { ...retry, random: () => (draws++, 0.5) });
      backends.push(backend);
      let left = faults;
      proxy.setPlan({
        decide: (request) => (request.method === "GET" && request.url.includes("a.txt") && left-- > 0 ? target.readFault : undefined),
      });
      const before = proxy.counters.requests;
      const result = await backend.get("a.txt").then((bytes) => Buffer.from(bytes).toString(), (error: unknown) => error);
      proxy.setPlan({});
      return { result, requests: proxy.counters.requests - before, draws };
    }

    it("attempts: 1 fails a faulted call at once, TRANSIENT, after one request", async () => {
      const { result, requests, draws } = await readThrough({ attempts: 1 }, 5);
      assert.ok(isOpenCrateError(result, "TRANSIENT"), String(result));
      assert.equal(requests, 1);
      assert.equal(draws, 0, "no wait");
    });

    it("attempts: 3 rides out two faults with one request per attempt and the policy's waits between", async () => {
      const { result, requests, draws } = await readThrough({ attempts: 3, baseDelayMs: 20, maxDelayMs: 20 }, 2);
      assert.equal(result, "hello");
      assert.equal(requests, 3);
      assert.equal(draws, 2);
    });

    it("idempotent: [] sends no call again after a 5xx (it may have been applied), whatever the attempts", async () => {
      const { result, requests } = await readThrough({ attempts: 3, idempotent: [] }, 1);
      assert.ok(isOpenCrateError(result, "TRANSIENT"), String(result));
      assert.equal(requests, 1);
    });

    it("attempts: 2 gives up on a third fault", async () => {
      const { result, requests } = await readThrough({ attempts: 2, baseDelayMs: 0 }, 3);
      assert.ok(isOpenCrateError(result, "TRANSIENT"), String(result));
      assert.equal(requests, 2);
    });
  });
}
