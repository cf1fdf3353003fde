/** The prefix layer (memory://name/prefix roots) passes the conformance suite, append included, over memory. */
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { truncateSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { checkedBackend } from "../../src/backends/layers/checked.ts";
import { PrefixedBackend } from "../../src/backends/layers/prefixed.ts";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { describeBackendConformance } from "../../src/testing/index.ts";
import { rejectsWithCode } from "../conformance/helpers.ts";

describeBackendConformance(
  "prefixed memory",
  { make: async () => new PrefixedBackend(new MemoryBackend({ name: `test-${randomUUID()}` }), "runs/team") },
  { constantMemory: false },
);

describe("putFile over a backend without one (the checking layer streams the file)", () => {
  let folder = "";
  before(async () => {
    folder = await mkdtemp(join(tmpdir(), "oc-prefixed-putfile-"));
  });
  after(() => rm(folder, { recursive: true, force: true }));

  it("streams the file, and fails INVALID_ARGUMENT naming it, storing nothing, when the file shrinks meanwhile", async () => {
    const inner = new MemoryBackend({ name: `prefixed-putfile-${randomUUID()}` });
    const path = join(folder, "weights.bin");
    const bytes = randomBytes(3 * 1024 * 1024);
    await writeFile(path, bytes);
    const layer = checkedBackend(new PrefixedBackend(inner, "runs"));
    await layer.putFile("whole.bin", path);
    assert.deepEqual(Buffer.from(await layer.get("whole.bin")), bytes);

    // The inner backend cuts the file once it has taken the first piece.
    const shrinking = new Proxy(inner, {
      get(target, property) {
        if (property === "putStream") {
          return (key: string, body: AsyncIterable<Uint8Array>, options: object) =>
            target.putStream(
              key,
              (async function* () {
                let first = true;
                for await (const piece of body) {
                  yield piece;
                  if (first) truncateSync(path, 1024 * 1024 + 10);
                  first = false;
                }
              })(),
              options,
            );
        }
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const error = await rejectsWithCode(checkedBackend(new PrefixedBackend(shrinking, "runs")).putFile("cut.bin", path), "INVALID_ARGUMENT", "file shrank");
    assert.match(error.message, /weights\.bin shrank while it was being uploaded/);
    await rejectsWithCode(layer.head("cut.bin"), "NOT_FOUND", "nothing stored");
  });
});
