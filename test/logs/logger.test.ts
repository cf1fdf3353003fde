import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { InvalidArgumentError } from "../../src/errors.ts";
import { RunLogger } from "../../src/logs/logger.ts";
import { CapturedConsole, MemorySink, withoutTime } from "./helpers.ts";

function makeLogger(options: { level?: "debug" | "info" | "success" | "warning" | "error" | "critical"; maxPendingLines?: number } = {}) {
  const consoleOutput = new CapturedConsole(false);
  const logger = new RunLogger({ ...options, consoleOutput });
  const sink = new MemorySink();
  return { logger, consoleOutput, sink };
}

describe("RunLogger", () => {
  // Colour depends on the environment; these tests set it up themselves.
  const savedEnv = { NO_COLOR: process.env["NO_COLOR"], FORCE_COLOR: process.env["FORCE_COLOR"] };
  before(() => {
    delete process.env["NO_COLOR"];
    delete process.env["FORCE_COLOR"];
  });
  after(() => {
    for (const [name, value] of Object.entries(savedEnv)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it("writes one file line per call for every level, and the console line without colour off a TTY", () => {
    const { logger, consoleOutput, sink } = makeLogger({ level: "debug" });
    logger.attach(sink);
    logger.debug("d");
    logger.info("i");
    logger.success("s");
    logger.warning("w");
    logger.error("e");
    logger.critical("c");
    assert.deepEqual(sink.lines.map(withoutTime), [
      "DEBUG    d",
      "INFO     i",
      "SUCCESS  s",
      "WARNING  w",
      "ERROR    e",
      "CRITICAL c",
    ]);
    assert.equal(
      consoleOutput.text,
      "DEBUG     d\nINFO      i\nSUCCESS   s\nWARNING   w\nERROR     e\nCRITICAL  c\n",
    );
  });

  it("stamps lines with the current local time", () => {
    const { logger, sink } = makeLogger();
    logger.attach(sink);
    const before = Math.floor(Date.now() / 1000) * 1000;
    logger.info("now");
    const after = Date.now();
    const stamp = sink.lines[0]?.slice(0, 19) ?? "";
    const [date, time] = stamp.split(" ");
    const [y, mo, d] = (date ?? "").split("-").map(Number);
    const [h, mi, s] = (time ?? "").split(":").map(Number);
    const parsed = new Date(y ?? 0, (mo ?? 1) - 1, d, h, mi, s).getTime();
    assert.ok(parsed >= before && parsed <= after, `${stamp} not within the call`);
  });

  it("colours the console on a TTY (unless NO_COLOR)", () => {
    const consoleOutput = new CapturedConsole(true);
    try {
      const logger = new RunLogger({ consoleOutput });
      logger.warning("careful");
      assert.equal(consoleOutput.text, "\x1b[33;1mWARNING  \x1b[0m careful\n");
      process.env["NO_COLOR"] = "1";
      const plain = new CapturedConsole(true);
      new RunLogger({ consoleOutput: plain }).warning("careful");
      assert.equal(plain.text, "WARNING   careful\n");
    } finally {
      delete process.env["NO_COLOR"];
    }
  });

  it("filters console and file alike by level, and setLevel changes it", () => {
    const { logger, consoleOutput, sink } = makeLogger();
    logger.attach(sink);
    logger.debug("hidden");
    logger.info("shown");
    logger.setLevel("success");
    logger.info("hidden too");
    logger.success("ok");
    logger.setLevel("debug");
    logger.debug("now shown");
    assert.deepEqual(sink.lines.map(withoutTime), ["INFO     shown", "SUCCESS  ok", "DEBUG    now shown"]);
    assert.equal(consoleOutput.text, "INFO      shown\nSUCCESS   ok\nDEBUG     now shown\n");
    assert.equal(logger.level, "debug");
  });

  it("rejects an unknown level", () => {
    const { logger } = makeLogger();
    assert.throws(() => logger.setLevel("verbose" as never), InvalidArgumentError);
    assert.throws(() => new RunLogger({ level: "trace" as never }), InvalidArgumentError);
  });

  it("joins parts by one space: strings raw, primitives by String(), objects inspected", () => {
    const { logger, sink } = makeLogger();
    logger.attach(sink);
    logger.info("epoch", 3, "loss", 0.25, { lr: 0.1 }, [1, 2], null, undefined, true);
    logger.info();
    logger.info("%s %d {x}", "not", "interpolated");
    logger.info("two\nlines");
    assert.deepEqual(sink.lines.map(withoutTime), [
      "INFO     epoch 3 loss 0.25 { lr: 0.1 } [ 1, 2 ] null undefined true",
      "INFO     ",
      "INFO     %s %d {x} not interpolated",
      "INFO     two\nlines",
    ]);
  });

  it("exception logs at ERROR with the stack on the following lines", () => {
    const { logger, consoleOutput, sink } = makeLogger();
    logger.attach(sink);
    const error = new Error("disk full");
    logger.exception("saving failed", error);
    logger.exception("no error given");
    assert.equal(sink.lines.length, 2);
    assert.equal(withoutTime(sink.lines[0] ?? ""), `ERROR    saving failed\n${error.stack}`);
    const [head, heading, firstFrame] = withoutTime(sink.lines[1] ?? "").split("\n");
    assert.equal(head, "ERROR    no error given");
    assert.equal(heading, "Call stack (no error was given):");
    assert.match(firstFrame ?? "", /^ {4}at .*test\/logs\/logger\.test\.ts:\d+:\d+\)?$/, "the caller's frame comes first");
    assert.doesNotMatch(sink.lines[1] ?? "", /src\/logs\//, "opencrate's own frames are left out");
    assert.ok(consoleOutput.text.startsWith(`ERROR     saving failed\n${error.stack}\n`));
    logger.setLevel("critical");
    logger.exception("filtered", error);
    assert.equal(sink.lines.length, 2);
  });

  it("keeps lines logged before attach and hands them to the first sink only", () => {
    const { logger, consoleOutput, sink } = makeLogger();
    logger.info("before one");
    logger.warning("before two");
    assert.equal(consoleOutput.text, "INFO      before one\nWARNING   before two\n");
    logger.attach(sink);
    logger.info("after");
    assert.deepEqual(sink.lines.map(withoutTime), ["INFO     before one", "WARNING  before two", "INFO     after"]);

    const second = new MemorySink();
    assert.equal(logger.detach(), sink);
    logger.attach(second);
    logger.info("second run");
    assert.deepEqual(second.lines.map(withoutTime), ["INFO     second run"]);
    assert.equal(sink.lines.length, 3);
  });

  it("keeps lines logged between detach and the next attach for the next sink", () => {
    const { logger, sink } = makeLogger();
    logger.attach(sink);
    logger.detach();
    logger.info("in between");
    const next = new MemorySink();
    logger.attach(next);
    assert.deepEqual(next.lines.map(withoutTime), ["INFO     in between"]);
    assert.equal(sink.lines.length, 0);
  });

  it("bounds the pending buffer, keeping the newest lines and saying how many were dropped", () => {
    const { logger, sink } = makeLogger({ maxPendingLines: 3 });
    for (let i = 1; i <= 10; i++) logger.info(`line ${i}`);
    logger.attach(sink);
    assert.deepEqual(sink.lines.map(withoutTime), [
      "WARNING  7 earlier log lines were dropped before this log was attached (at most 3 are kept).",
      "INFO     line 8",
      "INFO     line 9",
      "INFO     line 10",
    ]);
  });

  it("setConsole(false) stops console output but not file lines; flush flushes the sink", async () => {
    const { logger, consoleOutput, sink } = makeLogger();
    logger.attach(sink);
    logger.setConsole(false);
    logger.info("quiet");
    logger.setConsole(true);
    logger.info("loud");
    assert.equal(consoleOutput.text, "INFO      loud\n");
    assert.equal(sink.lines.length, 2);
    await logger.flush();
    assert.equal(sink.flushes, 1);
    logger.detach();
    await logger.flush();
    assert.equal(sink.flushes, 1);
  });

  it("prints nothing with console: false", () => {
    const consoleOutput = new CapturedConsole(false);
    const logger = new RunLogger({ console: false, consoleOutput });
    logger.critical("x");
    assert.equal(consoleOutput.text, "");
  });
});

describe("RunLogger loading pino", () => {
  /** Runs `body` in a fresh process with RunLogger, `loaded()` (whether pino is loaded) and a silent console in scope. */
  function inFreshProcess(body: readonly string[]): unknown {
    const logger = new URL("../../src/logs/logger.ts", import.meta.url).href;
    const script = [
      `import { createRequire } from "node:module";`,
      `const { RunLogger } = await import(${JSON.stringify(logger)});`,
      `const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((path) => path.includes("/node_modules/pino/"));`,
      `const output = { isTTY: false, write() {} };`,
      ...body,
    ].join("\n");
    return JSON.parse(execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" }));
  }

  it("loads pino with the first record that passes the level filter, not before", () => {
    const seen = inFreshProcess([
      `const run = new RunLogger({ level: "warning", consoleOutput: output });`,
      `run.info("filtered out"); run.setLevel("error"); run.warning("filtered out");`,
      `const before = [loaded(), run.level, run.isLevelEnabled("error"), run.isLevelEnabled("warning")];`,
      `run.error("kept");`,
      `console.log(JSON.stringify([...before, loaded()]));`,
    ]);
    assert.deepEqual(seen, [false, "error", true, false, true]);
  });

  it("stores a crash that is the run's first line without loading pino", () => {
    const seen = inFreshProcess([
      `const lines = [];`,
      `const run = new RunLogger({ consoleOutput: output });`,
      `run.attach({ write: (line) => lines.push(line), flush: async () => {}, close: async () => {} });`,
      `run.crash(new Error("out of descriptors (test)"), "uncaughtException");`,
      `console.log(JSON.stringify({ loaded: loaded(), lines }));`,
    ]) as { loaded: boolean; lines: string[] };
    assert.equal(seen.loaded, false);
    assert.equal(seen.lines.length, 1);
    assert.match(seen.lines[0] ?? "", /CRITICAL +Uncaught exception/);
    assert.match(seen.lines[0] ?? "", /out of descriptors \(test\)/);
  });
});
