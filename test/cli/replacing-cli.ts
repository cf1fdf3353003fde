/**
 * The CLI whose local reads find their object replaced: right before its first read of a key ending in
 * REPLACE_KEY_SUFFIX, the file at REPLACE_FILE is rewritten (as a run saving it again would), so the pinned read of
 * the revision listed fails. Tests start it (startCli's `main`) to see what a pull that lost that race reports.
 */
import { writeFileSync } from "node:fs";
import type { ReadOptions } from "../../src/backends/backend.ts";
import { LocalBackend } from "../../src/backends/local/index.ts";

const suffix = process.env.REPLACE_KEY_SUFFIX;
const file = process.env.REPLACE_FILE;
if (suffix === undefined || file === undefined) throw new Error("REPLACE_KEY_SUFFIX and REPLACE_FILE must be set");
let replaced = false;

const original = LocalBackend.prototype.get;
LocalBackend.prototype.get = async function (this: LocalBackend, key: string, options?: ReadOptions) {
  if (!replaced && key.endsWith(suffix)) {
    replaced = true;
    writeFileSync(file, "saved again while the pull read it, longer than before");
  }
  return original.call(this, key, options);
};

await import("../../src/cli/main.ts");
