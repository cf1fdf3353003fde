/** What `opencrate ui` does: serves the read-only viewer (src/ui) until Ctrl-C, and opens a browser on it if asked. */
import { spawn } from "node:child_process";
import { startViewer, type Viewer } from "../../ui/server.ts";
import { resolveViewerTarget } from "../../ui/target.ts";
import { onRoot } from "../default-root.ts";
import { EXIT_OK } from "../errors.ts";
import { onInterrupt } from "../interrupt.ts";

export interface UiOptions {
  readonly port: number;
  readonly host: string;
  readonly open?: boolean;
}

export async function runUi(uri: string | undefined, options: UiOptions): Promise<void> {
  // Ctrl-C (or SIGTERM) is its normal end; before it serves (opening a store that does not answer), it ends there.
  let stop: (() => void) | undefined;
  const release = onInterrupt(() => (stop === undefined ? process.exit(EXIT_OK) : stop()));
  try {
    const target = await onRoot(uri, resolveViewerTarget);
    const viewer = await startViewer({ root: target.root, host: options.host, port: options.port, start: target.start });
    await new Promise<void>((resolve) => {
      stop = resolve;
      announce(target.root, viewer, options);
    });
    await viewer.close();
  } finally {
    release();
  }
}

function announce(root: string, viewer: Viewer, options: UiOptions): void {
  process.stdout.write(`opencrate ui: serving ${root} read-only at ${viewer.url}\n`);
  if (viewer.token !== undefined) {
    process.stdout.write(
      `opencrate ui: listening on ${options.host}, beyond this machine: the page needs the access token in the URL above (shown once).\n`,
    );
  }
  process.stdout.write("opencrate ui: press Ctrl-C to stop.\n");
  if (options.open === true) openBrowser(viewer.url);
}

function openBrowser(url: string): void {
  const [command, args] =
    process.platform === "darwin" ? ["open", [url]] : process.platform === "win32" ? ["cmd", ["/c", "start", "", url]] : ["xdg-open", [url]];
  const child = spawn(command as string, args as string[], { stdio: "ignore", detached: true });
  child.on("error", () => process.stderr.write(`opencrate ui: could not start a browser; open ${url} yourself.\n`));
  child.unref();
}
