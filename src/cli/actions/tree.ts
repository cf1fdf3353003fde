/** What `opencrate tree` prints: the tree of a root, a snapshot name or one snapshot, dot-entries hidden. */
import { basename } from "node:path";
import type { StorageBackend } from "../../backends/backend.ts";
import { backendFor } from "../../backends/registry.ts";
import { NotFoundError } from "../../errors.ts";
import { hiddenInTree, renderTree, type TreeFile } from "../../io/tree.ts";
import { parseLocation, redact, type Location } from "../../uri.ts";
import { inDefaultRoot } from "../default-root.ts";
import { EXIT_FAILURE, writeError } from "../errors.ts";
import { assertLocalFolder, listFolderShown, unlistableLine } from "../files.ts";
import { printLines } from "../format.ts";
import { findSnapshotTarget, NO_FILES_YET } from "../targets.ts";

export interface TreeCommandOptions {
  readonly depth: number;
  readonly verbose?: boolean;
}

export async function runTree(given: string, options: TreeCommandOptions): Promise<void> {
  const uri = await inDefaultRoot(given, { bareName: true });
  const { backend, prefix, label, checkedOnDisk, claimedEmpty } = await resolveFolder(uri);
  const listed = await listFolderShown(backend, prefix);
  const found = listed.files.length + listed.unlistable.length;
  if (found === 0 && claimedEmpty) {
    printLines(`${label}\n${NO_FILES_YET}`);
    return;
  }
  if (found === 0 && !checkedOnDisk) {
    throw new NotFoundError(`Nothing at ${redact(uri)}: the folder is empty or does not exist.`, { path: redact(uri) });
  }
  // Shown in the tree, marked, and named on stderr with why (unless hidden, as dot-entries are); exit status 1.
  const where = backend.describe(prefix.replace(/\/$/, ""));
  const shownUnlistable = listed.unlistable.filter((entry) => !hiddenInTree(entry.path));
  for (const entry of shownUnlistable) writeError(unlistableLine(where, entry));
  if (shownUnlistable.length > 0) process.exitCode = EXIT_FAILURE;
  const files: TreeFile[] = [
    ...listed.files.map((file) => ({ path: file.path, size: file.size, lastModified: file.lastModified })),
    ...listed.unlistable.map((entry) => ({ path: entry.path, size: 0, lastModified: new Date(0), problem: entry.problem })),
  ];
  const colour = process.stdout.isTTY === true && process.env.NO_COLOR === undefined;
  printLines(
    renderTree(files, {
      rootLabel: label,
      depth: options.depth,
      verbose: options.verbose === true,
      ...(colour ? { styleDetail: (text: string) => `\x1b[2m${text}\x1b[0m` } : {}),
    }),
  );
}

interface TreeFolder {
  readonly backend: StorageBackend;
  readonly prefix: string;
  readonly label: string;
  /** A local folder known to exist: an empty one prints as its label alone. */
  readonly checkedOnDisk: boolean;
  /** A claimed version whose folder holds nothing yet. */
  readonly claimedEmpty: boolean;
}

async function resolveFolder(uri: string): Promise<TreeFolder> {
  const snapshot = await findSnapshotTarget(uri);
  if (snapshot !== undefined) {
    return { backend: snapshot.backend, prefix: snapshot.prefix, label: snapshot.folder, checkedOnDisk: false, claimedEmpty: snapshot.empty };
  }
  const location = parseLocation(uri);
  const backend = backendFor(location); // a malformed root is reported as such, before "no folder there"
  if (location.scheme === "file") await assertLocalFolder(location.path, uri);
  return { backend, prefix: "", label: labelOf(location), checkedOnDisk: location.scheme === "file", claimedEmpty: false };
}

function labelOf(location: Location): string {
  if (location.scheme === "file") return basename(location.path.replace(/\/+$/, "")) || location.path;
  if (location.prefix !== "") return location.prefix.slice(location.prefix.lastIndexOf("/") + 1);
  return location.scheme === "memory" ? location.name : location.bucket;
}
