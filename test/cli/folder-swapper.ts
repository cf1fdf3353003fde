/**
 * The attacker of the pull race tests, as a process of its own: waits until `folder` holds `minFiles` entries, then
 * renames it to `<folder>-moved` and puts a symbolic link to `outside` in its place. Prints "swapped" and exits 0,
 * or exits 2 if the folder never fills within a minute.
 *
 * Usage: node folder-swapper.ts <folder> <outside> <minFiles>
 */
import { readdirSync, renameSync, symlinkSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

const [folder = "", outside = "", minFiles = "1"] = process.argv.slice(2);
const deadline = Date.now() + 60_000;
while (Date.now() < deadline) {
  const names = (() => {
    try {
      return readdirSync(folder).filter((name) => !name.startsWith("."));
    } catch {
      return [];
    }
  })();
  if (names.length >= Number(minFiles)) {
    renameSync(folder, `${folder}-moved`);
    symlinkSync(outside, folder);
    process.stdout.write("swapped\n");
    process.exit(0);
  }
  await sleep(1);
}
process.exit(2);
