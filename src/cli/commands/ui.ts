/** `opencrate ui [root-or-snapshot-uri]`: wires the read-only viewer (src/ui) to the command line. */
import { spawn } from "node:child_process";
import type { Command } from "commander";
import { startViewer } from "../../ui/server.ts";
import { resolveViewerTarget } from "../../ui/target.ts";
import { nonNegativeInteger } from "../options.ts";

interface UiOptions {
  readonly port: number;
  readonly host: string;
  readonly open?: boolean;
}

const DEFAULT_PORT = 7860;

export function registerUi(program: Command): void {
  program
    .command("ui")
    .description("browse snapshots in a local, read-only web app (until Ctrl-C)")
    .argument("[root-or-snapshot-uri]", "a root, <root>/<name>, or a snapshot URI (default: $OPENCRATE_ROOT, else snapshots)")
    .option("--port <n>", "port to listen on (0 picks a free one)", nonNegativeInteger, DEFAULT_PORT)
    .option("--host <address>", "address to listen on; anything but loopback requires the printed access token", "127.0.0.1")
    .option("--open", "open the page in the default browser")
    .addHelpText(
      "after",
      `
Examples:
  $ opencrate ui                                   # $OPENCRATE_ROOT or ./snapshots on http://127.0.0.1:${DEFAULT_PORT}/
  $ opencrate ui s3://team/snapshots --open
  $ opencrate ui gs://team/snapshots/train@latest --port 0
  $ opencrate ui snapshots --host 0.0.0.0         # reachable from other machines, with an access token`,
    )
    .action(async (uri: string | undefined, options: UiOptions) => {
      const target = await resolveViewerTarget(uri ?? defaultRoot());
      const viewer = await startViewer({ root: target.root, host: options.host, port: options.port, start: target.start });
      process.stdout.write(`opencrate ui: serving ${target.root} read-only at ${viewer.url}\n`);
      if (viewer.token !== undefined) {
        process.stdout.write(
          `opencrate ui: listening on ${options.host}, beyond this machine: the page needs the access token in the URL above (shown once).\n`,
        );
      }
      process.stdout.write("opencrate ui: press Ctrl-C to stop.\n");
      if (options.open === true) openBrowser(viewer.url);
      await untilInterrupted();
      await viewer.close();
    });
}

function defaultRoot(): string {
  const fromEnv = process.env.OPENCRATE_ROOT;
  return fromEnv !== undefined && fromEnv !== "" ? fromEnv : "snapshots";
}

function openBrowser(url: string): void {
  const [command, args] =
    process.platform === "darwin" ? ["open", [url]] : process.platform === "win32" ? ["cmd", ["/c", "start", "", url]] : ["xdg-open", [url]];
  const child = spawn(command as string, args as string[], { stdio: "ignore", detached: true });
  child.on("error", () => process.stderr.write(`opencrate ui: could not start a browser; open ${url} yourself.\n`));
  child.unref();
}

function untilInterrupted(): Promise<void> {
  return new Promise((resolve) => {
    const stop = (): void => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve();
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
}
