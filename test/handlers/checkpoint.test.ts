import assert from "node:assert/strict";
import { once } from "node:events";
import { writeFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable, Transform } from "node:stream";
import { after, before, it } from "node:test";
import { Worker } from "node:worker_threads";
import type { StorageBackend } from "../../src/backends/backend.ts";
import { BackendArtifactStorage } from "../../src/handlers/backend-storage.ts";
import { checkpointHandler } from "../../src/handlers/checkpoint/index.ts";
import type { CheckpointTree, Tensor } from "../../src/handlers/data-types.ts";
import { startWireBytes, type WireBytes } from "../support/wire-bytes.ts";
import type { SmallStackResult } from "./small-stack-load.ts";
import { assertNothingStored, describeOverBackends, rejectsWith } from "./support.ts";

const ascii = (text: string): number[] => [...Buffer.from(text, "utf8")];
const u64 = (value: number): number[] => [...new Uint8Array(new BigUint64Array([BigInt(value)]).buffer)];

/** A safetensors file from its parts, as the format describes it: u64 LE header length, header, data. */
function safetensorsFile(headerJson: string, data: number[]): Uint8Array {
  const header = ascii(headerJson);
  return new Uint8Array([...u64(header.length), ...header, ...data]);
}

function tensor(dtype: Tensor["dtype"], shape: number[], data: Tensor["data"]): Tensor {
  return { dtype, shape, data };
}

/** Wraps a backend so every byte handed out by get/getStream/readRangeInto is counted (what the loader asked the store
 * for). */
