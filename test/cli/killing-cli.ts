/**
 * The CLI killed outright (SIGKILL, as the OOM killer or a power loss would end it) by itself, right after its
 * KILL_AFTER_LINKS-th link() of a finished download into place: the file is at its target, its partial's name not
 * yet removed, and nothing saved since. Tests start it (startCli's `main`) to check what the next pull makes of it.
 */
import fs from "node:fs";
import { syncBuiltinESMExports } from "node:module";

const limit = Number(process.env.KILL_AFTER_LINKS);
if (!Number.isSafeInteger(limit) || limit < 1) throw new Error(`KILL_AFTER_LINKS must be a count, not ${process.env.KILL_AFTER_LINKS}`);
let links = 0;

function counted(): void {
  links += 1;
  if (links >= limit) process.kill(process.pid, "SIGKILL");
}

const linkSync = fs.linkSync;
fs.linkSync = (existing: fs.PathLike, created: fs.PathLike): void => {
  linkSync(existing, created);
  counted();
};
const link = fs.promises.link;
fs.promises.link = async (existing: fs.PathLike, created: fs.PathLike): Promise<void> => {
  await link(existing, created);
  counted();
};
syncBuiltinESMExports();

await import("../../src/cli/main.ts");
