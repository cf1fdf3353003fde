import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { describeBackendConformance } from "../../src/testing/index.ts";
import { memoryFactory } from "../support/backends.ts";

// The memory backend holds every object in RAM by design, so the big-stream case skips its RSS bound.
describeBackendConformance("memory", memoryFactory(), { constantMemory: false });

describe("memory backend", () => {
  it("shares objects between stores of the same name", async () => {
    const name = `shared-${process.pid}-${Date.now()}`;
    await new MemoryBackend({ name }).put("a.txt", "shared");
    assert.equal(Buffer.from(await new MemoryBackend({ name }).get("a.txt")).toString(), "shared");
    assert.equal(new MemoryBackend({ name }).describe("a.txt"), `memory://${name}/a.txt`);
  });
});
