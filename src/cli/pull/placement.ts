/**
 * What a pull may replace in its destination. A file already at a target path that is not complete (pull keeps
 * those) is replaced only when an earlier pull placed it and it has not changed since (pull-record.ts), or with
 * `--overwrite`; anything else (the user's own file, a pulled file edited since) is left as it is and reported.
 *
 * Two keys of one pull can land on one file: on a case-insensitive or Unicode-normalising file system (macOS,
 * Windows), `Case.txt` and `CASE.txt`, or the NFC and NFD spellings of `café`, are one name. The files this pull
 * placed (or found complete) are known by device and inode, so the second key finds the first key's file at its
 * target and is reported, whatever `--overwrite` says.
 */
import type { BigIntStats } from "node:fs";
import { AlreadyExistsError } from "../../errors.ts";
import { placedFileOf, type PlacedFile, type PlacementGuard } from "../../transfer/download-file.ts";
import type { PullRecord } from "./pull-record.ts";

/** A file a pull leaves as it is rather than replace it. */
export class PlacementConflictError extends AlreadyExistsError {}

/** What is at a target path, as far as the decision goes. */
export interface ExistingTarget {
  /** The key this pull placed (or found complete) at the same file, if any. */
  readonly placedByThisPullFor: string | undefined;
  /** An earlier pull placed this file at this path (for any revision), and it has not changed since. */
  readonly placedByEarlierPull: boolean;
}

export interface PlacementRequest {
  /** The object's key (named in a conflict between two keys). */
  readonly key: string;
  /** The local path of the target (named in every conflict). */
  readonly localPath: string;
  readonly overwrite: boolean;
}

/** Undefined when the file at the target may be replaced; otherwise the reason it may not. */
export function placementConflict(request: PlacementRequest, existing: ExistingTarget): string | undefined {
  const other = existing.placedByThisPullFor;
  if (other !== undefined && other !== request.key) {
    return (
      `${request.localPath} is the file this pull wrote for ${JSON.stringify(other)}, and ${JSON.stringify(request.key)} ` +
      "lands on it too (this file system does not tell their names apart, by case or Unicode form); it was left as it is"
    );
  }
  if (other !== undefined || existing.placedByEarlierPull || request.overwrite) return undefined;
  return `${request.localPath} exists and was not placed by a pull (or changed since); pass --overwrite to replace it`;
}

/** The files one pull placed or found complete, by device and inode, and the key of each. */
export class PulledFiles {
  readonly #keys = new Map<string, string>();

  add(stats: BigIntStats, key: string): void {
    this.#keys.set(identity(stats), key);
  }

  keyOf(stats: BigIntStats): string | undefined {
    return this.#keys.get(identity(stats));
  }
}

function identity(stats: BigIntStats): string {
  return `${stats.dev}:${stats.ino}`;
}

export interface TargetContext {
  readonly record: PullRecord;
  readonly pulled: PulledFiles;
  readonly overwrite: boolean;
}

/** Throws a PlacementConflictError unless `existing`, the file at `path`, may be replaced for `key`. */
export function checkReplace(context: TargetContext, key: string, path: string, localPath: string, existing: BigIntStats): void {
  const placed: PlacedFile = placedFileOf(existing);
  const conflict = placementConflict(
    { key, localPath, overwrite: context.overwrite },
    {
      placedByThisPullFor: context.pulled.keyOf(existing),
      placedByEarlierPull: existing.isFile() && context.record.placedUnchanged(path, placed),
    },
  );
  if (conflict !== undefined) throw new PlacementConflictError(conflict, { path: localPath });
}

/**
 * The guard of one download of `revision`: claims the partial as this key's file (and journals it in the record,
 * before it is moved into place), checks what is at the target.
 */
export function placementGuard(context: TargetContext, key: string, path: string, localPath: string, revision: string): PlacementGuard {
  return {
    claim: (partial) => {
      context.pulled.add(partial, key);
      context.record.journal(path, revision, placedFileOf(partial));
    },
    check: (existing) => checkReplace(context, key, path, localPath, existing),
  };
}
