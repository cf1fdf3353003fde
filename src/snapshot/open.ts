/** Resolves a snapshot URI to an existing version folder, for read-only use. */
import type { StorageBackend } from "../backends/backend.ts";
import { hasObjectsUnder } from "../backends/presence.ts";
import { backendFromUri } from "../backends/registry.ts";
import { NotFoundError, VersionNotFoundError } from "../errors.ts";
import { nameKey, versionFolderName, versionKey } from "./layout.ts";
import { parseSnapshotUri } from "./snapshot-uri.ts";
import { VersionStore, type VersionClaim } from "./versions.ts";

export interface OpenedSnapshot {
  readonly backend: StorageBackend;
  readonly name: string;
  readonly version: number;
  readonly tag: string | undefined;
  readonly folder: string;
}

export async function openSnapshot(uri: string): Promise<OpenedSnapshot> {
  const address = parseSnapshotUri(uri);
  const backend = backendFromUri(address.root);
  const store = new VersionStore(backend, address.name);
  const where = backend.describe(nameKey(address.name));
  const selector = address.selector;

  let claim: VersionClaim | undefined;
  let tag: string | undefined;
  switch (selector.kind) {
    case "latest": {
      const highest = await store.highest();
      claim = highest === undefined ? undefined : await store.readClaim(highest);
      if (claim === undefined) throw new NotFoundError(`No version of '${address.name}' exists at ${where}.`, { path: where });
      tag = claim.tag;
      break;
    }
    case "tag": {
      // Versions created with the tag, and sibling folders made by resuming another version with it.
      const tagged = new Set((await store.listClaims()).filter((c) => c.tag === selector.tag).map((c) => c.version));
      for (const folder of await store.listFolders()) {
        if (folder.tag === selector.tag) tagged.add(folder.version);
      }
      const highest = Math.max(-1, ...tagged);
      claim = highest < 0 ? undefined : await store.readClaim(highest);
      if (claim === undefined) {
        throw new NotFoundError(`No version of '${address.name}' at ${where} is tagged '${selector.tag}'.`, { path: where });
      }
      tag = selector.tag;
      break;
    }
    case "number":
    case "folder": {
      claim = await store.readClaim(selector.version);
      if (claim === undefined) {
        const available = await store.listVersionNumbers();
        throw new VersionNotFoundError(
          `Version ${selector.version} of '${address.name}' does not exist at ${where}` +
            (available.length === 0 ? " (none exist yet)." : ` (existing: ${available.map((v) => `v${v}`).join(", ")}).`),
          available,
          { path: where },
        );
      }
      tag = selector.kind === "folder" ? selector.tag : claim.tag;
      // "v3" when only "v3:baseline" holds anything means the tagged folder.
      if (selector.kind === "folder" && tag === undefined && claim.tag !== undefined) {
        const untagged = versionKey(address.name, versionFolderName(claim.version, undefined));
        if (!(await hasObjectsUnder(backend, `${untagged}/`))) tag = claim.tag;
      }
      break;
    }
  }
  const folder = versionFolderName(claim.version, tag);
  if (!(await hasObjectsUnder(backend, `${versionKey(address.name, folder)}/`))) {
    throw new NotFoundError(`The snapshot folder ${backend.describe(versionKey(address.name, folder))} is empty or missing.`, {
      path: backend.describe(versionKey(address.name, folder)),
    });
  }
  return { backend, name: address.name, version: claim.version, tag, folder };
}
