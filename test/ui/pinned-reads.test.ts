/**
 * The viewer reads a file in more than one request (a safetensors header past the first read; a file's size, then
 * its bytes): a save landing in between must never mix two saves. Each case saves the file again between two reads,
 * on every test backend.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import type { ReadOptions, StorageBackend } from "../../src/backends/backend.ts";
import { isOpenCrateError } from "../../src/errors.ts";
import { encodeHeader } from "../../src/handlers/checkpoint/safetensors.ts";
import { handleApi } from "../../src/ui/api.ts";
import { Catalog } from "../../src/ui/catalog.ts";
import { safetensorsPreview } from "../../src/ui/previews.ts";
import { allBackendFactories } from "../support/backends.ts";

const KEY = "train/v0/checkpoints/model.safetensors";

/** A safetensors file with one U8 tensor of `elements` bytes and a metadata note of `noteBytes` characters. */
function checkpoint(tensor: string, elements: number, noteBytes: number): Uint8Array {
  const header = encodeHeader([{ name: tensor, dtype: "U8", shape: [elements], begin: 0, end: elements }], { note: "n".repeat(noteBytes) });
  const file = new Uint8Array(header.byteLength + elements);
  file.set(header);
  file.fill(7, header.byteLength);
  return file;
}

/**
 * `inner` whose reads (get, getStream) first save `saves[n]` at KEY when the n-th read (from 0) begins, so the file
 * is another save from that read on. `plan` replaces the saves and counts reads from 0 again.
 */
function savingBetweenReads(inner: StorageBackend, initial: ReadonlyMap<number, Uint8Array> = new Map()): {
  backend: StorageBackend;
  plan(saves: ReadonlyMap<number, Uint8Array>): void;
} {
  let saves = initial;
  let reads = 0;
  const beforeRead = async (): Promise<void> => {
    const save = saves.get(reads++);
    if (save !== undefined) await inner.put(KEY, save);
  };
  const backend = new Proxy(inner, {
    get(target, property, receiver) {
      if (property === "get") {
        return async (key: string, options?: ReadOptions) => {
          await beforeRead();
          return target.get(key, options);
        };
      }
      if (property === "getStream") {
        return async (key: string, options?: ReadOptions) => {
          await beforeRead();
          return target.getStream(key, options);
        };
      }
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return {
    backend,
    plan(next) {
      saves = next;
      reads = 0;
    },
  };
}

for (const factory of allBackendFactories()) {
  describe(`the viewer reads each file from one save [${factory.label}]`, { skip: factory.skip }, () => {
    let inner: StorageBackend;
    before(async () => {
      inner = await factory.make();
    });
    after(async () => {
      try {
        await inner.close();
      } finally {
        await factory.cleanup();
      }
    });

    it("previews a safetensors header saved again before its first read: all of it from the new save", async () => {
      await inner.put(KEY, checkpoint("old", 10, 0));
      const saved = checkpoint("new", 1000, 100);
      const preview = await safetensorsPreview(savingBetweenReads(inner, new Map([[0, saved]])).backend, KEY);
      assert.deepEqual(preview, await safetensorsPreview(inner, KEY));
      assert.equal(preview.size, saved.byteLength);
      assert.deepEqual(preview.tensors.map((tensor) => [tensor.name, tensor.bytes]), [["new", 1000]]);
    });

    it("previews a long header saved again between its two reads: all of it from the new save", async () => {
      // Headers past the first 256 KiB read: the rest of the header is a second read.
      await inner.put(KEY, checkpoint("old", 10, 300_000));
      const saved = checkpoint("new", 20, 400_000);
      const preview = await safetensorsPreview(savingBetweenReads(inner, new Map([[1, saved]])).backend, KEY);
      assert.deepEqual(preview.tensors.map((tensor) => [tensor.name, tensor.bytes]), [["new", 20]]);
      assert.equal(preview.metadata.note?.length, 400_000);
      assert.equal(preview.size, saved.byteLength);
    });

    it("fails TRANSIENT, saying so, when the file is saved again on every attempt", async () => {
      await inner.put(KEY, checkpoint("a", 10, 300_000));
      const saves = new Map([0, 1, 2, 3].map((read) => [read, checkpoint(`s${read}`, 10 + read, 300_000)]));
      await assert.rejects(
        safetensorsPreview(savingBetweenReads(inner, saves).backend, KEY),
        (error: unknown) => isOpenCrateError(error, "TRANSIENT") && /changed while being read, twice in a row/.test(error.message),
      );
    });

    describe("the raw bytes", () => {
      let plan: (saves: ReadonlyMap<number, Uint8Array>) => void;
      let server: http.Server;
      let base: string;
      before(async () => {
        const saving = savingBetweenReads(inner);
        plan = saving.plan;
        const context = { catalog: new Catalog(saving.backend), rootLabel: "memory", start: undefined };
        server = http.createServer((request, response) => {
          const url = new URL(request.url ?? "/", "http://localhost");
          void handleApi(context, url.pathname.split("/").slice(2), url, request, response);
        });
        server.listen(0, "127.0.0.1");
        await once(server, "listening");
        base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/names/train/v0/raw/checkpoints/model.safetensors`;
      });
      after(() => server.close());

      it("are sent with the size of the save they come from when it is saved again after its size was read", async () => {
        await inner.put(KEY, new Uint8Array(100).fill(1));
        plan(new Map([[0, new Uint8Array(250).fill(2)]]));
        const whole = await fetch(base);
        assert.equal(whole.status, 200);
        assert.equal(whole.headers.get("content-length"), "250");
        assert.deepEqual(new Uint8Array(await whole.arrayBuffer()), new Uint8Array(250).fill(2));

        plan(new Map([[0, new Uint8Array(50).fill(3)]]));
        const part = await fetch(base, { headers: { Range: "bytes=40-" } });
        assert.equal(part.status, 206);
        assert.equal(part.headers.get("content-range"), "bytes 40-49/50");
        assert.deepEqual(new Uint8Array(await part.arrayBuffer()), new Uint8Array(10).fill(3));
      });

      it("answer 503, saying why, when it is saved again on every attempt", async () => {
        await inner.put(KEY, new Uint8Array(100).fill(1));
        plan(new Map([0, 1, 2, 3].map((read) => [read, new Uint8Array(100 + read).fill(read)])));
        const answer = await fetch(base);
        assert.equal(answer.status, 503);
        assert.match(((await answer.json()) as { error: string }).error, /changed while being read, twice in a row/);
      });
    });
  });
}
