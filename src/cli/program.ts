/** The `opencrate` program: global options, the commands, and the mapping of outcomes to exit codes. */
import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { registerCat } from "./commands/cat.ts";
import { registerLog } from "./commands/log.ts";
import { registerLs } from "./commands/ls.ts";
import { registerPull } from "./commands/pull.ts";
import { registerTree } from "./commands/tree.ts";
import { registerUi } from "./commands/ui.ts";
import { EXIT_OK, exitCodeOf, reportError } from "./errors.ts";
import { scrub } from "./scrub.ts";

export function buildProgram(): Command {
  const program = new Command("opencrate")
    .description("Browse, read and pull opencrate snapshots on local disk, S3 and Google Cloud Storage.")
    .version(packageVersion(), "-V, --version", "print the opencrate version")
    .option("--debug", "on failure, print the stack and the chain of causes")
    .helpOption("-h, --help", "show help")
    .exitOverride()
    .configureOutput({
      outputError: (message, write) => write(`opencrate: ${scrub(commanderLine(message))} (see --help)\n`),
    })
    .addHelpText(
      "after",
      `
URIs: a local path (snapshots), file:///data/runs, s3://bucket/prefix (AWS or, with AWS_ENDPOINT_URL_S3, MinIO),
gs://bucket/prefix. A snapshot is <root>/<name>/v3 or v3:<tag>, or <root>/<name>@latest, @3, @<tag>.

Examples:
  $ opencrate ls s3://team/snapshots/train
  $ opencrate tree snapshots/train@latest --depth 3
  $ opencrate log s3://team/snapshots/train@latest --follow
  $ opencrate cat snapshots/train@baseline/jsons/metrics.json
  $ opencrate pull s3://team/snapshots/train/v3:baseline ./baseline
  $ opencrate ui s3://team/snapshots --open

Exit status: 0 success, 1 failure, 2 usage error. Ctrl-C or SIGTERM ends a command at once: 130 or 143
(pull 1; log --follow and ui 0).`,
    );
  // Subcommands made with program.command() inherit exitOverride and the output settings. Each command's code
  // (cli/actions/) is imported inside its action, so a run loads only its own command: never import it statically.
  registerLs(program);
  registerTree(program);
  registerLog(program);
  registerCat(program);
  registerPull(program);
  registerUi(program);
  return program;
}

/** Runs the CLI on `args` (without node and the script) and returns the exit code. */
export async function run(args: readonly string[]): Promise<number> {
  const debug = args.includes("--debug");
  try {
    await buildProgram().parseAsync([...args], { from: "user" });
  } catch (error) {
    const code = exitCodeOf(error);
    // Commander has already printed its own errors (through outputError) and the help.
    if (!(error instanceof CommanderError)) reportError(error, debug);
    return code;
  }
  return typeof process.exitCode === "number" ? process.exitCode : EXIT_OK;
}

/**
 * Commander's message as one line: its "error: " dropped, and the suggestion it puts on a line of its own
 * ("\n(Did you mean ls?)") joined on, as in "unknown command 'lss'; did you mean ls?".
 */
function commanderLine(message: string): string {
  return message
    .replace(/^error: /, "")
    .trimEnd()
    .replace(/\s*\n\(Did you mean (.*)\?\)$/, "; did you mean $1?")
    .replace(/\s*\n\s*/g, " ");
}

function packageVersion(): string {
  try {
    const manifest: unknown = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));
    const version = (manifest as { version?: unknown }).version;
    return typeof version === "string" ? version : "0.0.0";
  } catch {
    return "0.0.0";
  }
}
