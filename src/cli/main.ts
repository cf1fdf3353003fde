#!/usr/bin/env node
/** The `opencrate` command. */
import { EXIT_FAILURE, EXIT_OK, reportError } from "./errors.ts";
import { run } from "./program.ts";

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
