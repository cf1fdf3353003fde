/**
 * A child process for local-lock-holder.test.ts: takes the compare-and-swap lock of the file at `path` (as a
 * `replace` write does), says "holding", waits for a line on stdin while it holds it, then rewrites the file to
 * `content` and lets go of the lock.
 */
import { once } from "node:events";
import { writeFile } from "node:fs/promises";
import { withLock } from "../../src/backends/local/lock.ts";
import { lockPathsFor } from "../../src/backends/local/paths.ts";
import { RetryPolicy } from "../../src/backends/retry-policy.ts";

const [path, content] = process.argv.slice(2);
if (path === undefined || content === undefined) throw new Error("usage: local-lock-holder.ts <path> <content>");
await withLock(lockPathsFor(path), { staleMs: 30_000, retry: new RetryPolicy() }, async () => {
  process.stdout.write("holding\n");
  await once(process.stdin, "data");
  await writeFile(path, content);
});
process.stdin.destroy();
