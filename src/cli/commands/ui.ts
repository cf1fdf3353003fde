/** `opencrate ui [root-or-snapshot-uri]`: wires the read-only viewer (src/ui) to the command line. */
import type { Command } from "commander";
import type { UiOptions } from "../actions/ui.ts";
import { hostAddress, nonNegativeInteger } from "../options.ts";

const DEFAULT_PORT = 7860;

export function registerUi(program: Command): void {
  program
    .command("ui")
    .description("browse snapshots in a local, read-only web app (until Ctrl-C); the URL it prints carries its access token")
    .argument("[root-or-snapshot-uri]", "a root, <root>/<name>, or a snapshot URI (default: $OPENCRATE_ROOT, else snapshots)")
    .option("--port <n>", "port to listen on (0 picks a free one)", nonNegativeInteger, DEFAULT_PORT)
    .option("--host <address>", "address to listen on (beyond loopback, other machines can reach it; every request still needs the token)", hostAddress, "127.0.0.1")
    .option("--open", "open the page in the default browser")
    .addHelpText(
      "after",
      `
Examples:
  $ opencrate ui                                   # $OPENCRATE_ROOT or ./snapshots on http://127.0.0.1:${DEFAULT_PORT}/?token=…
  $ opencrate ui s3://team/snapshots --open
  $ opencrate ui gs://team/snapshots/train@latest --port 0
  $ opencrate ui snapshots --host 0.0.0.0         # reachable from other machines`,
    )
    .action(async (uri: string | undefined, options: UiOptions) => {
      const { runUi } = await import("../actions/ui.ts");
      await runUi(uri, options);
    });
}
