/**
 * A run record whose version was deleted under its run (`reset()` in another process): a record that is gone is not
 * written again, and a first record landing after the version's claim went or changed is deleted again, so the run
 * never shows up in a version of that number made since; the run is told once (VersionWatch). On memory, local disk,
 * MinIO and fake-gcs-server.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { StorageBackend } from "../../src/backends/backend.ts";
import { objectExists } from "../../src/backends/presence.ts";
import { RunRecordWriter } from "../../src/logs/run-record.ts";
import { VersionDeletedMark } from "../../src/logs/version-deleted.ts";
import { logBackendFactories } from "./backends.ts";
import { runningRecord } from "./helpers.ts";

const RECORD = "run/.opencrate/run-records/0000000000/1-1-a.json";
const CLAIM = "run/.opencrate/versions/0000000000.json";
const ENDED = { status: "finished", exitCode: 0, signal: null } as const;

for (const factory of logBackendFactories().filter((candidate) => /^(memory|local|minio|gcs)\b/.test(candidate.label))) {
  describe(`the record of a run whose version was deleted, on ${factory.label}`, { skip: factory.skip }, () => {
    after(() => factory.cleanup());
    const watched = (backend: StorageBackend, claimToken?: string): { writer: RunRecordWriter; mark: VersionDeletedMark; told: () => number } => {
      const mark = new VersionDeletedMark();
      let told = 0;
      const claim = claimToken === undefined ? {} : { claim: { key: CLAIM, token: claimToken } };
      const writer = new RunRecordWriter(backend, RECORD, runningRecord("run.log"), undefined, {
        mark,
        ...claim,
        onDeleted: () => {
          told += 1;
        },
      });
      return { writer, mark, told: () => told };
    };

    it("is not written again once it is gone, and the run is told once", async () => {
      const backend = await factory.make();
      const { writer, mark, told } = watched(backend);
      await writer.start();
      await backend.delete(RECORD);
      await writer.touch(true);
      await writer.touch(true);
      await writer.end(ENDED);
      assert.equal(await objectExists(backend, RECORD), false);
      assert.equal(mark.isSet, true);
      assert.equal(told(), 1);
    });

    it("is deleted again when it first lands after the version's claim was made anew by another run", async () => {
      const backend = await factory.make();
      await backend.put(CLAIM, JSON.stringify({ version: 0, token: "the next run's" }));
      const { writer, mark, told } = watched(backend, "this run's");
      await writer.start();
      await writer.end(ENDED);
      assert.equal(await objectExists(backend, RECORD), false);
      assert.deepEqual([mark.isSet, told()], [true, 1]);
    });

    it("is deleted again when it first lands after the version's claim went", async () => {
      const backend = await factory.make();
      const { writer, mark } = watched(backend, "this run's");
      await writer.start();
      assert.equal(await objectExists(backend, RECORD), false);
      assert.equal(mark.isSet, true);
    });

    it("stays while the claim is the one the run set up with", async () => {
      const backend = await factory.make();
      await backend.put(CLAIM, JSON.stringify({ version: 0, token: "this run's" }));
      const { writer, mark } = watched(backend, "this run's");
      await writer.start();
      await writer.end(ENDED);
      assert.equal(JSON.parse(Buffer.from(await backend.get(RECORD)).toString("utf8")).status, "finished");
      assert.equal(mark.isSet, false);
    });
  });
}
