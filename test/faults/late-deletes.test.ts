/**
 * A delete that reaches the store late: the client's request is held by the network, the client times out and
 * sends it again, the retry deletes and the call returns, and the held original lands afterwards, when the key may
 * hold a newer object. The wrapper below plays that out deterministically: each delete it lets through is applied
 * at once (the retry) and kept, to be applied again when the test says (the original landing).
 *
 * With `replace`, the emptying of the folder must not take the new run's artifact with it; a rank's dropped run
 * record or replace record must not take the record another rank of the run created since. Over the backends
 * whose store enforces conditional deletes: memory, local disk, moto. MinIO and fake-gcs-server ignore the
 * condition (the backends refuse conditional deletes there, see the conformance suite), so the race remains on
 * them.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { DeleteOptions, StorageBackend } from "../../src/backends/backend.ts";
import { Snapshot } from "../../src/index.ts";
import { VersionStore } from "../../src/snapshot/versions.ts";
import { allBackendFactories } from "../support/backends.ts";
import { readText } from "../support/assertions.ts";

const factories = allBackendFactories().filter((factory) => /^(memory|local|moto)\b/.test(factory.label));

interface LateDeletes {
  readonly backend: StorageBackend;
  /** Applies every kept delete again, as the held originals landing; their failures are the store's answers
   * nobody reads. */
  land(): Promise<void>;
  /** How many deletes are waiting to land. */
  readonly held: number;
}

/** `inner` whose deletes of keys matching `matches` land a second time when `land()` is called. */
function withLateDeletes(inner: StorageBackend, matches: (key: string) => boolean): LateDeletes {
  const held: Array<() => Promise<void>> = [];
  const backend = new Proxy(inner, {
    get(target, property) {
      if (property === "delete") {
        return async (key: string, options?: DeleteOptions) => {
          await (options === undefined ? target.delete(key) : target.delete(key, options));
          if (matches(key)) held.push(() => (options === undefined ? target.delete(key) : target.delete(key, options)));
        };
      }
      if (property === "deleteMany") {
        return async (keys: Iterable<string> | AsyncIterable<string>) => {
          const all: string[] = [];
          for await (const key of keys) all.push(key);
          await target.deleteMany(all);
          for (const key of all.filter(matches)) held.push(() => target.delete(key));
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return {
    backend,
    land: async () => {
      await Promise.allSettled(held.splice(0).map((apply) => apply()));
    },
    get held() {
      return held.length;
    },
  };
}

for (const factory of factories) {
  describe(`late deletes on ${factory.label}`, { skip: factory.skip }, () => {
    after(() => factory.cleanup?.());

    it("replace's emptying, landing late, leaves the artifact the new run saved", async () => {
      const backend = await factory.make();
      try {
        const old = await Snapshot.setup({ name: "rp", backend, console: false });
        await old.json("metrics.json").save({ run: "old" });
        await old.close();

        const late = withLateDeletes(backend, (key) => key.endsWith("/metrics.json"));
        const run = await Snapshot.setup({ name: "rp", start: 0, replace: true, backend: late.backend, console: false });
        assert.equal(run.versionName, "v0");
        assert.equal(late.held, 1, "the old run's metrics.json was deleted once");
        await run.json("metrics.json").save({ run: "new" });
        await late.land();
        assert.deepEqual(await run.json("metrics.json").load(), { run: "new" }, "the new run's artifact is still there");
        await run.close();
      } finally {
        await backend.close();
      }
    });

    it("replace keeps an object another process writes into the folder while it is emptied", async () => {
      const backend = await factory.make();
      try {
        const old = await Snapshot.setup({ name: "rk", backend, console: false });
        for (const file of ["a", "b"]) await old.text(`${file}.txt`).save(`old ${file}`);
        await old.close();
        let written = false;
        const racing = new Proxy(backend, {
          get(target, property) {
            if (property === "delete") {
              return async (key: string, options?: DeleteOptions) => {
                if (!written && key.startsWith("rk/v0/texts/")) {
                  written = true;
                  await target.put("rk/v0/texts/b.txt", "written meanwhile");
                }
                return target.delete(key, options);
              };
            }
            const value: unknown = Reflect.get(target, property, target);
            return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
          },
        });
        const run = await Snapshot.setup({ name: "rk", start: 0, replace: true, backend: racing, console: false });
        await run.close();
        assert.equal(await readText(backend, "rk/v0/texts/b.txt"), "written meanwhile");
        assert.equal(await backend.head("rk/v0/texts/a.txt").catch((error: { code?: string }) => error.code), "NOT_FOUND");
      } finally {
        await backend.close();
      }
    });

    it("a rank's dropped run record, deleted late, leaves the record another rank created since", async () => {
      const backend = await factory.make();
      try {
        const recordKey = "jb/.opencrate/runs/job-1.json";
        const late = withLateDeletes(backend, (key) => key === recordKey);
        // Rank A creates the record, fails to claim a version and drops the record.
        await assert.rejects(
          new VersionStore(late.backend, "jb").decideForRun("job-1", () => Promise.reject(new Error("the claim failed"))),
          /the claim failed/,
        );
        assert.equal(late.held, 1, "rank A deleted its record");
        // Rank B finds no record, creates it and allocates.
        const b = await new VersionStore(backend, "jb").allocateForRun("job-1", { tag: undefined, runId: "job-1" });
        assert.equal(b.created, true);
        await late.land();
        assert.ok(JSON.parse(await readText(backend, recordKey)).version === b.claim.version, "rank B's record is still there");
        // A later rank of the job joins rank B's version instead of allocating another.
        const c = await new VersionStore(backend, "jb").allocateForRun("job-1", { tag: undefined, runId: "job-1" });
        assert.equal(c.created, false);
        assert.equal(c.claim.version, b.claim.version);
      } finally {
        await backend.close();
      }
    });

    it("a rank's dropped replace record, deleted late, leaves the record another rank created and marked since", async () => {
      const backend = await factory.make();
      try {
        const target = { version: 0, folder: "v0" };
        const late = withLateDeletes(backend, (key) => key.includes("/.opencrate/") && key.includes("job-2"));
        // Rank A creates the replace record, fails to empty the folder and drops the record.
        const a = await new VersionStore(late.backend, "jb").replaceForRun("job-2", target);
        assert.equal(a.empties, true);
        if (a.empties) await a.abandoned();
        assert.equal(late.held, 1, "rank A deleted its replace record");
        // Rank B (rank A restarted, say) creates the record anew, empties the folder and marks it.
        const b = await new VersionStore(backend, "jb").replaceForRun("job-2", target);
        assert.equal(b.empties, true);
        if (b.empties) await b.emptied();
        await late.land();
        // Another rank of the run joins the emptied folder rather than emptying it again.
        const c = await new VersionStore(backend, "jb").replaceForRun("job-2", target);
        assert.deepEqual(c, { empties: false, target });
      } finally {
        await backend.close();
      }
    });
  });
}
