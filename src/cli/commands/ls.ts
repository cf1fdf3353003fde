/** `opencrate ls <uri>`: snapshot names in a root, versions of a name, or the files of one snapshot. */
import type { Command } from "commander";
import type { LsOptions } from "../actions/ls.ts";

export function registerLs(program: Command): void {
  program
    .command("ls")
    .description("list the snapshots in a root, the versions of a snapshot, or the files of one version")
    .argument("[uri]", "a root, <root>/<name>, or a snapshot URI (<root>/<name>/v3, <root>/<name>@latest); default: $OPENCRATE_ROOT, else snapshots")
    .option("--json", "print machine-readable JSON")
    .addHelpText(
      "after",
      `
Examples:
  $ opencrate ls                                  # snapshot names in $OPENCRATE_ROOT, else ./snapshots
  $ opencrate ls snapshots                        # snapshot names in a local root
  $ opencrate ls train                            # versions of train in the default root (a ./train folder
                                                  # of its own versions wins; one holding pulled copies does not)
  $ opencrate ls s3://team/snapshots/train        # versions: tag, created, status, run id, size
  $ opencrate ls s3://team/snapshots/train@latest # files of the newest version
  $ opencrate ls snapshots/train/v3:baseline --json`,
    )
    .action(async (given: string | undefined, options: LsOptions) => {
      const { runLs } = await import("../actions/ls.ts");
      await runLs(given, options);
    });
}
