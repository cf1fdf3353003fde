/** What `opencrate ui` does: serves the read-only viewer (src/ui) until Ctrl-C, and opens a browser on it if asked. */
import { spawn } from "node:child_process";
import { startViewer } from "../../ui/server.ts";
import { resolveViewerTarget } from "../../ui/target.ts";
import { onRoot } from "../default-root.ts";

export interface UiOptions {
  readonly port: number;
  readonly host: string;
  readonly open?: boolean;
}

export async function runUi(uri: string | undefined, options: UiOptions): Promise<void> {
  const target = await onRoot(uri, resolveViewerTarget);
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
