/**
 * A child process for local.test.ts: adds 1 to the counter at `key` under `root`, `times` times, by
 * compare-and-swap, so several processes contend for the same lock file.
 */
import { ifRevision } from "../../src/backends/backend.ts";
import { LocalBackend } from "../../src/backends/local/index.ts";
import { isOpenCrateError } from "../../src/errors.ts";

const [root, key, times] = process.argv.slice(2);
if (root === undefined || key === undefined || times === undefined) {
  throw new Error("usage: local-counter-worker.ts <root> <key> <times>");
}
const backend = new LocalBackend({ root });
for (let done = 0; done < Number(times); ) {
  const { revision } = await backend.head(key);
  const value = Number(Buffer.from(await backend.get(key)).toString("utf8"));
  try {
    await backend.put(key, String(value + 1), { mode: ifRevision(revision) });
    done++;
  } catch (error) {
    if (!isOpenCrateError(error, "PRECONDITION_FAILED")) throw error;
  }
}
