import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { InvalidArgumentError } from "../../src/errors.ts";
import {
  formatConsoleLine,
  formatException,
  formatFileLine,
  formatMessage,
  formatPart,
  shouldUseColor,
} from "../../src/logs/format.ts";
import type { LogLevelName } from "../../src/logs/levels.ts";
import { isLevelEnabled, LOG_LEVEL_NAMES, LOG_LEVEL_VALUES, parseLogLevel } from "../../src/logs/levels.ts";

const FIXED = new Date(2025, 10, 16, 9, 5, 7, 123); // local time 2025-11-16 09:05:07

describe("log levels", () => {
  it("parses every name in any case", () => {
    for (const name of LOG_LEVEL_NAMES) {
      assert.equal(parseLogLevel(name), name);
      assert.equal(parseLogLevel(name.toUpperCase()), name);
    }
    assert.equal(parseLogLevel("Warning"), "warning");
  });

  it("rejects other names with InvalidArgumentError listing the valid ones", () => {
    for (const bad of ["trace", "", "warn", "fatal"]) {
      assert.throws(
        () => parseLogLevel(bad),
        (error: unknown) =>
          error instanceof InvalidArgumentError &&
          error.code === "INVALID_ARGUMENT" &&
          error.message.includes("debug, info, success, warning, error, critical"),
      );
    }
  });

  it("orders DEBUG < INFO < SUCCESS < WARNING < ERROR < CRITICAL", () => {
    const values = LOG_LEVEL_NAMES.map((name) => LOG_LEVEL_VALUES[name]);
    assert.deepEqual(values, [...values].sort((a, b) => a - b));
    assert.equal(new Set(values).size, 6);
    assert.equal(isLevelEnabled("success", "info"), true);
    assert.equal(isLevelEnabled("info", "success"), false);
  });
});

describe("file line", () => {
  it("is `YYYY-MM-DD HH:mm:ss - LEVEL    message` with the level padded to 8", () => {
    const expected: Record<LogLevelName, string> = {
      debug: "2025-11-16 09:05:07 - DEBUG    hello",
      info: "2025-11-16 09:05:07 - INFO     hello",
      success: "2025-11-16 09:05:07 - SUCCESS  hello",
      warning: "2025-11-16 09:05:07 - WARNING  hello",
      error: "2025-11-16 09:05:07 - ERROR    hello",
      critical: "2025-11-16 09:05:07 - CRITICAL hello",
    };
    for (const level of LOG_LEVEL_NAMES) assert.equal(formatFileLine(FIXED, level, "hello"), expected[level]);
  });

  it("writes the message raw, multi-line as is, braces and markup literally", () => {
    assert.equal(formatFileLine(FIXED, "info", "a\nb {x} <red>"), "2025-11-16 09:05:07 - INFO     a\nb {x} <red>");
    assert.equal(formatFileLine(FIXED, "info", ""), "2025-11-16 09:05:07 - INFO     ");
  });

  it("uses local time, zero-padded, and changes with the second", () => {
    const early = new Date(2024, 0, 2, 3, 4, 5);
    assert.equal(formatFileLine(early, "info", "x"), "2024-01-02 03:04:05 - INFO     x");
    assert.equal(formatFileLine(new Date(2024, 0, 2, 3, 4, 6), "info", "x"), "2024-01-02 03:04:06 - INFO     x");
  });
});

