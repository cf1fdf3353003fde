/** `opencrate log <snapshot-uri>`: prints a version's log, optionally following it as the run writes more. */
import type { Command } from "commander";
import type { LogOptions } from "../actions/log.ts";
import { nonNegativeInteger, positiveInteger } from "../options.ts";

const DEFAULT_INTERVAL_MS = 1000;

export function registerLog(program: Command): void {
  program
    .command("log")
    .description("print a snapshot's log (<name>.log, or <name>.history.log with --history)")
    .argument("<snapshot-uri>", "<root>/<name>/v3[:tag], or <root>/<name>@latest|@<N>|@<tag>")
    .option("--history", "print the history of every run of this version instead of the last run's log")
    .option("--rank <n>", "the log of rank n of a distributed job (<name>.rank<n>.log; rank 0 is <name>.log)", nonNegativeInteger)
    .option("-f, --follow", "keep printing lines as they are written, until Ctrl-C")
    .option("--interval <ms>", "how often --follow checks for new lines", positiveInteger, DEFAULT_INTERVAL_MS)
    .addHelpText(
      "after",
      `
Examples:
  $ opencrate log snapshots/train@latest
  $ opencrate log s3://team/snapshots/train/v3:baseline --history
  $ opencrate log train@latest --rank 1               # in $OPENCRATE_ROOT, else ./snapshots
  $ opencrate log s3://team/snapshots/train@latest --follow --interval 500`,
    )
    .action(async (uri: string, options: LogOptions) => {
      const { runLog } = await import("../actions/log.ts");
      await runLog(uri, options);
    });
}
