#!/usr/bin/env node
/** The `opencrate` command. */
import * as nodeModule from "node:module";
import { handleInterrupts } from "./interrupt.ts";
import { unsupportedNode } from "./node-support.ts";

// First of all: until then, Ctrl-C or SIGTERM is lost on a process that is PID 1 (a container's entrypoint).
handleInterrupts();
const unsupported = unsupportedNode(process.versions.node);
if (unsupported !== undefined) {
  process.stderr.write(`${unsupported}\n`);
  process.exit(1);
}
// Before the command's modules load (hence the imports below are dynamic): V8 keeps their compiled code in the
// system temporary folder, so every later start skips most of the compiling (the SDKs are large). Best effort.
nodeModule.enableCompileCache();
const { EXIT_FAILURE, EXIT_OK, reportError } = await import("./errors.ts");
const { run } = await import("./program.ts");

// `opencrate cat … | head` closes the pipe early: that is not a failure.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(EXIT_OK);
  reportError(error, process.argv.includes("--debug"));
  process.exit(EXIT_FAILURE);
});

const code = await run(process.argv.slice(2));
// Exit once both streams have flushed, whatever handles (sockets, timers) the run left behind.
let pending = 2;
const done = (): void => {
  if (--pending === 0) process.exit(code);
};
process.stdout.write("", done);
process.stderr.write("", done);