describe("console line", () => {
  it("is the level padded to 8, two spaces, the message, without colour", () => {
    assert.equal(formatConsoleLine("info", "msg", false), "INFO      msg");
    assert.equal(formatConsoleLine("critical", "msg", false), "CRITICAL  msg");
    assert.equal(formatConsoleLine("success", "a\nb", false), "SUCCESS   a\nb");
  });

  it("wraps the padded level in the level's colour", () => {
    const codes: Record<LogLevelName, string> = {
      debug: "34;1",
      info: "1",
      success: "32;1",
      warning: "33;1",
      error: "31;1",
      critical: "41;1",
    };
    for (const level of LOG_LEVEL_NAMES) {
      const plain = level.toUpperCase().padEnd(8);
      assert.equal(formatConsoleLine(level, "m", true), `\x1b[${codes[level]}m${plain} \x1b[0m m`);
    }
  });

  it("colours only a TTY, honouring NO_COLOR and FORCE_COLOR", () => {
    const tty = { isTTY: true, hasColors: () => true };
    const pipe = { isTTY: false };
    assert.equal(shouldUseColor(tty, {}), true);
    assert.equal(shouldUseColor(pipe, {}), false);
    assert.equal(shouldUseColor(tty, { NO_COLOR: "1" }), false);
    assert.equal(shouldUseColor(tty, { NO_COLOR: "" }), true);
    assert.equal(shouldUseColor(pipe, { FORCE_COLOR: "1" }), true);
    assert.equal(shouldUseColor(pipe, { FORCE_COLOR: "" }), true);
    assert.equal(shouldUseColor(tty, { FORCE_COLOR: "0" }), false);
    assert.equal(shouldUseColor(tty, { FORCE_COLOR: "false" }), false);
    assert.equal(shouldUseColor(pipe, { FORCE_COLOR: "1", NO_COLOR: "1" }), true);
    assert.equal(shouldUseColor({ isTTY: true, hasColors: () => false }, {}), false);
  });
});

describe("message parts", () => {
  it("joins parts with one space, strings raw and primitives by String()", () => {
    assert.equal(formatMessage(["a", 1, true, null, undefined, 10n, Symbol("s")]), "a 1 true null undefined 10 Symbol(s)");
    assert.equal(formatMessage([]), "");
    assert.equal(formatMessage(["only"]), "only");
  });

  it("inspects objects and arrays (depth 4), uses an own toString, shows errors and dates briefly", () => {
    assert.equal(formatPart({ a: [1, 2], b: "x" }), "{ a: [ 1, 2 ], b: 'x' }");
    assert.equal(formatPart([1, "two"]), "[ 1, 'two' ]");
    const deep = formatPart({ a: { b: { c: { d: { e: { f: 1 } } } } } });
    assert.match(deep, /d: \{ e: \[Object\] \}/); // depth 4: the fifth level is elided
    assert.equal(formatPart(new Map([["k", 1]])), "Map(1) { 'k' => 1 }");
    assert.equal(formatPart(new Uint8Array([1, 2])), "Uint8Array(2) [ 1, 2 ]");
    assert.equal(formatPart(new TypeError("bad")), "TypeError: bad");
    assert.equal(formatPart(new Date(Date.UTC(2025, 0, 1))), "2025-01-01T00:00:00.000Z");
    assert.equal(formatPart(new URL("https://example.com/a")), "https://example.com/a");
    class Point {
      readonly x: number;
      constructor(x: number) {
        this.x = x;
      }
    }
    class Named {
      toString(): string {
        return "named!";
      }
    }
    assert.equal(formatPart(new Point(1)), "Point { x: 1 }");
    assert.equal(formatPart(new Named()), "named!");
    assert.equal(formatPart(Object.create(null)), "[Object: null prototype] {}");
  });
});

describe("exception text", () => {
  it("puts the stack on the lines after the message, then each cause", () => {
    const inner = new RangeError("inner");
    const outer = new Error("outer", { cause: inner });
    const text = formatException("failed", outer);
    const lines = text.split("\n");
    assert.equal(lines[0], "failed");
    assert.equal(lines[1], "Error: outer");
    assert.match(lines[2] ?? "", /^ {4}at /);
    assert.ok(text.includes(`\nCaused by: RangeError: inner\n    at `));
    assert.equal(text, `failed\n${outer.stack}\nCaused by: ${inner.stack}`);
  });

  it("shows a thrown non-Error value, and the call site's stack when no error is given", () => {
    assert.equal(formatException("failed", "just a string"), "failed\njust a string");
    assert.equal(formatException("failed", { code: 7 }), "failed\n{ code: 7 }");
    for (const text of [formatException("failed"), formatException("failed", undefined)]) {
      const [message, heading, firstFrame] = text.split("\n");
      assert.equal(message, "failed");
      assert.equal(heading, "Call stack (no error was given):");
      assert.match(firstFrame ?? "", /test\/logs\/format\.test\.ts:\d+:\d+/);
    }
  });

  it("falls back to `Name: message` when an error has no stack", () => {
    const error = new Error("no stack");
    error.stack = undefined;
    assert.equal(formatException("m", error), "m\nError: no stack");
  });
});
