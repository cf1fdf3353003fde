/**
 * Backups while another writer keeps replacing the artifact: every backup succeeds, no backup replaces another,
 * and each holds one complete state the writer had saved. On local disk, MinIO and fake-gcs-server.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { Snapshot } from "../../src/index.ts";
import { backendFor, places } from "./targets.ts";
import { sha256 } from "./support.ts";

const WORKERS = 8;
const BACKUPS_PER_WORKER = 5;
/** Enough padding that a state is more than one network packet. */
const PAD_BYTES = 96 * 1024;

interface State {
  readonly serial: number;
  readonly pad: string;
  readonly digest: string;
}

function stateOf(serial: number): State {
  const pad = String.fromCharCode(97 + (serial % 26)).repeat(PAD_BYTES);
  return { serial, pad, digest: sha256(Buffer.from(`${serial}:${pad}`)) };
}

for (const place of places()) {
  describe(`backups racing a writer on ${place.label}`, { skip: place.skip }, () => {
    after(() => place.cleanup());

    it(`${WORKERS} × ${BACKUPS_PER_WORKER} backups while the artifact is overwritten all succeed, each a complete earlier state`, async () => {
      const backend = await backendFor(place.kind, await place.fresh());
      const snapshot = await Snapshot.setup({ name: "race", backend, console: false });
      try {
        const shared = snapshot.json("shared.json");
        await shared.save(stateOf(0));
        let written = 0;
        let stop = false;
        const writer = (async () => {
          while (!stop) {
            await shared.save(stateOf(written + 1));
            written += 1;
          }
        })();
        const made: { name: string; savedBefore: number }[] = [];
        const failures: unknown[] = [];
        try {
          await Promise.all(
            Array.from({ length: WORKERS }, async (_, worker) => {
              for (let round = 0; round < BACKUPS_PER_WORKER; round++) {
                // Half tagged (unique tags), half timestamped (racing on one name per second, so suffixed).
                const tag = round % 2 === 0 ? undefined : `w${worker}-r${round}`;
                try {
                  const name = await shared.backup(tag);
                  assert.ok(name !== undefined, "the artifact exists, so there is something to back up");
                  made.push({ name, savedBefore: written });
                } catch (error) {
                  failures.push(error);
                }
              }
            }),
          );
        } finally {
          stop = true;
          await writer;
        }
        assert.deepEqual(failures, [], "every backup succeeded");
        assert.ok(written > 0, "the writer overwrote the artifact during the backups");
        const names = made.map((entry) => entry.name);
        assert.equal(new Set(names).size, WORKERS * BACKUPS_PER_WORKER, "no two backups got the same name");
        const listed = await shared.listBackups();
        assert.deepEqual([...listed].sort(), [...names].sort(), "every backup is listed, and nothing else");
        for (const { name, savedBefore } of made) {
          const state = (await snapshot.json(name).load()) as State;
          assert.equal(state.digest, stateOf(state.serial).digest, `${name} holds one complete state`);
          assert.equal(state.pad, stateOf(state.serial).pad, `${name} holds one complete state`);
          assert.ok(state.serial <= savedBefore + 1, `${name} holds a state saved before its backup returned`);
        }
      } finally {
        await snapshot.close();
        await backend.close();
      }
    });
  });
}
