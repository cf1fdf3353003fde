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
    for (const [value, part] of [[undefined, "undefined"], [{ n: 1n }, "BigInt"], [cyclic, "circular"], [{ f: Math.max }, "function"]] as const) {
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
