import assert from "node:assert/strict";
import { it, mock } from "node:test";
import { jsonHandler } from "../../src/handlers/json.ts";
import { assertNothingStored, describeOverBackends, rejectsWith } from "./support.ts";

describeOverBackends("json handler", jsonHandler, (h) => {
  it("round-trips nested values, compact by default, with a final newline", async () => {
    const value = { array: [10, 20, 30], message: "Sample JSON data", nested: { ok: true, none: null, pi: 3.14 } };
    const storage = await h.save("data.json", value);
    assert.deepEqual(await h.load("data.json"), value);
    assert.equal(await storage.readText(), `${JSON.stringify(value)}\n`);
  });

  it('keeps a "__proto__" key, from an object or a Map, and loads it back as an own entry of a plain object', async () => {
    const value = JSON.parse('{"__proto__":{"x":1},"b":2}') as Record<string, unknown>;
    const storage = await h.save("proto.json", value);
    assert.equal(await storage.readText(), '{"__proto__":{"x":1},"b":2}\n');
    const loaded = (await h.load("proto.json")) as Record<string, unknown>;
    assert.deepEqual(loaded, value);
    assert.ok(Object.hasOwn(loaded, "__proto__"));
    assert.equal(Object.getPrototypeOf(loaded), Object.prototype);
    await h.save("proto-map.json", new Map<string, unknown>([["__proto__", { x: 1 }], ["b", 2]]));
    assert.deepEqual(await h.load("proto-map.json"), value);
  });

  it("pretty-prints with { indent }", async () => {
    const storage = await h.save("pretty.json", { a: [1] }, { indent: 2 });
    assert.equal(await storage.readText(), '{\n  "a": [\n    1\n  ]\n}\n');
  });

  it("round-trips top-level scalars and arrays", async () => {
    for (const value of [0, "text", false, null, [1, "two", [3]]]) {
      await h.save("scalar.json", value);
      assert.deepEqual(await h.load("scalar.json"), value);
    }
  });

  it("converts Date, Set, Map, typed arrays and toJSON; drops undefined entries", async () => {
    const when = new Date("2025-11-16T11:45:00.000Z");
    class Point {
      x = 1;
      toJSON() {
        return [this.x, 2];
      }
    }
    const value = {
      when,
      tags: new Set(["a", "b"]),
      counts: new Map<string | number, number>([["x", 1], [2, 3]]),
      bytes: new Uint8Array([1, 2]),
      point: new Point(),
      gone: undefined,
      holes: [undefined, 1],
      nan: Number.NaN,
    };
    await h.save("converted.json", value);
    assert.deepEqual(await h.load("converted.json"), {
      when: "2025-11-16T11:45:00.000Z",
      tags: ["a", "b"],
      counts: { x: 1, "2": 3 },
      bytes: [1, 2],
      point: [1, 2],
      holes: [null, 1],
      nan: null,
    });
  });

  it("rejects undefined, BigInt, functions and cycles before writing, naming the location", async () => {
    const cyclic: Record<string, unknown> = { a: {} };
    (cyclic.a as Record<string, unknown>).back = cyclic;
    const cases: [unknown, string][] = [
      [undefined, "undefined"],
      [{ big: 10n }, "$.big"],
      [{ list: [1, () => 2] }, "$.list[1]"],
      [cyclic, "circular"],
      [new Map([[{}, 1]]), "Map key"],
      [{ m: new Map<unknown, number>([[1, 1], ["1", 2]]) }, 'keys 1 and "1" both become the key "1" (at $.m)'],
      [new Map<unknown, number>([["true", 1], [true, 2]]), 'keys "true" and true'],
      [{ when: new Date(Number.NaN) }, "invalid Date"],
    ];
    for (const [value, part] of cases) {
      await rejectsWith(h.save("bad.json", value), "INVALID_ARGUMENT", "bad.json", part);
    }
    await rejectsWith(h.save("bad.json", {}, { indent: -1 }), "INVALID_ARGUMENT", "indent");
    await assertNothingStored((await h.at("bad.json")).storage);
  });

  it("refuses values nested more than 1000 arrays and objects deep before writing; 1000 round-trip", async () => {
    const nested = (levels: number, inner: (value: unknown) => unknown): unknown => {
      let value: unknown = 1;
      for (let level = 0; level < levels; level++) value = inner(value);
      return value;
    };
    for (const value of [nested(1001, (n) => ({ n })), nested(1001, (n) => [n]), nested(20_000, (n) => ({ n })), nested(1001, (n) => new Map([["n", n]]))]) {
      await rejectsWith(h.save("deep.json", value), "INVALID_ARGUMENT", "deep.json", "nested more than 1000 levels deep", "(arrays and objects, at $");
    }
    // A toJSON() handing out a fresh object each time, without end, is refused the same way.
    const endless = { toJSON: () => ({ ...endless }) };
    await rejectsWith(h.save("deep.json", endless), "INVALID_ARGUMENT", "deep.json", "nested more than 1000 levels deep");
    await assertNothingStored((await h.at("deep.json")).storage);
    for (const deepest of [nested(1000, (n) => ({ n })), nested(1000, (n) => [n])]) {
      await h.save("deep.json", deepest);
      assert.deepEqual(await h.load("deep.json"), deepest);
    }
  });

  it("reports corrupt JSON as CORRUPT_DATA naming the path", async () => {
    await h.plant("broken.json", '{"a": [1, 2');
    await rejectsWith(h.load("broken.json"), "CORRUPT_DATA", "broken.json", "JSON");
    await h.plant("empty.json", "");
    await rejectsWith(h.load("empty.json"), "CORRUPT_DATA", "empty.json");
  });

  it("loads Python's bare NaN, Infinity and -Infinity as those numbers, wherever a value stands", async () => {
    await h.plant("python.json", '{"loss": NaN, "best": Infinity, "worst": -Infinity, "ok": 1.5}\n');
    assert.deepEqual(await h.load("python.json"), { loss: Number.NaN, best: Infinity, worst: -Infinity, ok: 1.5 });
    const cases: [string, unknown][] = [
      ["NaN", Number.NaN],
      ["-Infinity", -Infinity],
      ["[NaN,[Infinity,[-Infinity, [NaN]]],{\"x\":[{\"y\":NaN}]}]", [Number.NaN, [Infinity, [-Infinity, [Number.NaN]]], { x: [{ y: Number.NaN }] }]],
      // The words inside strings stay strings, escaped quotes and backslashes included.
      ['{"NaN": "NaN", "a\\"NaN": NaN, "b\\\\": "Infinity", "c": "-Infinity"}', { NaN: "NaN", 'a"NaN': Number.NaN, "b\\": "Infinity", c: "-Infinity" }],
      ['["\\"", Infinity, "\\\\", -Infinity, "say \\"NaN\\""]', ['"', Infinity, "\\", -Infinity, 'say "NaN"']],
      ['{ "a" :\n\tNaN , "b":[ Infinity ] }', { a: Number.NaN, b: [Infinity] }],
      ['{"__proto__": NaN, "n": NaN}', JSON.parse('{"__proto__": 0, "n": 0}', (_k, v: unknown) => (v === 0 ? Number.NaN : v))],
    ];
    for (const [text, expected] of cases) {
      await h.plant("tricky.json", text);
      assert.deepEqual(await h.load("tricky.json"), expected, text);
    }
    const proto = (await h.load("tricky.json")) as Record<string, unknown>;
    assert.ok(Object.hasOwn(proto, "__proto__"));
    assert.equal(Object.getPrototypeOf(proto), Object.prototype);
  });

  it("still rejects anything else JSON.parse rejects, with JSON.parse's own message", async () => {
    const invalid = ["NaNx", "[NaNx]", "[1 NaN]", "[NaN NaN]", "{NaN: 1}", "-NaN", "[- Infinity]", "nan", "inf", "[Infinity,]", '{"a": NaN', "[NaN", "NaN]", "+Infinity", "Infinityx", '"NaN" NaN'];
    for (const text of invalid) {
      let message = "";
      try {
        JSON.parse(text);
      } catch (error) {
        message = (error as Error).message;
      }
      await h.plant("bad-nan.json", text);
      await rejectsWith(h.load("bad-nan.json"), "CORRUPT_DATA", "bad-nan.json", message);
    }
  });

  it("a save writes NaN and Infinity as null (JSON.stringify), so they do not come back as numbers", async () => {
    const storage = await h.save("nonfinite.json", { loss: Number.NaN, best: Infinity, worst: -Infinity });
    assert.equal(await storage.readText(), '{"loss":null,"best":null,"worst":null}\n');
    assert.deepEqual(await h.load("nonfinite.json"), { loss: null, best: null, worst: null });
  });

  it("writes -0 as 0 (JSON.stringify), so it loads back as 0", async () => {
    const storage = await h.save("zero.json", { zero: -0 });
    assert.equal(await storage.readText(), '{"zero":0}\n');
    assert.ok(Object.is(((await h.load("zero.json")) as { zero: number }).zero, 0));
  });

  it("reports a file too long for one string as NOT_SUPPORTED, not as bytes that are not UTF-8", async () => {
    await h.plant("huge.json", "[1]");
    const decode = mock.method(TextDecoder.prototype, "decode", () => {
      throw Object.assign(new Error("Cannot create a string longer than 0x1fffffe8 characters"), { code: "ERR_STRING_TOO_LONG" });
    });
    try {
      await rejectsWith(h.load("huge.json"), "NOT_SUPPORTED", "huge.json", "3 bytes", "openRead()");
    } finally {
      decode.mock.restore();
    }
  });

  it("accepts a leading byte order mark", async () => {
    await h.plant("bom.json", "\uFEFF[1]");
    assert.deepEqual(await h.load("bom.json"), [1]);
  });
});
