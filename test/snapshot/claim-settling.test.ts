/**
 * How `new` settles a claim write that met an existing claim: on a backend that settles its own conditional writes
 * (every built-in one), the first send's ALREADY_EXISTS is another writer's claim and costs no read-back; any later
 * send of the same claim, and every backend that does not say so, still reads the claim back and compares tokens.
 * Upper-layer rules over the memory backend with faults injected in front of it.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { StorageBackend, WriteOptions } from "../../src/backends/backend.ts";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { TransientError } from "../../src/errors.ts";
import { claimKey } from "../../src/snapshot/layout.ts";
import { VersionStore } from "../../src/snapshot/versions.ts";

interface Faults {
  /** Just before our first claim of this version, another writer claims it (a lost race). */
  takenBefore?: { name: string; version: number };
  /** The first put of this key lands, then fails TRANSIENT as if its answer was lost. */
  loseAnswerOf?: string;
  /** Reads of this key fail TRANSIENT this many times. */
  failReadsOf?: { key: string; times: number };
}

/** `inner` with `settlesConditionalWrites` as given, its reads counted by key, and the faults applied. */
function wrapped(inner: StorageBackend, settles: boolean | undefined, faults: Faults = {}): { backend: StorageBackend; reads: Map<string, number> } {
  const reads = new Map<string, number>();
  let answerLost = false;
  let raced = false;
  let readFailures = 0;
  const capabilities = { ...inner.capabilities, settlesConditionalWrites: settles };
  const backend = new Proxy(inner, {
    get(target, property) {
      if (property === "capabilities") return capabilities;
      if (property === "get") {
        return async (key: string, ...rest: unknown[]) => {
          reads.set(key, (reads.get(key) ?? 0) + 1);
          if (key === faults.failReadsOf?.key && readFailures++ < faults.failReadsOf.times) throw new TransientError(`read of ${key} failed`);
          return (target.get as (...args: unknown[]) => Promise<Uint8Array>).call(target, key, ...rest);
        };
      }
      if (property === "put") {
        return async (key: string, body: string, options?: WriteOptions) => {
          const race = faults.takenBefore;
          if (race !== undefined && key === claimKey(race.name, race.version) && !raced) {
            raced = true;
            await new VersionStore(target, race.name).claimOrJoin(race.version, { tag: "theirs", runId: undefined });
          }
          const info = await target.put(key, body, options);
          if (key === faults.loseAnswerOf && !answerLost) {
            answerLost = true;
            throw new TransientError(`the answer to the write of ${key} was lost`);
          }
          return info;
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { backend, reads };
}

const quickRetries = { retry: { baseDelayMs: 0, sleep: async () => {} } };

describe("settling a claim that met an existing one", () => {
  it("takes the first send's ALREADY_EXISTS at its word on a backend that settles its own writes", async () => {
    const inner = new MemoryBackend(quickRetries);
    const { backend, reads } = wrapped(inner, true, { takenBefore: { name: "n", version: 0 } });
    const claim = await new VersionStore(backend, "n").allocateNew({ tag: "mine", runId: undefined });
    assert.equal(claim.version, 1);
    assert.equal(reads.get(claimKey("n", 0)), undefined, "the lost claim was not read back");
  });

  it("reads the other claim back on a backend that does not say it settles its writes", async () => {
    const inner = new MemoryBackend(quickRetries);
    const { backend, reads } = wrapped(inner, undefined, { takenBefore: { name: "n", version: 0 } });
    const claim = await new VersionStore(backend, "n").allocateNew({ tag: "mine", runId: undefined });
    assert.equal(claim.version, 1);
    assert.equal(reads.get(claimKey("n", 0)), 1, "the lost claim was read back once");
  });

  it("reads back a later send's ALREADY_EXISTS: it may be our own first send, landed with its answer lost", async () => {
    const inner = new MemoryBackend(quickRetries);
    // The first send lands but its answer is lost; the read-back that would settle it fails; the same claim is
    // sent again and meets itself.
    const key = claimKey("n", 0);
    const { backend, reads } = wrapped(inner, true, { loseAnswerOf: key, failReadsOf: { key, times: 1 } });
    const claim = await new VersionStore(backend, "n").allocateNew({ tag: "mine", runId: undefined });
    assert.equal(claim.version, 0, "the claim that landed is kept, not abandoned for the next number");
    const claims = await new VersionStore(inner, "n").listClaims();
    assert.deepEqual(claims.map((stored) => [stored.version, stored.token]), [[0, claim.token]]);
    assert.equal(reads.get(key), 2, "read back after the lost answer (failed) and after the resend's ALREADY_EXISTS");
  });
});
