import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { test } from "node:test";
import type { ObjectInfo, StorageBackend } from "../../src/backends/backend.ts";
import { sameContent } from "../../src/backends/same-content.ts";
import { TransientError } from "../../src/errors.ts";
import { processFailuresDuring } from "../support/warnings.ts";

const info = (key: string): ObjectInfo => ({ key, size: 4, revision: `r-${key}`, lastModified: new Date(0) }) as ObjectInfo;

test("a stream opened while the other failed to open is destroyed, and its later error is not left uncaught", async () => {
  let opened: Readable | undefined;
  const backend = {
    head: async (key: string) => info(key),
    getStream: async (key: string) => {
      if (key === "b") throw new TransientError("the store went away", { path: key });
      // A stream that fails on a later turn unless it is destroyed first (a socket that breaks while nobody reads).
      const stream = new Readable({ read() {} });
      setTimeout(() => {
        if (!stream.destroyed) stream.destroy(new Error("the connection broke"));
      }, 20);
      opened = stream;
      return stream;
    },
  } as unknown as StorageBackend;

  const { result, failures } = await processFailuresDuring(() => sameContent(backend, "a", "b"), 100);
  assert.equal(result.status, "rejected");
  assert.equal((result as PromiseRejectedResult).reason instanceof TransientError, true);
  assert.deepEqual(failures, []);
  assert.equal(opened?.destroyed, true);
});
