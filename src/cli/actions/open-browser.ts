/**
 * Opens the viewer in the default browser without putting its access token on a command line, where every user of
 * the machine can read it (`ps`) for as long as the browser started by it runs: the browser is given a file, readable
 * by this user only, whose page moves on to the URL.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

/** Opens `url`; resolves to a function that removes the file once the viewer stops. */
export async function openBrowser(url: string): Promise<() => Promise<void>> {
  // mkdtemp makes the folder readable by this user only; the file is too.
  const folder = await mkdtemp(join(tmpdir(), "opencrate-ui-"));
  const file = join(folder, "open.html");
  const target = url.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
  await writeFile(file, `<!doctype html><meta http-equiv="refresh" content="0; url=${target}"><title>opencrate ui</title>\n`, { mode: 0o600 });
  const page = pathToFileURL(file).href;
  const [command, args] =
    process.platform === "darwin" ? ["open", [page]] : process.platform === "win32" ? ["cmd", ["/c", "start", "", page]] : ["xdg-open", [page]];
  const child = spawn(command as string, args as string[], { stdio: "ignore", detached: true });
  child.on("error", () => process.stderr.write("opencrate ui: could not start a browser; open the URL above yourself.\n"));
  child.unref();
  return () => rm(folder, { recursive: true, force: true });
}
