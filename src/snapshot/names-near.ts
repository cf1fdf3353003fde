/**
 * What a root holds, for the message that a name is not there: its snapshot names, the nearest to the name asked
 * for first. Best effort and bounded: the first page of the root's folders, and only the nearest few checked to be
 * snapshots (a root may hold thousands of names, or be a project folder full of other things).
 */
import type { StorageBackend } from "../backends/backend.ts";
import { nearestFirst } from "../nearest.ts";
import { isSnapshotName } from "./names.ts";
import { VersionStore } from "./versions.ts";

const CHECKED = 8;
const SHOWN = 5;

/**
 * `"; <root> holds eval, train"` (nearest to `name` first, "…" when there may be more), `"; <root> holds no
 * snapshots"`, or "" when the root cannot be read (the caller's own error says enough).
 */
export async function namesNearHint(backend: StorageBackend, name: string): Promise<string> {
  try {
    const page = await backend.listPage("", { notUtf8: "skip" });
    const candidates = page.prefixes.map((prefix) => prefix.slice(0, -1)).filter((folder) => folder !== name && isListedName(folder));
    const ordered = nearestFirst(name, candidates);
    const checked = ordered.slice(0, CHECKED);
    const holds = await Promise.all(checked.map((folder) => new VersionStore(backend, folder).exists().catch(() => false)));
    const names = checked.filter((_, index) => holds[index] === true);
    const more = names.length > SHOWN || ordered.length > CHECKED || page.nextPageToken !== undefined;
    const where = backend.describe("");
    if (names.length === 0) return more ? "" : `; ${where} holds no other snapshots`;
    return `; ${where} holds ${names.slice(0, SHOWN).join(", ")}${more ? ", …" : ""}`;
  } catch {
    return "";
  }
}

/** A name a listing of the root shows (not a dot-folder such as `.opencrate`). */
function isListedName(folder: string): boolean {
  return isSnapshotName(folder) && !folder.startsWith(".");
}
