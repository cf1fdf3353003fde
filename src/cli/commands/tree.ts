/** `opencrate tree <uri>`: the tree of a root, a snapshot name or one snapshot, dot-entries hidden. */
import type { Command } from "commander";
import type { TreeCommandOptions } from "../actions/tree.ts";
import { nonNegativeInteger } from "../options.ts";

const DEFAULT_DEPTH = 2;

export function registerTree(program: Command): void {
  program
    .command("tree")
    .description("print the tree of a root, a snapshot name or a snapshot (dot-entries hidden)")
    .argument("<uri>", "a local folder, a URI, or a snapshot URI (<root>/<name>/v3, <root>/<name>@latest)")
    .option("-d, --depth <n>", "levels below the top to show (0: the top only)", nonNegativeInteger, DEFAULT_DEPTH)
    .option("-v, --verbose", "show each entry's modification time and size")
    .addHelpText(
      "after",
      `
Examples:
  $ opencrate tree snapshots/train@latest
  $ opencrate tree s3://team/snapshots/train/v3:baseline --depth 3 --verbose
  $ opencrate tree gs://team/snapshots --depth 1`,
    )
    .action(async (uri: string, options: TreeCommandOptions) => {
      const { runTree } = await import("../actions/tree.ts");
      await runTree(uri, options);
    });
}
