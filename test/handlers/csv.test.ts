import assert from "node:assert/strict";
import { it } from "node:test";
import { csvHandler } from "../../src/handlers/csv.ts";
import type { CsvInput } from "../../src/handlers/data-types.ts";
import { assertNothingStored, describeOverBackends, rejectsWith } from "./support.ts";

describeOverBackends("csv handler", csvHandler, (h) => {
  it("round-trips row objects with numbers typed", async () => {
    const rows = [
      { col_a: 100, col_b: 300 },
      { col_a: 200, col_b: 400 },
    ];
    const storage = await h.save("sample_data.csv", rows);
    assert.equal(await storage.readText(), "col_a,col_b\n100,300\n200,400\n");
    assert.deepEqual(await h.load("sample_data.csv"), rows);
  });

  it('keeps a "__proto__" column and loads it back as an own entry of a plain object', async () => {
    const rows = [JSON.parse('{"__proto__":1,"b":2}') as Record<string, number>];
    const storage = await h.save("proto.csv", rows);
    assert.equal(await storage.readText(), "__proto__,b\n1,2\n");
    const [loaded] = await h.load("proto.csv");
    assert.deepEqual(loaded, rows[0]);
    assert.ok(loaded !== undefined && Object.hasOwn(loaded, "__proto__"));
    assert.equal(Object.getPrototypeOf(loaded), Object.prototype);
  });

  it("takes the header from the union of keys, first seen first; missing cells are empty and load as null", async () => {
    const storage = await h.save("union.csv", [{ b: 1, a: "x" }, { c: true }, { a: null, b: -2.5e-3 }]);
    assert.equal(await storage.readText(), "b,a,c\n1,x,\n,,true\n-0.0025,,\n");
    assert.deepEqual(await h.load("union.csv"), [
      { b: 1, a: "x", c: null },
      { b: null, a: null, c: "true" },
      { b: -0.0025, a: null, c: null },
    ]);
  });

  it("orders object columns by { header } and rejects keys outside it", async () => {
    const storage = await h.save("ordered.csv", [{ a: 1, b: 2 }], { header: ["b", "a"] });
    assert.equal(await storage.readText(), "b,a\n2,1\n");
    await rejectsWith(h.save("ordered2.csv", [{ a: 1, z: 2 }], { header: ["a"] }), "INVALID_ARGUMENT", "ordered2.csv", '"z"');
  });

  it("writes arrays of arrays with an optional header", async () => {
    const storage = await h.save("grid.csv", [["x", 1], ["y", 2]], { header: ["name", "value"] });
    assert.equal(await storage.readText(), "name,value\nx,1\ny,2\n");
    assert.deepEqual(await h.load("grid.csv"), [{ name: "x", value: 1 }, { name: "y", value: 2 }]);
    await h.save("plain.csv", [["a", "b"], ["1", "2"]]);
    assert.deepEqual(await h.load("plain.csv", { header: false }), [["a", "b"], ["1", "2"]]);
  });

  it("quotes what needs quoting and reads it back", async () => {
    const rows = [{ text: 'comma, "quote"\nnewline', spaced: " padded ", formula: "=1+1", date: "2025-01-01" }];
    await h.save("quoted.csv", rows);
    assert.deepEqual(await h.load("quoted.csv"), rows);
  });

  it("keeps number-like strings that would not survive as numbers", async () => {
    await h.plant("ids.csv", "zip,id,plus,big,huge,num,neg,exp,nan\n007,00.5,+5,12345678901234567890,1e999,0.5,-3,1e3,NaN\n");
    assert.deepEqual(await h.load("ids.csv"), [
      { zip: "007", id: "00.5", plus: "+5", big: "12345678901234567890", huge: "1e999", num: 0.5, neg: -3, exp: 1000, nan: "NaN" },
    ]);
  });

  it("types a field as a number only when the number holds the decimal value it spells", async () => {
    const fields: [string, string | number][] = [
      // kept as text: the number would lose what the field says
      ["1e-400", "1e-400"],
      ["-2.5e-330", "-2.5e-330"],
      ["4e-324", "4e-324"],
      ["12345678901234567890.5", "12345678901234567890.5"],
      ["0.10000000000000000001", "0.10000000000000000001"],
      ["1.0000000000000001", "1.0000000000000001"],
      ["123456789012345678e3", "123456789012345678e3"],
      // numbers: the same decimal value, however it is spelled
      ["0.1", 0.1],
      ["1.50", 1.5],
      ["1e3", 1000],
      ["15E-1", 1.5],
      ["0.30000000000000004", 0.30000000000000004],
      ["1.7976931348623157e308", 1.7976931348623157e308],
      ["5e-324", 5e-324],
      ["0e-400", 0],
      ["0.000", 0],
      ["1e+21", 1e21],
      ["9007199254740991", 9007199254740991],
      // the number rounded to the field's digits: numpy's savetxt ("%.18e"), C's "%.17g", a float32 written in full
      ["1.000000000000000056e-01", 0.1],
      ["3.333333333333333148e-01", 1 / 3],
      ["1.000000000000000000e+00", 1],
      ["0.10000000000000001", 0.1],
      ["1.000000014901161194e-01", Math.fround(0.1)],
    ];
    await h.plant("decimals.csv", `${fields.map((_, index) => `c${index}`).join(",")}\n${fields.map(([field]) => field).join(",")}\n`);
    const [row] = (await h.load("decimals.csv")) as Record<string, unknown>[];
    fields.forEach(([field, expected], index) => assert.equal(row?.[`c${index}`], expected, field));
    await h.plant("zeros.csv", "a,b,c\n-0,-0.0,-0e5\n");
    const [zeros] = (await h.load("zeros.csv")) as Record<string, unknown>[];
    for (const key of ["a", "b", "c"]) assert.ok(Object.is(zeros?.[key], -0), key);
  });

  it("types fields the same on either side of 15 significant digits, near the ends of the double range and at rounding ties", async () => {
    const fields: [string, string | number][] = [
      ["0.123456789012345", 0.123456789012345],
      ["0.1234567890123456", 0.1234567890123456],
      ["0.12345678901234567", "0.12345678901234567"],
      ["0.123456789012345678", "0.123456789012345678"],
      ["123456789012345", 123456789012345],
      ["1234567890123456", 1234567890123456],
      ["12345678901234567", "12345678901234567"],
      ["1.79769313486231e308", 1.79769313486231e308],
      ["1.79769313486232e308", "1.79769313486232e308"],
      ["1.7976931348623157e308", 1.7976931348623157e308],
      ["1.797693134862315708e+308", 1.7976931348623157e308],
      ["-1e308", -1e308],
      ["1e-307", 1e-307],
      ["9.99999999999999e-308", 9.99999999999999e-308],
      ["2.2250738585072014e-308", 2.2250738585072014e-308],
      ["2.225073858507201e-308", 2.225073858507201e-308],
      ["2.225073858507201136e-308", "2.225073858507201136e-308"],
      ["1.5e-323", 1.5e-323],
      ["4.940656458412465442e-324", 5e-324],
      ["1.23456789012345e-320", "1.23456789012345e-320"],
      ["1e-400", "1e-400"],
      ["12345678901234567890.5", "12345678901234567890.5"],
      ["007", "007"],
      ["-007", "-007"],
      ["00.5", "00.5"],
      ["0e-400", 0],
      ["1.000000000000000000e+00", 1],
      ["9.999999999999998890e-01", 1 - 2 ** -53],
      ["9.999999999999998889e-01", "9.999999999999998889e-01"],
      ["1.000000000000000056e-01", 0.1],
      ["-1.000000000000000056e-01", -0.1],
      ["1.000000000000000055e-01", "1.000000000000000055e-01"],
      // 1 + 2^-52 is 1.0000000000000002220446049250313080847263336181640625: at 52 digits the tie rounds up
      ["1.000000000000000222044604925031308084726333618164063", 1 + 2 ** -52],
      ["1.000000000000000222044604925031308084726333618164062", "1.000000000000000222044604925031308084726333618164062"],
      ["1.000000000000000222044604925031308084726333618164062500", 1 + 2 ** -52],
    ];
    await h.plant("edges.csv", `${fields.map((_, index) => `c${index}`).join(",")}\n${fields.map(([field]) => field).join(",")}\n`);
    const [row] = (await h.load("edges.csv")) as Record<string, unknown>[];
    fields.forEach(([field, expected], index) => assert.equal(row?.[`c${index}`], expected, field));
    await h.plant("zeros.csv", "a,b,c\n-0,-0.000,-0e+999\n");
    const [zeros] = (await h.load("zeros.csv")) as Record<string, unknown>[];
    for (const key of ["a", "b", "c"]) assert.ok(Object.is(zeros?.[key], -0), key);
  });

  it("types numpy's 19-digit fields without toPrecision, whose bignum path makes such loads several times slower", async () => {
    const values = Array.from({ length: 200 }, (_, index) => (index - 100) / 7 + index * 1e-9);
    await h.plant("numpy.csv", `x\n${values.map((value) => value.toExponential(18)).join("\n")}\n`);
    const original = Object.getOwnPropertyDescriptor(Number.prototype, "toPrecision") as PropertyDescriptor;
    let calls = 0;
    Object.defineProperty(Number.prototype, "toPrecision", {
      ...original,
      value(this: number, precision?: number): string {
        calls++;
        return (original.value as (this: number, precision?: number) => string).call(this, precision);
      },
    });
    let loaded: unknown;
    try {
      loaded = await h.load("numpy.csv");
    } finally {
      Object.defineProperty(Number.prototype, "toPrecision", original);
    }
    assert.deepEqual(loaded, values.map((x) => ({ x })));
    assert.equal(calls, 0);
  });

  it("loads back every finite number it saves as itself, -0 included; NaN, Infinity and booleans as text", async () => {
    const numbers = [0, -0, 1, -1, 0.1, 1 / 3, -2.5e-308, 5e-324, Number.MAX_VALUE, Number.MIN_VALUE, 1e21, 1e-7, 123.456e-10, 2 ** 53 - 1];
    const rows = numbers.map((value) => ({ value }));
    const storage = await h.save("numbers.csv", rows);
    assert.ok((await storage.readText()).includes("\n-0\n"));
    const loaded = (await h.load("numbers.csv")) as { value: unknown }[];
    numbers.forEach((value, index) => assert.ok(Object.is(loaded[index]?.value, value), `${value} came back as ${String(loaded[index]?.value)}`));
    await h.save("words.csv", [{ nan: Number.NaN, inf: Number.POSITIVE_INFINITY, minus: Number.NEGATIVE_INFINITY, yes: true, no: false }]);
    assert.deepEqual(await h.load("words.csv"), [{ nan: "NaN", inf: "Infinity", minus: "-Infinity", yes: "true", no: "false" }]);
  });

  it("writes Dates as ISO 8601 and an empty array as an empty file", async () => {
    const storage = await h.save("dates.csv", [{ at: new Date("2025-11-16T11:45:00Z") }]);
    assert.equal(await storage.readText(), "at\n2025-11-16T11:45:00.000Z\n");
    const empty = await h.save("empty.csv", []);
    assert.equal(await empty.readText(), "");
    assert.deepEqual(await h.load("empty.csv"), []);
    assert.deepEqual(await h.load("empty.csv", { header: false }), []);
    const headerOnly = await h.save("header-only.csv", [], { header: ["a", "b"] });
    assert.equal(await headerOnly.readText(), "a,b\n");
    assert.deepEqual(await h.load("header-only.csv"), []);
  });

  it("reads CRLF files, a byte order mark, and keeps null rows of a one-column file", async () => {
    await h.plant("crlf.csv", "\uFEFFa,b\r\n1,2\r\n\r\n3,4\r\n");
    assert.deepEqual(await h.load("crlf.csv"), [{ a: 1, b: 2 }, { a: 3, b: 4 }]);
    const storage = await h.save("one.csv", [{ v: 1 }, { v: null }, { v: 3 }]);
    assert.equal(await storage.readText(), "v\n1\n\n3\n");
    assert.deepEqual(await h.load("one.csv"), [{ v: 1 }, { v: null }, { v: 3 }]);
  });

  it("rejects bad rows and cells before writing", async () => {
    const cases: [unknown, unknown, string][] = [
      [{ a: 1 }, undefined, "array of rows"],
      [[{ a: 1 }, ["x"]], undefined, "mix"],
      [[1, 2], undefined, "row 0"],
      [[["a", "b"], ["c"]], undefined, "row 1 has 1 cells"],
      [[["a"]], { header: ["x", "y"] }, "the header has 2"],
      [[{ a: { nested: true } }], undefined, 'column "a"'],
      [[{ a: 1n }], undefined, "bigint"],
      [[["a"]], { header: ["x", "x"] }, "twice"],
    ];
    for (const [rows, options, part] of cases) {
      await rejectsWith(h.save("bad.csv", rows as CsvInput, options as { header: string[] }), "INVALID_ARGUMENT", "bad.csv", part);
    }
    await assertNothingStored((await h.at("bad.csv")).storage);
  });

  it("refuses cells and column names with a lone surrogate, naming where", async () => {
    const cases: [unknown, object | undefined, string][] = [
      [[{ name: "a\uD800b" }], undefined, 'row 0, column "name" holds a lone surrogate (\\uD800) at index 1'],
      [[["ok", "x\uDC00"]], undefined, 'row 0, column "1"'],
      [[{ ["k\uD800"]: 1 }], undefined, "the column name"],
      [[[1]], { header: ["\uDFFF"] }, "the column name"],
    ];
    for (const [rows, options, part] of cases) {
      await rejectsWith(h.save("lone.csv", rows as never, options as never), "INVALID_ARGUMENT", "lone.csv", part);
    }
    await assertNothingStored((await h.at("lone.csv")).storage);
  });

  it("reports malformed CSV as CORRUPT_DATA naming the path and the row", async () => {
    await h.plant("unclosed.csv", 'a,b\n1,"2\n3,4\n');
    await rejectsWith(h.load("unclosed.csv"), "CORRUPT_DATA", "unclosed.csv", "row 2");
    await h.plant("ragged.csv", "a,b\n1,2\n3,4,5\n");
    await rejectsWith(h.load("ragged.csv"), "CORRUPT_DATA", "ragged.csv", "row 3 has 3 fields");
    await rejectsWith(h.load("ragged.csv", { header: false }), "CORRUPT_DATA", "row 3");
    await h.plant("short.csv", "a,b,c\n1,2\n");
    await rejectsWith(h.load("short.csv"), "CORRUPT_DATA", "row 2 has 2 fields");
    await h.plant("dupes.csv", "a,a\n1,2\n");
    await rejectsWith(h.load("dupes.csv"), "CORRUPT_DATA", "dupes.csv", "twice");
    assert.deepEqual(await h.load("dupes.csv", { header: false }), [["a", "a"], ["1", "2"]]);
  });
});
