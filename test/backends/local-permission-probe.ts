/**
 * Tries operations the file system must refuse to a user without rights, and reports each one's error code.
 * local.test.ts runs it in-process, or (when the tests run as root, whom permissions do not stop) in a child
 * process started as `nobody`.
 */
import { fileURLToPath } from "node:url";
import { LocalBackend } from "../../src/backends/local/index.ts";
import { isOpenCrateError } from "../../src/errors.ts";

export type ProbeResult = Record<string, string>;

async function codeOf(attempt: Promise<unknown>): Promise<string> {
  try {
    await attempt;
    return "ok";
  } catch (error) {
    if (!isOpenCrateError(error)) return `not an OpenCrateError: ${String(error)}`;
    return error.message.includes(error.path ?? "\0") ? error.code : `${error.code} without its path: ${error.message}`;
  }
}

/** `root` holds secret.txt (0600), locked/ (0555, holding kept.txt) and sealed/ (0000), all owned by someone else. */
export async function probePermissions(root: string): Promise<ProbeResult> {
  const backend = new LocalBackend({ root });
  return {
    read: await codeOf(backend.get("secret.txt")),
    stream: await codeOf(backend.getStream("secret.txt")),
    write: await codeOf(backend.put("locked/new.txt", "x")),
    delete: await codeOf(backend.delete("locked/kept.txt")),
    list: await codeOf(backend.listPage("sealed/")),
    // The parent still lists, naming the folder it cannot look into, as a store lists a prefix.
    listParent: await codeOf(
      backend.listPage("").then((page) => {
        if (!page.prefixes.includes("sealed/")) throw new Error(`sealed/ missing from ${JSON.stringify(page.prefixes)}`);
      }),
    ),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = process.argv[2];
  if (root === undefined) throw new Error("usage: local-permission-probe.ts <root>");
  process.stdout.write(JSON.stringify(await probePermissions(root)));
}
