/**
 * How the CLI ends: exit 0 on success, 1 on failure, 2 on a usage error (commander's own, or input the library
 * rejects as INVALID_ARGUMENT; not when the input came from the environment, see environmentError). A failure prints one line `opencrate: <message>` on stderr; `--debug` adds the
 * stack and the chain of causes. Everything printed goes through scrub(), then printable(): a message may quote a
 * stored key.
 */
import { CommanderError } from "commander";
import { isOpenCrateError } from "../errors.ts";
import { printable } from "../printable.ts";
import { scrub } from "./scrub.ts";

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** Errors about the environment (OPENCRATE_ROOT when no root was given): not a usage error, whatever their code. */
const fromEnvironment = new WeakSet<object>();

/** Marks `error` as caused by the environment, not the command line: the CLI exits 1 for it, not 2. */
export function environmentError(error: unknown): unknown {
  if (typeof error === "object" && error !== null) fromEnvironment.add(error);
  return error;
}

export function exitCodeOf(error: unknown): number {
  if (typeof error === "object" && error !== null && fromEnvironment.has(error)) return EXIT_FAILURE;
  if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
  if (isOpenCrateError(error, "INVALID_ARGUMENT")) return EXIT_USAGE;
  return EXIT_FAILURE;
}

/** The one line shown for an error (newlines folded, so it stays one line). */
export function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return scrub(message.replace(/\s*\n\s*/g, " ").trim() || "unknown error");
}

export function reportError(error: unknown, debug: boolean): void {
  writeError(oneLine(error));
  if (debug) process.stderr.write(`${scrub(describeChain(error)).split("\n").map(printable).join("\n")}\n`);
}

/** `opencrate: <message>` on stderr. */
export function writeError(message: string): void {
  process.stderr.write(`${errorLine(message)}\n`);
}

/** `opencrate: <message>`, scrubbed, with controls escaped (no newline at the end). */
export function errorLine(message: string): string {
  return `opencrate: ${printable(scrub(message))}`;
}

function describeChain(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 8; depth++) {
    const text = current instanceof Error ? (current.stack ?? `${current.name}: ${current.message}`) : String(current);
    parts.push(depth === 0 ? text : `Caused by: ${text}`);
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join("\n");
}
