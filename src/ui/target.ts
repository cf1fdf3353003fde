/** What the viewer opens on: a root, a snapshot name in it (`<root>/<name>`), or one snapshot (`<root>/<name>@latest`). */
import { findNameTarget, findSnapshotTarget } from "../cli/targets.ts";
import { parseSnapshotUri } from "../snapshot/snapshot-uri.ts";
import { backendFromUri } from "../backends/registry.ts";
import { NotFoundError } from "../errors.ts";
import { redact, splitLastSegment } from "../uri.ts";

export interface ViewerTarget {
  readonly root: string;
  readonly start: { readonly name: string; readonly folder?: string } | undefined;
}

export async function resolveViewerTarget(uri: string): Promise<ViewerTarget> {
  const snapshot = await findSnapshotTarget(uri);
  if (snapshot !== undefined) {
    return { root: parseSnapshotUri(uri).root, start: { name: snapshot.name, folder: snapshot.folder } };
  }
  const name = await findNameTarget(uri);
  if (name !== undefined) return { root: splitLastSegment(uri)?.parent ?? ".", start: { name: name.name } };
  if (!(await holdsAnything(uri))) {
    throw new NotFoundError(`No snapshots at ${redact(uri)}: the location is empty or does not exist.`, { path: redact(uri) });
  }
  return { root: uri, start: undefined };
}

/** Whether the root holds an object, or an entry that cannot be listed (the names page shows it). */
async function holdsAnything(uri: string): Promise<boolean> {
  let unlistable = false;
  const onUnlistable = (): void => {
    unlistable = true;
  };
  for await (const _ of backendFromUri(uri).list("", { pageSize: 1, notUtf8: "skip", onUnlistable })) return true;
  return unlistable;
}
