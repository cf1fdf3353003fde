/**
 * A record write of the main thread that loses its condition to the writer the run was handed to meanwhile is not
 * tried again: the other writer's record (the final one) stays.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { WriteOptions } from "../../src/backends/backend.ts";
import { OVERWRITE } from "../../src/backends/backend.ts";
import { LocalBackend } from "../../src/backends/local/index.ts";
import { RunRecordWriter } from "../../src/logs/run-record.ts";
import { readText, runningRecord } from "./helpers.ts";

const KEY = "r/v0/r.run.json";

describe("a run record handed over while its write is under way", () => {
  const roots: string[] = [];
  after(() => Promise.all(roots.map((root) => rm(root, { recursive: true, force: true }))));

  it("leaves the record the other writer stored", async () => {
    const root = await mkdtemp(join(tmpdir(), "opencrate-record-"));
    roots.push(root);
    const inner = new LocalBackend({ root });
    const finished = `${JSON.stringify({ ...runningRecord("r/v0/r.log"), status: "finished" }, null, 2)}\n`;
    let writer: RunRecordWriter | undefined;
    let handedOver = false;
    const backend = new Proxy(inner, {
      get(target, property) {
        if (property === "put") {
          return async (key: string, body: string, options?: WriteOptions) => {
            if (key === KEY && !handedOver) {
              // The run is handed over, and the other writer's record lands first.
              handedOver = true;
              writer?.handOff();
              await target.put(key, finished, { mode: OVERWRITE });
            }
            return target.put(key, body, options);
          };
        }
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    writer = new RunRecordWriter(backend, KEY, runningRecord("r/v0/r.log"));
    await writer.start().catch(() => {});
    assert.equal(JSON.parse(await readText(inner, KEY)).status, "finished");
  });
});
