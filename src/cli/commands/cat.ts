/** `opencrate cat <artifact-uri>`: streams one artifact's bytes to stdout; binary bytes never go to a terminal unasked. */
import type { Command } from "commander";
import type { CatOptions } from "../actions/cat.ts";

export function registerCat(program: Command): void {
  program
    .command("cat")
    .description("write an artifact's bytes to stdout")
    .argument("<artifact-uri>", "a file in a snapshot: <root>/<name>/v3/jsons/metrics.json or <root>/<name>@latest/jsons/metrics.json")
    .option("--force", "write a binary file to a terminal too")
    .addHelpText(
      "after",
      `
On a terminal, a file that is not text is refused unless --force; redirect it to a file or a pipe instead.

Examples:
  $ opencrate cat s3://team/snapshots/train/v3/jsons/metrics.json
  $ opencrate cat snapshots/train@latest/jsons/metrics.json | jq .loss
  $ opencrate cat gs://team/snapshots/train@baseline/checkpoints/model.pt > model.pt`,
    )
    .action(async (uri: string, options: CatOptions) => {
      const { runCat } = await import("../actions/cat.ts");
      await runCat(uri, options);
    });
}
