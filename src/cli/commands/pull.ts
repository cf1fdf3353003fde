/** `opencrate pull <snapshot-uri> [dest]`: downloads a snapshot's files, resumable, never outside dest. */
import type { Command } from "commander";
import type { PullOptions } from "../actions/pull.ts";
import { positiveInteger } from "../options.ts";

const DEFAULT_CONCURRENCY = 32;

export function registerPull(program: Command): void {
  program
    .command("pull")
    .description("download every file of a snapshot into a local folder (resumes an interrupted pull)")
    .argument("<snapshot-uri>", "<root>/<name>/v3[:tag], or <root>/<name>@latest|@<N>|@<tag>")
    .argument("[dest]", "the local folder to fill (default: ./<name>/<version folder>)")
    .option("-c, --concurrency <n>", "files downloaded at once (of files over 1 MiB, half as many)", positiveInteger, DEFAULT_CONCURRENCY)
    .option("-q, --quiet", "print nothing but errors")
    .option("--overwrite", "replace files in dest that no pull placed there, or that were changed since")
    .addHelpText(
      "after",
      `
Files already in dest are skipped when their size and the store's checksum match, or, where the store gives no
checksum, when an earlier pull placed them for the same revision and they have not changed since. Any other
file in the way is replaced only if an earlier pull placed it and it has not changed since; one that is yours
(or that you edited after a pull) is left as it is and reported, and the pull exits 1: --overwrite replaces
it. Partly downloaded files are continued, so running the same pull again finishes an interrupted one. Object
keys that would land outside dest (.., absolute paths, backslashes, names invalid on disk) or inside a .git
folder are refused and reported. A folder a run has written into (it holds a log no pull placed there) is
refused. On a terminal, a progress bar shows on stderr; otherwise each file gets a line, and every 30 s a line
gives the bytes and files so far.

Examples:
  $ opencrate pull s3://team/snapshots/train@latest
  $ opencrate pull s3://team/snapshots/train/v3:baseline ./baseline --concurrency 16
  $ opencrate pull gs://team/snapshots/train@baseline /data/train --quiet`,
    )
    .action(async (uri: string, destArgument: string | undefined, options: PullOptions) => {
      const { runPull } = await import("../actions/pull.ts");
      await runPull(uri, destArgument, options);
    });
}