function countingBackend(inner: StorageBackend): { backend: StorageBackend; fetched: () => number; reset: () => void } {
  let bytes = 0;
  const backend = new Proxy(inner, {
    get(target, property) {
      if (property === "get") {
        return async (...args: Parameters<StorageBackend["get"]>) => {
          const result = await target.get(...args);
          bytes += result.byteLength;
          return result;
        };
      }
      if (property === "getStream") {
        return async (...args: Parameters<StorageBackend["getStream"]>) => {
          const source = await target.getStream(...args);
          // A pass-through, not a 'data' listener: that would start the stream flowing before the caller reads.
          const counted = new Transform({
            transform(chunk: Buffer, _encoding, done) {
              bytes += chunk.byteLength;
              done(null, chunk);
            },
          });
          source.on("error", (error) => counted.destroy(error));
          return source.pipe(counted);
        };
      }
      if (property === "readRangeInto" && target.readRangeInto !== undefined) {
        const readRangeInto = target.readRangeInto.bind(target);
        return async (...[key, options, sink]: Parameters<NonNullable<StorageBackend["readRangeInto"]>>) =>
          readRangeInto(key, options, {
            write: (chunk) => {
              bytes += chunk.byteLength;
              return sink.write(chunk);
            },
          });
      }
      const value: unknown = Reflect.get(target, property);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { backend, fetched: () => bytes, reset: () => (bytes = 0) };
}

/**
 * Wraps a backend so that `before(n)` runs ahead of the n-th ranged `get` of `key` (from 1): the moment between two
 * reads of one load, where another writer's save can land.
 */
function hookedBackend(inner: StorageBackend, key: string, before: (read: number) => Promise<void>): { backend: StorageBackend; reads: () => number } {
  let reads = 0;
  const backend = new Proxy(inner, {
    get(target, property) {
      if (property === "get") {
        return async (...args: Parameters<StorageBackend["get"]>) => {
          const [getKey, options] = args;
          if (getKey === key && options?.range !== undefined) await before(++reads);
          return target.get(...args);
        };
      }
      const value: unknown = Reflect.get(target, property);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { backend, reads: () => reads };
}

/** Three 100 kB tensors filled with `fill`: each past the first 64 KiB read, and `a` and `b` too far apart to merge. */
function threeTensors(fill: number, size = 100_000): CheckpointTree {
  return {
    a: tensor("U8", [size], new Uint8Array(size).fill(fill)),
    mid: tensor("U8", [size], new Uint8Array(size).fill(fill)),
    b: tensor("U8", [size], new Uint8Array(size).fill(fill)),
  };
}

/** `levels` objects nested in one another (the top level counts), a tensor in the innermost. */
function nestedTree(levels: number): CheckpointTree {
  let tree: CheckpointTree = { w: tensor("U8", [1], new Uint8Array([7])) };
  for (let level = 1; level < levels; level++) tree = { n: tree };
  return tree;
}

let scratch: string;
/** On before any backend connects, so every socket of the S3 and GCS clients is seen. */
let wire: WireBytes;
before(async () => {
  wire = startWireBytes();
  scratch = await mkdtemp(join(tmpdir(), "opencrate-checkpoint-"));
});
after(async () => {
  wire.stop();
  await rm(scratch, { recursive: true, force: true });
});

describeOverBackends("checkpoint handler", checkpointHandler, (h) => {
  it("writes safetensors byte for byte as the format and the documented layout say", async () => {
    const storage = await h.save("tiny.safetensors", {
      encoder: { "w.0": tensor("F32", [2], new Float32Array([1, -2])) },
      step: 3,
    });
    const header = String.raw`{"__metadata__":{"format":"pt","opencrate.layout":"[\"tree\",[[\"encoder\",[\"tree\",[[\"w.0\",[\"tensor\",\"encoder.w.0\"]]]]],[\"step\",[\"value\",3]]]]"},"encoder.w.0":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`;
    const padded = header + " ".repeat((8 - (header.length % 8)) % 8);
    assert.equal(padded.length % 8, 0);
    const expected = safetensorsFile(padded, [0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0]);
    assert.deepEqual([...(await storage.read())], [...expected]);
  });

  it("loads a hand-made foreign file as a flat object in header order, with aligned arrays", async () => {
    // An odd header length (padding is optional for readers): the data starts at an odd offset, so the arrays
    // must be copied to be aligned.
    let header = `{"b":{"dtype":"I16","shape":[2],"data_offsets":[8,12]},"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}`;
    if (header.length % 2 === 0) header += " ";
    const file = safetensorsFile(header, [0, 0, 0, 0, 0, 0, 0xe0, 0x3f, 0xff, 0xff, 0x02, 0x00]);
    assert.equal((file.length - 12) % 2, 1);
    await h.plant("foreign.safetensors", file);
    const loaded = (await h.load("foreign.safetensors")) as CheckpointTree;
    assert.deepEqual(Object.keys(loaded), ["b", "a"]);
    assert.deepEqual(loaded.a, tensor("F64", [1], new Float64Array([0.5])));
    assert.deepEqual(loaded.b, tensor("I16", [2], new Int16Array([-1, 2])));
    for (const value of Object.values(loaded)) {
      const data = (value as Tensor).data;
      assert.equal(data.byteOffset % data.BYTES_PER_ELEMENT, 0);
    }
  });

  it("round-trips a nested checkpoint with every dtype, scalars and awkward keys", async () => {
    const original: CheckpointTree = {
      epoch: 5,
      model_state_dict: {
        "0.weight": tensor("F32", [2, 3], new Float32Array([1, 2, 3, 4, 5, 6])),
        "0.bias": tensor("F64", [2], new Float64Array([0.5, -0.5])),
        layers: { "0": { w: tensor("F16", [2], new Uint16Array([0x3c00, 0xc000])) } },
        bf: tensor("BF16", [1], new Uint16Array([0x3f80])),
        f8: tensor("F8_E4M3", [2], new Uint8Array([1, 2])),
        ints: {
          i64: tensor("I64", [2], new BigInt64Array([-(2n ** 62n), 7n])),
          u64: tensor("U64", [1], new BigUint64Array([2n ** 64n - 1n])),
          i32: tensor("I32", [1], new Int32Array([-5])),
          u32: tensor("U32", [1], new Uint32Array([4e9])),
          i16: tensor("I16", [1], new Int16Array([-300])),
          u16: tensor("U16", [1], new Uint16Array([60000])),
          i8: tensor("I8", [2], new Int8Array([-1, 1])),
          u8: tensor("U8", [3], new Uint8Array([0, 128, 255])),
          bool: tensor("BOOL", [2], new Uint8Array([1, 0])),
        },
        scalar: tensor("F32", [], new Float32Array([3.5])),
        empty: tensor("F32", [0, 4], new Float32Array(0)),
      },
      optimizer_state_dict: { lr: 0.001, betas: [0.9, 0.999], nothing: null, flag: true, name: "adam", empty: {} },
      "model_state_dict.0.weight": tensor("I8", [1], new Int8Array([9])),
      __metadata__: tensor("U8", [1], new Uint8Array([42])),
      loss: 0.015,
      description: "A sample model checkpoint after 5 epochs.",
    };
    await h.save("model.safetensors", original);
    assert.deepEqual(await h.load("model.safetensors"), original);
  });

  it("accepts raw bytes for any dtype and returns the dtype's array", async () => {
    const floats = new Float32Array([1.5, -2.25]);
    await h.save("raw.safetensors", { w: tensor("F32", [2], new Uint8Array(floats.buffer)) });
    assert.deepEqual(await h.load("raw.safetensors"), { w: tensor("F32", [2], floats) });
  });

  it("loads only the selected entries: flat names, nested paths, groups and dotted keys", async () => {
    const tree: CheckpointTree = {
      model: {
        encoder: { w: tensor("F32", [1], new Float32Array([1])), b: tensor("F32", [1], new Float32Array([2])) },
        decoder: { w: tensor("F32", [1], new Float32Array([3])) },
      },
      "a.b": { c: tensor("I32", [1], new Int32Array([4])) },
      step: 10,
    };
    await h.save("select.safetensors", tree);
    assert.deepEqual(await h.load("select.safetensors", { keys: ["model.encoder.w"] }), {
      model: { encoder: { w: tensor("F32", [1], new Float32Array([1])) } },
    });
    assert.deepEqual(await h.load("select.safetensors", { keys: ["model.encoder", "step"] }), {
      model: { encoder: tree.model && (tree.model as CheckpointTree).encoder },
      step: 10,
    });
    assert.deepEqual(await h.load("select.safetensors", { keys: ["a.b.c"] }), { "a.b": { c: tensor("I32", [1], new Int32Array([4])) } });
    assert.deepEqual(await h.load("select.safetensors", { keys: [] }), {});
    await rejectsWith(h.load("select.safetensors", { keys: ["model.nope"] }), "INVALID_ARGUMENT", "select.safetensors", '"model.nope"', "model.encoder.w");
    await rejectsWith(h.load("select.safetensors", { keys: "model" as unknown as string[] }), "INVALID_ARGUMENT", "keys");
  });

  it("selects by name and by prefix in a foreign file", async () => {
    const header = `{"x.w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"x.b":{"dtype":"U8","shape":[1],"data_offsets":[1,2]},"y":{"dtype":"U8","shape":[1],"data_offsets":[2,3]}}`;
    await h.plant("flat.safetensors", safetensorsFile(header, [1, 2, 3]));
    assert.deepEqual(Object.keys((await h.load("flat.safetensors", { keys: ["x"] })) as CheckpointTree), ["x.w", "x.b"]);
    assert.deepEqual(await h.load("flat.safetensors", { keys: ["y"] }), { y: tensor("U8", [1], new Uint8Array([3])) });
  });

  it("fetches only the wanted tensors' bytes by ranged reads", async () => {
    const inner = await h.backend();
    const overNetwork = inner.kind === "s3" || inner.kind === "gcs";
    const counting = countingBackend(inner);
    const storage = new BackendArtifactStorage({ backend: counting.backend, key: "run/v0/checkpoints/big.safetensors" });
    const context = { name: "big.safetensors", extension: ".safetensors" };
    const big = new Float32Array(4 * 1024 * 1024).map((_, index) => index % 1000);
    const tree: CheckpointTree = {
      head: tensor("F32", [4], new Float32Array([1, 2, 3, 4])),
      body: tensor("F32", [big.length], big),
      tail: tensor("I64", [2], new BigInt64Array([5n, 6n])),
    };
    await checkpointHandler.save(tree, storage, undefined, context);
    const size = await storage.size();
    assert.ok(size > 16 * 1024 * 1024);

    counting.reset();
    let wireBefore = wire.read();
    const some = await checkpointHandler.load(storage, { keys: ["tail", "head"] }, context);
    const someOnWire = wire.read() - wireBefore;
    assert.deepEqual(some, { head: tree.head, tail: tree.tail });
    assert.ok(counting.fetched() < 200 * 1024, `fetched ${counting.fetched()} bytes of ${size}`);

    counting.reset();
    wireBefore = wire.read();
    const all = await checkpointHandler.load(storage, undefined, context);
    const allOnWire = wire.read() - wireBefore;
    assert.deepEqual(all, tree);
    assert.ok(counting.fetched() <= size + 64 * 1024, `a full load fetched ${counting.fetched()} bytes of ${size}`);

    if (overNetwork) {
      // What the store actually sent: a backend that fetched whole objects and sliced them would pass the
      // counts above. The full load shows the counter sees this backend's connections.
      assert.ok(allOnWire >= size, `the full load read ${allOnWire} bytes off the network for a ${size}-byte file`);
      assert.ok(someOnWire < 256 * 1024, `loading two small tensors read ${someOnWire} bytes off the network (file: ${size})`);
    }
  });

  it("a save landing between the ranged reads of one load never mixes two checkpoints: the load starts over once", async () => {
    const key = "run/v0/checkpoints/torn.safetensors";
    const context = { name: "torn.safetensors", extension: ".safetensors" };
    const direct = new BackendArtifactStorage({ backend: await h.backend(), key });
    await checkpointHandler.save(threeTensors(1), direct, undefined, context);

    // keys: the first 64 KiB, then `a`, then `b`, each its own read; the new save lands before `b` is read.
    let hook = hookedBackend(await h.backend(), key, async (read) => {
      if (read === 3) await checkpointHandler.save(threeTensors(2), direct, undefined, context);
    });
    const some = (await checkpointHandler.load(new BackendArtifactStorage({ backend: hook.backend, key }), { keys: ["a", "b"] }, context)) as Record<string, Tensor>;
    assert.equal(some.a?.data[0], some.b?.data[0], "a and b come from two different saves");
    assert.deepEqual(some, { a: threeTensors(2).a, b: threeTensors(2).b });
    assert.equal(hook.reads(), 6, "three reads at the first revision, then three at the new one");

    // A whole load: the header from the first read, the tensors in a second; the new save moves every tensor.
    hook = hookedBackend(await h.backend(), key, async (read) => {
      if (read === 2) await checkpointHandler.save(threeTensors(3, 90_000), direct, undefined, context);
    });
    const all = await checkpointHandler.load(new BackendArtifactStorage({ backend: hook.backend, key }), undefined, context);
    assert.deepEqual(all, threeTensors(3, 90_000));
  });

  it("a checkpoint that changes again while the load starts over fails TRANSIENT saying so", async () => {
    const key = "run/v0/checkpoints/busy.safetensors";
    const context = { name: "busy.safetensors", extension: ".safetensors" };
    const direct = new BackendArtifactStorage({ backend: await h.backend(), key });
    await checkpointHandler.save(threeTensors(1), direct, undefined, context);
    let fill = 1;
    // The second ranged read of each attempt (its first tensor) comes after another save.
    const hook = hookedBackend(await h.backend(), key, async (read) => {
      if (read === 2 || read === 4) await checkpointHandler.save(threeTensors(++fill), direct, undefined, context);
    });
    const storage = new BackendArtifactStorage({ backend: hook.backend, key });
    await rejectsWith(checkpointHandler.load(storage, { keys: ["a", "b"] }, context), "TRANSIENT", "busy.safetensors", "changed while being read");
    assert.equal(hook.reads(), 4);
    // The artifact itself is whole: a load without a writer in the way gets the last save.
    assert.deepEqual(await checkpointHandler.load(direct, { keys: ["b"] }, context), { b: threeTensors(fill).b });
  });

  it("readRange pinned to a revision refuses the object once it was replaced or deleted", async () => {
    const storage = await h.save("pinned.safetensors", threeTensors(1));
    const { size, revision } = await storage.info();
    assert.equal(size, await storage.size());
    assert.equal((await storage.readRange(8, 0, "", { ifRevision: revision })).byteLength, 0);
    assert.equal((await storage.readRange(0, 16, "", { ifRevision: revision })).byteLength, 16);
    await h.save("pinned.safetensors", threeTensors(2));
    assert.notEqual((await storage.info()).revision, revision);
    await rejectsWith(storage.readRange(0, 16, "", { ifRevision: revision }), "PRECONDITION_FAILED", "pinned.safetensors");
    await rejectsWith(storage.readRange(100_000, 16, "", { ifRevision: revision }), "PRECONDITION_FAILED", "pinned.safetensors");
    await storage.delete();
    await rejectsWith(storage.readRange(0, 16, "", { ifRevision: revision }), "NOT_FOUND", "pinned.safetensors");
  });

  it("reads headers longer than the first ranged read", async () => {
    const many: Record<string, Tensor> = {};
    for (let index = 0; index < 2000; index++) many[`layer_${index}.weight`] = tensor("U8", [1], new Uint8Array([index % 256]));
    await h.save("many.safetensors", { many });
    const loaded = (await h.load("many.safetensors")) as { many: Record<string, Tensor> };
    assert.equal(Object.keys(loaded.many).length, 2000);
    assert.deepEqual(loaded.many["layer_1999.weight"], tensor("U8", [1], new Uint8Array([1999 % 256])));
    assert.deepEqual(await h.load("many.safetensors", { keys: ["many.layer_7.weight"] }), { many: { "layer_7.weight": tensor("U8", [1], new Uint8Array([7])) } });
  });

  it("reports malformed safetensors as CORRUPT_DATA naming the path", async () => {
    const good = (offsets: string, dtype = "U8", shape = "[2]") => `{"t":{"dtype":"${dtype}","shape":${shape},"data_offsets":${offsets}}}`;
    const cases: [Uint8Array, string][] = [
      [new Uint8Array([1, 2, 3]), "fewer than the 8-byte"],
      [new Uint8Array([...u64(1000), ...ascii("{}")]), "header length 1000 is larger than the 2 bytes after it."],
      [new Uint8Array([...u64(2 ** 40), ...ascii("{}")]), "header length"],
      [safetensorsFile(`{"t": [1, 2`, []), "not JSON"],
      [safetensorsFile(`[1,2]`, []), "not a JSON object"],
      [safetensorsFile(`{"t":{"dtype":7,"shape":[2],"data_offsets":[0,2]}}`, [1, 2]), "no dtype string"],
      [safetensorsFile(`{"t":{"shape":[2],"data_offsets":[0,2]}}`, [1, 2]), "no dtype string"],
      [safetensorsFile(good("[2,0]", "Q8"), [1, 2]), "end before they begin"],
      [safetensorsFile(good("[0,2]", "Q8"), [1, 2, 3]), "data section"],
      [safetensorsFile(good("[0,3]"), [1, 2, 3]), "needs 2 bytes"],
      [safetensorsFile(good("[0,2]", "U8", "[-2]"), [1, 2]), "invalid shape"],
      [safetensorsFile(good("[0]"), [1, 2]), "data_offsets"],
      [safetensorsFile(good("[0,2]"), [1, 2, 3, 4]), "data section"],
      [safetensorsFile(good("[2,4]"), [1, 2, 3, 4]), "gap"],
      [safetensorsFile(good("[0,2]"), [1]), "data section"],
      [safetensorsFile(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}`, [1, 2, 3]), "overlaps"],
      [safetensorsFile(`{"__metadata__":{"k":1}}`, []), "__metadata__.k"],
      [safetensorsFile(`{"__metadata__":{"opencrate.layout":"[oops"}}`, []), "opencrate.layout is not JSON"],
      [safetensorsFile(`{"__metadata__":{"opencrate.layout":"[\\"tree\\",[[\\"x\\",[\\"tensor\\",\\"gone\\"]]]]"}}`, []), "gone"],
      [new Uint8Array([...u64(2), 0xff, 0xfe]), "not JSON"],
    ];
    for (const [bytes, part] of cases) {
      await h.plant("broken.safetensors", bytes);
      await rejectsWith(h.load("broken.safetensors"), "CORRUPT_DATA", "broken.safetensors", part);
    }
  });

  it("a tensor of a dtype it does not decode (safetensors' C64) is NOT_SUPPORTED naming it; the others load by keys", async () => {
    // As safetensors 0.8 writes a complex64 tensor next to a float32 one.
    const header = `{"z":{"dtype":"C64","shape":[2],"data_offsets":[0,16]},"w":{"dtype":"F32","shape":[1],"data_offsets":[16,20]}}`;
    await h.plant("complex.safetensors", safetensorsFile(header, [...new Uint8Array(new Float32Array([1, 2, 3, -4, 0.5]).buffer)]));
    await rejectsWith(h.load("complex.safetensors"), "NOT_SUPPORTED", "complex.safetensors", '"z" is C64', "keys option");
    await rejectsWith(h.load("complex.safetensors", { keys: ["z"] }), "NOT_SUPPORTED", "complex.safetensors", "C64");
    assert.deepEqual(await h.load("complex.safetensors", { keys: ["w"] }), { w: tensor("F32", [1], new Float32Array([0.5])) });
    await h.plant("only.safetensors", safetensorsFile(`{"q":{"dtype":"F4","shape":[4],"data_offsets":[0,2]}}`, [1, 2]));
    const error = await rejectsWith(h.load("only.safetensors"), "NOT_SUPPORTED", "only.safetensors", '"q" is F4');
    assert.ok(!error.message.includes("keys option"), error.message);
  });

  it("rejects bad checkpoints before writing", async () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const cases: [unknown, string][] = [
      [[1, 2], "nested object"],
      [{ t: tensor("X9" as Tensor["dtype"], [1], new Uint8Array(1)) }, '"t" has the dtype "X9"'],
      [{ t: tensor("F32", [2.5], new Float32Array(2)) }, "shape"],
      [{ t: tensor("F32", [3], new Float32Array(2)) }, "needs 12"],
      [{ m: { t: tensor("F32", [2], new Int32Array(2)) } }, '"m.t" is F32, whose data must be Float32Array'],
      [{ t: { dtype: "F32", shape: [1], data: [1] } }, "needs data as"],
      [{ lr: Number.NaN }, '"lr" is NaN'],
      [{ list: [1, { a: 1 }] }, '"list"[1]'],
      [{ when: new Date() }, '"when" must be a tensor'],
      [cyclic, "circular"],
    ];
    for (const [value, part] of cases) {
      await rejectsWith(h.save("bad.safetensors", value as CheckpointTree), "INVALID_ARGUMENT", "bad.safetensors", part);
    }
    await assertNothingStored((await h.at("bad.safetensors")).storage);
  });

  it("refuses trees nested more than 1000 objects deep before writing; 1000 round-trip", async () => {
    await rejectsWith(h.save("deep.safetensors", nestedTree(1001)), "INVALID_ARGUMENT", "deep.safetensors", "more than 1000 levels deep");
    await rejectsWith(h.save("deep.safetensors", nestedTree(20_000)), "INVALID_ARGUMENT", "deep.safetensors", "more than 1000 levels deep");
    await assertNothingStored((await h.at("deep.safetensors")).storage);
    await h.save("deep.safetensors", nestedTree(1000));
    assert.deepEqual(await h.load("deep.safetensors"), nestedTree(1000));
  });

  it("loads a stored layout as deep as earlier releases saved (1,400), and one deeper than 1500 is CORRUPT_DATA naming the path", async () => {
    const layoutOf = (levels: number): string => '["tree",[["a",'.repeat(levels) + '["value",1]' + "]]]".repeat(levels);
    await h.plant("layoutdeep.safetensors", safetensorsFile(JSON.stringify({ __metadata__: { "opencrate.layout": layoutOf(1400) } }), []));
    // Walked down level by level: a recursive deepEqual of 1,400 levels can exhaust the test's stack by itself.
    let node: unknown = await h.load("layoutdeep.safetensors");
    for (let level = 0; level < 1400; level++) {
      assert.deepEqual(Object.keys(node as object), ["a"], `level ${level}`);
      node = (node as { a: unknown }).a;
    }
    assert.equal(node, 1);
    for (const levels of [1501, 20_000]) {
      await h.plant("layoutdeep.safetensors", safetensorsFile(JSON.stringify({ __metadata__: { "opencrate.layout": layoutOf(levels) } }), []));
      await rejectsWith(h.load("layoutdeep.safetensors"), "CORRUPT_DATA", "layoutdeep.safetensors", "more than 1500 levels deep");
    }
  });

  it("refuses a checkpoint whose header would pass the 100 MB loaders take, before writing", async (t) => {
    if ((await h.backend()).kind !== "memory") return t.skip("refused before any I/O; the memory run covers it");
    const tree = { note: "x".repeat(100_000_000), w: tensor("U8", [1], new Uint8Array([1])) };
    await rejectsWith(h.save("bigheader.safetensors", tree), "INVALID_ARGUMENT", "bigheader.safetensors", "over the 100000000-byte (100 MB) limit");
    await assertNothingStored((await h.at("bigheader.safetensors")).storage);
    // A file declaring such a header is refused at load for the limit, not for its size.
    const file = new Uint8Array(8 + 100_000_008);
    file.set(u64(100_000_008));
    await h.plant("bigheader.safetensors", file);
    const error = await rejectsWith(h.load("bigheader.safetensors"), "CORRUPT_DATA", "bigheader.safetensors", "header length 100000008 is over the 100000000-byte");
    assert.ok(!error.message.includes("bytes after it"), error.message);
  });

  it("stores other formats as given and loads bytes", async () => {
    const pth = new Uint8Array([0x50, 0x4b, 0x03, 0x04, 9, 9]);
    await h.save("model.pth", pth);
    const loaded = await h.load("model.pth");
    assert.equal(loaded.constructor, Uint8Array);
    assert.deepEqual(loaded, pth);
    await h.save("model.onnx", Readable.from([Buffer.alloc(100_000, 3)]));
    assert.equal(((await h.load("model.onnx")) as Uint8Array).length, 100_000);
    const file = join(scratch, "weights.gguf");
    await writeFile(file, Buffer.from("GGUF-bytes"));
    await h.save("weights.gguf", { file });
    assert.equal(Buffer.from((await h.load("weights.gguf")) as Uint8Array).toString(), "GGUF-bytes");
    await h.save("copy.safetensors", await (await h.at("tiny.safetensors")).storage.read());
    assert.equal(((await h.load("copy.safetensors")) as CheckpointTree).step, 3);
    await rejectsWith(h.save("model.pt", { w: tensor("F32", [1], new Float32Array(1)) }), "INVALID_ARGUMENT", "model.pt", "only .safetensors");
    await rejectsWith(h.load("model.pth", { keys: ["w"] }), "INVALID_ARGUMENT", "model.pth", "keys");
    await assertNothingStored((await h.at("model.pt")).storage);
  });
});

/** Loads a planted checkpoint whose stored layout nests `levels` objects, in a worker with a 1 MB call stack. */
async function loadInSmallStack(levels: number): Promise<SmallStackResult> {
  const worker = new Worker(new URL("./small-stack-load.ts", import.meta.url), { workerData: { levels }, resourceLimits: { stackSizeMb: 1 } });
  try {
    const [result] = (await once(worker, "message")) as [SmallStackResult];
    return result;
  } finally {
    await worker.terminate();
  }
}

it("a stored layout 1500 levels deep loads in a worker with a 1 MB stack; 1501 is the same CORRUPT_DATA there", async () => {
  assert.deepEqual(await loadInSmallStack(1500), { depth: 1500, leaf: 1 });
  const refused = await loadInSmallStack(1501);
  assert.equal("code" in refused ? refused.code : refused, "CORRUPT_DATA");
  assert.ok("message" in refused && refused.message.endsWith("opencrate.layout nests objects more than 1500 levels deep, more than any checkpoint saved by opencrate."), JSON.stringify(refused));
});
