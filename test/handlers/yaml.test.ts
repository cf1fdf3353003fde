import assert from "node:assert/strict";
import { it } from "node:test";
import { yamlHandler } from "../../src/handlers/yaml.ts";
import { assertNothingStored, describeOverBackends, rejectsWith } from "./support.ts";

describeOverBackends("yaml handler", yamlHandler, (h) => {
  it("round-trips a config and writes keys sorted", async () => {
    const config = { project: "OpenCrate Guide", version: 1.1, settings: { debug_mode: true, alpha: [1, "two"] } };
    const storage = await h.save("config.yaml", config);
    assert.deepEqual(await h.load("config.yaml"), config);
    assert.equal(
      await storage.readText(),
      "project: OpenCrate Guide\nsettings:\n  alpha:\n    - 1\n    - two\n  debug_mode: true\nversion: 1.1\n",
    );
  });

  it('keeps a "__proto__" key and loads it back as an own entry of a plain object', async () => {
    const value = JSON.parse('{"__proto__":{"x":1},"b":2}') as Record<string, unknown>;
    const storage = await h.save("proto.yaml", value);
    assert.equal(await storage.readText(), "__proto__:\n  x: 1\nb: 2\n");
    const loaded = (await h.load("proto.yaml")) as Record<string, unknown>;
    assert.deepEqual(loaded, value);
    assert.ok(Object.hasOwn(loaded, "__proto__"));
    assert.equal(Object.getPrototypeOf(loaded), Object.prototype);
  });

  it("keeps strings that look like other types as strings, and long strings unfolded", async () => {
    const value = { yes: "yes", number: "007", nothing: "null", long: "word ".repeat(40).trim(), multi: "a\nb\n" };
    const storage = await h.save("strings.yaml", value);
    assert.deepEqual(await h.load("strings.yaml"), value);
    assert.ok((await storage.readText()).includes(`long: ${value.long}\n`));
  });

  it("keeps Dates as timestamps, NaN and Infinity as YAML numbers, Set and Map as sequences and mappings", async () => {
    const when = new Date("2025-01-02T03:04:05.000Z");
    const value = { when, nan: Number.NaN, inf: Number.POSITIVE_INFINITY, set: new Set([1, 2]), map: new Map([["k", "v"]]) };
    await h.save("types.yaml", value);
    assert.deepEqual(await h.load("types.yaml"), { when, nan: Number.NaN, inf: Number.POSITIVE_INFINITY, set: [1, 2], map: { k: "v" } });
  });

  it("rejects what YAML cannot hold before writing", async () => {
    const cyclic: unknown[] = [];
    cyclic.push(cyclic);
    for (const [value, part] of [[undefined, "undefined"], [{ n: 1n }, "BigInt"], [cyclic, "circular"], [{ f: Math.max }, "function"], [new Map<unknown, string>([[1, "a"], ["1", "b"]]), "both become the key"]] as const) {
      await rejectsWith(h.save("bad.yaml", value), "INVALID_ARGUMENT", "bad.yaml", part);
    }
    await assertNothingStored((await h.at("bad.yaml")).storage);
  });

  it("refuses values nested more than 1000 arrays and objects deep before writing", async () => {
    for (const levels of [1001, 20_000]) {
      let value: unknown = 1;
      for (let level = 0; level < levels; level++) value = { n: value };
      await rejectsWith(h.save("deep.yaml", value), "INVALID_ARGUMENT", "deep.yaml", "nested more than 1000 levels deep");
    }
    await assertNothingStored((await h.at("deep.yaml")).storage);
  });

  it("loads every nesting save accepts (100 arrays and objects inside one another) and refuses deeper on both sides", async () => {
    const nest = (depth: number, wrap: (inner: unknown, level: number) => unknown, leaf: unknown = 1): unknown => {
      let value = leaf;
      for (let level = 0; level < depth; level++) value = wrap(value, level);
      return value;
    };
    const shapes: [string, (inner: unknown, level: number) => unknown][] = [
      ["arrays", (inner) => [inner]],
      ["objects", (inner) => ({ k: inner })],
      ["objects in arrays", (inner, level) => (level % 2 === 0 ? { k: inner, z: 0 } : [0, inner])],
      ["arrays in objects", (inner, level) => (level % 2 === 0 ? [inner] : { k: inner })],
    ];
    for (const [shape, wrap] of shapes) {
      for (const leaf of [1, [], {}, "a\nb", new Date(0)]) {
        const depth = typeof leaf === "object" && !(leaf instanceof Date) ? 99 : 100;
        const value = nest(depth, wrap, leaf);
        await h.save("deep.yaml", value);
        assert.deepEqual(await h.load("deep.yaml"), value, `${shape} around ${JSON.stringify(leaf)}`);
      }
      await rejectsWith(h.save("deeper.yaml", nest(101, wrap)), "INVALID_ARGUMENT", "deeper.yaml", "at most 100");
      await rejectsWith(h.save("deeper.yaml", nest(100, wrap, [])), "INVALID_ARGUMENT", "deeper.yaml", "at most 100");
    }
    await assertNothingStored((await h.at("deeper.yaml")).storage);
    // Shared objects are measured once, and a shared object deep enough on one path is still refused.
    let shared: unknown = 1;
    for (let level = 0; level < 12; level++) shared = [shared, shared];
    await h.save("shared.yaml", { a: shared });
    assert.deepEqual(((await h.load("shared.yaml")) as { a: unknown }).a, shared);
    const leaf = nest(50, (inner) => [inner]);
    await rejectsWith(h.save("deeper.yaml", [leaf, nest(51, (inner) => ({ k: inner }), leaf)]), "INVALID_ARGUMENT", "deeper.yaml");
    // A file deeper than that is refused at load, as it always was, without exhausting the stack.
    for (const depth of [101, 100_000]) {
      await h.plant("hostile.yaml", `${"[".repeat(depth)}1${"]".repeat(depth)}\n`);
      await rejectsWith(h.load("hostile.yaml"), "CORRUPT_DATA", "hostile.yaml", "maxDepth");
    }
  });

  it("reports corrupt YAML as CORRUPT_DATA naming the path", async () => {
    for (const text of ["a: [1, 2\n", "a: 1\na: 2\n", "key: value\n  bad indent: x\n", "--- 1\n--- 2\n"]) {
      await h.plant("broken.yaml", text);
      await rejectsWith(h.load("broken.yaml"), "CORRUPT_DATA", "broken.yaml", "YAML");
    }
  });

  it("does not construct JavaScript-specific tags (safe schema)", async () => {
    await h.plant("unsafe.yaml", "f: !!js/function 'function () { return 1 }'\n");
    await rejectsWith(h.load("unsafe.yaml"), "CORRUPT_DATA", "unsafe.yaml");
  });
});
