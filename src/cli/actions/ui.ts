/** What `opencrate ui` does: serves the read-only viewer (src/ui) until Ctrl-C, and opens a browser on it if asked. */
import { startViewer, type Viewer } from "../../ui/server.ts";
import { isLoopback } from "../../ui/security.ts";
import { resolveViewerTarget } from "../../ui/target.ts";
import { onRoot } from "../default-root.ts";
import { EXIT_OK } from "../errors.ts";
import { onInterrupt } from "../interrupt.ts";
import { openBrowser } from "./open-browser.ts";

export interface UiOptions {
  readonly port: number;
  readonly host: string;
  readonly open?: boolean;
}

export async function runUi(uri: string | undefined, options: UiOptions): Promise<void> {
  // Ctrl-C (or SIGTERM) is its normal end; before it serves (opening a store that does not answer), it ends there.
  let stop: (() => void) | undefined;
  const release = onInterrupt(() => (stop === undefined ? process.exit(EXIT_OK) : stop()));
  let removeOpenFile: (() => Promise<void>) | undefined;
  try {
    const target = await onRoot(uri, resolveViewerTarget);
    const viewer = await startViewer({ root: target.root, host: options.host, port: options.port, start: target.start });
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    announce(target.root, viewer, options);
    if (options.open === true) removeOpenFile = await openBrowser(viewer.url);
    await stopped;
    await viewer.close();
  } finally {
    await removeOpenFile?.();
    release();
  }
}

function announce(root: string, viewer: Viewer, options: UiOptions): void {
  process.stdout.write(`opencrate ui: serving ${root} read-only at ${viewer.url}\n`);
  const where = isLoopback(options.host) ? "" : `listening on ${options.host}, beyond this machine: `;
  process.stdout.write(`opencrate ui: ${where}the page needs the access token in the URL above (shown once); it answers nothing without it.\n`);
  process.stdout.write("opencrate ui: press Ctrl-C to stop.\n");
}
