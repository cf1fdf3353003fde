/** `opencrate cat <artifact-uri>`: streams one artifact's bytes to stdout. */
import type { Command } from "commander";
import { writeData } from "../format.ts";
import { resolveArtifact } from "../targets.ts";

export function registerCat(program: Command): void {
  program
    .command("cat")
    .description("write an artifact's bytes to stdout")
    .argument("<artifact-uri>", "a file in a snapshot: <root>/<name>/v3/jsons/metrics.json or <root>/<name>@latest/jsons/metrics.json")
    .addHelpText(
      "after",
      `
Examples:
  $ opencrate cat s3://team/snapshots/train/v3/jsons/metrics.json
  $ opencrate cat snapshots/train@latest/jsons/metrics.json | jq .loss
  $ opencrate cat gs://team/snapshots/train@baseline/checkpoints/model.pt > model.pt`,
    )
    .action(async (uri: string) => {
      const { backend, key } = await resolveArtifact(uri);
      const stream = await backend.getStream(key);
      for await (const chunk of stream) await writeData(chunk as Uint8Array);
    });
}
