/**
 * What `opencrate pull` does: downloads a snapshot's files, resumable, never outside dest, never over a file no pull
 * placed there (unless `--overwrite`).
 */
import { access, constants, lstat, realpath } from "node:fs/promises";
import { join } from "node:path";
import { AlreadyExistsError, InvalidArgumentError, isOpenCrateError, PermissionDeniedError } from "../../errors.ts";
import type { ObjectInfo } from "../../backends/backend.ts";
import { makeFolders } from "../../backends/local/make-folders.ts";
import { checkFile } from "../../transfer/content-check.ts";
import { formatSize } from "../../io/size.ts";
import { isBookkeepingPath } from "../../snapshot/bookkeeping.ts";
import { inDefaultRoot } from "../default-root.ts";
import { listFolder, streamFolder, type FolderFile } from "../files.ts";
import { EXIT_FAILURE, oneLine, writeError } from "../errors.ts";
import { onInterrupt } from "../interrupt.ts";
import { printLines } from "../format.ts";
import { printable } from "../../printable.ts";
import { mapWithConcurrency } from "../pool.ts";
import {
  describeOutcome,
  downloadFile,
  FolderEntries,
  type DownloadContext,
  type DownloadOutcome,
  type DownloadTask,
} from "../pull/download.ts";
import { placedFileOf, readsWhole } from "../../transfer/download-file.ts";
import { FolderSwappedError, RefusedPathError, SafeFolder } from "../../transfer/safe-folder.ts";
import { createProgress, type PullProgress } from "../pull/progress.ts";
import { PlacementConflictError, PulledFiles } from "../pull/placement.ts";
import { PullRecord } from "../pull/pull-record.ts";
import { checkPullPath, pathInside } from "../pull/safe-path.ts";
import { CLAIMED_EMPTY, openSnapshotTarget, type SnapshotTarget } from "../targets.ts";

export interface PullOptions {
  readonly concurrency: number;
  readonly quiet?: boolean;
  /** Replace files in dest that no pull placed there, or that changed since (`--overwrite`). */
  readonly overwrite?: boolean;
}

type Result =
  | DownloadOutcome
  | { readonly kind: "refused" }
  /** Failed; `transient` when running the pull again may succeed (TRANSIENT: the object changed while it was read). */
  | { readonly kind: "failed"; readonly transient: boolean }
  /** A file in dest left as it is rather than replaced. */
  | { readonly kind: "conflict" }
  | { readonly kind: "unfinished" }
  | { readonly kind: "swapped"; readonly error: FolderSwappedError };

/** How long a destination folder's check that it was not swapped is trusted before the next file's rename. */
const FOLDER_RECHECK_MS = 50;

export async function runPull(uri: string, destArgument: string | undefined, options: PullOptions): Promise<void> {
  const stop = new AbortController();
  let downloading = false;
  // Until the downloads begin there is nothing to finish, and opening the snapshot may wait on a silent store.
  const release = onInterrupt((signal) => {
    if (downloading) {
      stop.abort();
      return;
    }
    writeError(`interrupted (${signal}) before any file was downloaded.`);
    process.exit(EXIT_FAILURE);
  });
  try {
    await pull(uri, destArgument, options, stop, () => (downloading = true));
  } finally {
    release();
  }
}

/** The pull; `began()` when the downloads begin, from when `stop` (aborted on a signal) ends them. */
async function pull(uri: string, destArgument: string | undefined, options: PullOptions, stop: AbortController, began: () => void): Promise<void> {
  const snapshot = await openSnapshotTarget(await inDefaultRoot(uri, { refreshesPulled: true }), CLAIMED_EMPTY);
  if (snapshot.empty) {
    // Nothing to download, so no destination to make: a later pull gets the files once the run writes them.
    if (options.quiet !== true) printLines(`Pulled nothing: ${snapshot.where} is claimed and has no files yet (its run has not written anything).`);
    return;
  }
  // "v3:tag" (and a name such as "exp:1", which Python OpenCrate takes) is not a valid folder name on Windows.
  const onDisk = (name: string): string => (process.platform === "win32" ? name.replaceAll(":", "_") : name);
  const dest = destArgument ?? join(".", onDisk(snapshot.name), onDisk(snapshot.folder));
  const destRoot = await prepareDestination(dest);

  const progress = await createProgress(options.quiet === true ? "quiet" : process.stderr.isTTY === true ? "bar" : "lines");
  began();
  const root = await SafeFolder.open(destRoot, { recheckAfterMs: FOLDER_RECHECK_MS });
  const record = await PullRecord.read(root);
  try {
    await refuseRunFolder(root, record, dest, snapshot, stop.signal);
    await record.mark(root);
  } catch (error) {
    record.close();
    await root.close();
    throw error;
  }
  const context: DownloadContext = {
    backend: snapshot.backend,
    root,
    entries: new FolderEntries(),
    record,
    pulled: new PulledFiles(),
    overwrite: options.overwrite === true,
    concurrency: options.concurrency,
    signal: stop.signal,
    onBytes: (count) => progress.addBytes(count),
  };
  const plan: PlanTally = { files: 0, refused: 0, paths: new Set(), whole: false };
  progress.start();
  let results: Result[] | undefined;
  let swapped: FolderSwappedError | undefined;
  let notListed: string[] = [];
  try {
    results = await mapWithConcurrency(
      plannedTasks(listing(snapshot, stop.signal), { destRoot, dest, progress, plan, stop }),
      options.concurrency,
      async (task) => {
        const result = await pullOne(task, context, progress);
        if (result.kind === "swapped") {
          // Someone else moves folders of dest around: stop writing into it at all.
          swapped ??= result.error;
          stop.abort();
        }
        return result;
      },
      // A file over 1 MiB streams through buffers of its own, in up to 8 ranges from 32 MiB: half as many at once.
      { isHeavy: (task) => !readsWhole(task.listed.size), limit: Math.floor(options.concurrency / 2) },
    );
    // A swap after a folder's last check is still reported.
    swapped ??= await swapAfterLastCheck(root);
    // Only a listing read to its end tells which of an earlier pull's files the version no longer has.
    if (plan.whole && swapped === undefined && !stop.signal.aborted) notListed = await record.notListed(root, plan.paths);
  } finally {
    progress.stop(results !== undefined);
    // Without the record, the journal still names this pull's files (and the next pull's end saves them).
    await record.save(root).catch(() => {});
    record.close();
    await root.close();
  }

  const count = (kind: Result["kind"]): number => results.filter((result) => result.kind === kind).length;
  const refused = plan.refused + count("refused");
  const failed = count("failed");
  const retryHelps = failed > 0 && results.every((result) => result.kind !== "failed" || result.transient);
  const conflicts = count("conflict");
  const unfinished = count("unfinished");
  const pulled = results.filter((result): result is DownloadOutcome => result.kind === "downloaded" || result.kind === "complete");
  const summary =
    `${pulled.length} of ${plan.files + plan.refused} files ` +
    `(${formatSize(pulled.reduce((sum, result) => sum + result.size, 0))}) in ${dest}: ` +
    `${count("downloaded")} downloaded, ${count("complete")} already complete` +
    (refused > 0 ? `, ${refused} refused` : "") +
    (failed > 0 ? `, ${failed} failed` : "") +
    (conflicts > 0 ? `, ${conflicts} not replaced` : "") +
    (unfinished > 0 ? `, ${unfinished} unfinished` : "");
  if (notListed.length > 0) writeError(earlierPullNote(notListed, dest, snapshot.where));
  if (swapped !== undefined) {
    writeError(`pull stopped: ${oneLine(swapped)} ${summary}.`);
    process.exitCode = EXIT_FAILURE;
  } else if (stop.signal.aborted) {
    writeError(`interrupted: ${summary}. Run the same pull again to finish it.`);
    process.exitCode = EXIT_FAILURE;
  } else if (refused > 0 || failed > 0 || conflicts > 0) {
    const again =
      !retryHelps ? "" : refused > 0 || conflicts > 0 ? ` Run the same pull again to retry the ${failed} failed.` : " Run the same pull again to finish it.";
    writeError(`pull incomplete: ${summary}.${again}`);
    process.exitCode = EXIT_FAILURE;
  } else if (options.quiet !== true) {
    printLines(`Pulled ${summary}.`);
  }
}

/** How many earlier-pull file names the note lists before "and N more". */
const NOTE_NAMES = 5;

/**
 * The note on files an earlier pull placed in dest that the version no longer lists (its run restarted with
 * `replace`, or deleted them; or another version was pulled there): kept, never deleted, but named, since dest now
 * mixes them with this version's files.
 */
function earlierPullNote(paths: readonly string[], dest: string, where: string): string {
  const shown = paths.slice(0, NOTE_NAMES).map((path) => printable(path)).join(", ");
  const more = paths.length > NOTE_NAMES ? ` and ${paths.length - NOTE_NAMES} more` : "";
  const files = paths.length === 1 ? "1 file" : `${paths.length} files`;
  const verb = paths.length === 1 ? "is" : "are";
  return `${files} in ${dest} came from an earlier pull and ${verb} no longer in ${where}: ${shown}${more} (delete them, or pull into a new folder).`;
}

/**
 * Creates `dest` (and its parents) and checks it can be written, before anything is downloaded: a destination
 * that is a file or sits under one, or that cannot be created or written, fails with one line naming it.
 */
async function prepareDestination(dest: string): Promise<string> {
  try {
    await makeFolders(dest);
    const destRoot = await realpath(dest);
    await access(destRoot, constants.W_OK | constants.X_OK);
    return destRoot;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EEXIST" || code === "ENOTDIR") {
      throw new InvalidArgumentError(`Cannot pull into ${dest}: it, or a folder on its path, is a file.`, { path: dest, cause: error });
    }
    if (code === "EROFS") {
      throw new PermissionDeniedError(`Cannot pull into ${dest}: the file system is read-only (EROFS).`, { path: dest, cause: error });
    }
    if (code === "EACCES" || code === "EPERM") {
      throw new PermissionDeniedError(`Cannot pull into ${dest}: no permission to create or write that folder (${code}).`, {
        path: dest,
        cause: error,
      });
    }
    throw error;
  }
}

/**
 * A destination holding a log (`<name>.log`, a rank's `<name>.rank<N>.log`, a history) that no pull wrote into is a
 * run's own version folder (say, the default `./<name>/<version>` run from inside a local root): pulling would
 * overwrite that run's files with another run's. So is an earlier pull's folder whose log changed since that pull
 * placed it: a run resumed it (a pulled `v<N>` inside a local root is a version like any other). Refused before
 * anything is written. A log the record does not vouch for but whose content is the version's own (same size and
 * checksum: a pull stopped before it recorded the log, a copied folder) is taken as pulled.
 */
async function refuseRunFolder(root: SafeFolder, record: PullRecord, dest: string, snapshot: SnapshotTarget, signal: AbortSignal): Promise<void> {
  for (const log of [...(await root.names())].sort().filter((entry) => entry.endsWith(".log"))) {
    if (!record.found) {
      throw new AlreadyExistsError(
        `Not pulling into ${dest}: it holds ${log}, so it is the folder of a run (written by opencrate or Python ` +
          "OpenCrate), not an earlier pull, and the pull would overwrite that run's files. Pull into another folder.",
        { path: dest },
      );
    }
    const now = await lstat(root.entry(log), { bigint: true }).catch(() => undefined);
    if (now?.isFile() !== true) throw changedLog(dest, log);
    const placed = placedFileOf(now);
    if (record.placedUnchanged(log, placed)) continue;
    const revision = await sameAsStored(root.entry(log), placed.size, snapshot, log, signal);
    if (revision === undefined) throw changedLog(dest, log);
    record.noteFound(log, revision, placed);
  }
}

function changedLog(dest: string, log: string): AlreadyExistsError {
  return new AlreadyExistsError(
    `Not pulling into ${dest}: its ${log} is not the one the last pull placed there, so a run may have written into ` +
      "this folder since (a setup that resumed it), and the pull would overwrite that run's files. Pull into another " +
      `folder; or, if no run wrote there, delete ${log} and pull again.`,
    { path: dest },
  );
}

/** The stored object's revision when the file at `path` has its size and checksum; undefined otherwise. */
async function sameAsStored(path: string, size: number, snapshot: SnapshotTarget, name: string, signal: AbortSignal): Promise<string | undefined> {
  const key = `${snapshot.prefix}${name}`;
  let info: ObjectInfo;
  try {
    info = await snapshot.backend.head(key, { signal });
  } catch (error) {
    if (isOpenCrateError(error, "NOT_FOUND")) return undefined;
    throw error;
  }
  if (info.size !== size) return undefined;
  const check = await checkFile(path, info, key, snapshot.backend, signal);
  return check.kind === "verified" ? info.revision : undefined;
}

/**
 * The version's files: from a store, as the listing reads them, so that downloads start with its first page; on
 * local disk, listed whole first, since dest may lie inside the version's own folder and a listing that went on
 * meanwhile would find the pull's own files.
 */
async function* listing(snapshot: SnapshotTarget, signal: AbortSignal): AsyncGenerator<FolderFile> {
  if (snapshot.backend.kind === "local") yield* await listFolder(snapshot.backend, snapshot.prefix);
  else yield* streamFolder(snapshot.backend, snapshot.prefix, signal);
}

/** What the listing gave so far. */
interface PlanTally {
  /** Files to download. */
  files: number;
  /** Keys refused before any download. */
  refused: number;
  /** The path of every file listed, bookkeeping and refused keys included. */
  readonly paths: Set<string>;
  /** The listing was read to its end. */
  whole: boolean;
}

interface PlanContext {
  readonly destRoot: string;
  readonly dest: string;
  readonly progress: PullProgress;
  readonly plan: PlanTally;
  /** Aborted when the listing fails, so that the downloads under way stop. */
  readonly stop: AbortController;
}

/** Checks each listed key as it comes; refused ones are reported, opencrate's bookkeeping skipped. */
async function* plannedTasks(listed: AsyncIterable<FolderFile>, context: PlanContext): AsyncGenerator<DownloadTask> {
  const { destRoot, dest, progress, plan } = context;
  try {
    for await (const file of listed) {
      // Interrupted, or dest was swapped: nothing more is planned.
      if (context.stop.signal.aborted) return;
      plan.paths.add(file.path);
      const task = planned(file, destRoot, dest, progress);
      if (task === "refused") plan.refused += 1;
      else if (task !== undefined) {
        plan.files += 1;
        progress.addFile(file.size);
        yield task;
      }
    }
    plan.whole = true;
  } catch (error) {
    // A listing stopped by the abort itself ends the plan; any other failure stops the downloads under way.
    if (context.stop.signal.aborted) return;
    context.stop.abort();
    throw error;
  }
}

/** A listed key's download; "refused" (reported) for a key that may not be written, undefined for bookkeeping. */
function planned(file: FolderFile, destRoot: string, dest: string, progress: PullProgress): DownloadTask | "refused" | undefined {
  // Checked before the bookkeeping rule, so a key like ".~oc-x/..\y" is reported, not skipped.
  const check = checkPullPath(file.path);
  const problem = check.ok
    ? pathInside(destRoot, check.segments) === undefined
      ? `it would land outside ${dest}`
      : undefined
    : check.problem;
  if (!check.ok || problem !== undefined) {
    progress.problem(`refused ${JSON.stringify(file.key)}: ${problem}; nothing was written for it.`);
    return "refused";
  }
  if (isBookkeepingPath(file.path)) return undefined;
  return { key: file.key, path: file.path, segments: check.segments, listed: file.info };
}

async function pullOne(task: DownloadTask, context: DownloadContext, progress: PullProgress): Promise<Result> {
  if (context.signal.aborted) return { kind: "unfinished" };
  try {
    const outcome = await downloadFile(task, context);
    progress.fileDone(() => describeOutcome(task.path, outcome));
    return outcome;
  } catch (error) {
    if (error instanceof FolderSwappedError) return { kind: "swapped", error };
    if (context.signal.aborted) return { kind: "unfinished" };
    if (error instanceof PlacementConflictError) {
      progress.problem(`not replaced ${task.path}: ${oneLine(error)}.`);
      return { kind: "conflict" };
    }
    if (error instanceof RefusedPathError) {
      progress.problem(`refused ${JSON.stringify(task.key)}: ${oneLine(error)}; nothing was written for it.`);
      return { kind: "refused" };
    }
    progress.problem(`failed ${task.path}: ${oneLine(error)}`);
    return { kind: "failed", transient: isOpenCrateError(error, "TRANSIENT") };
  }
}

/** The swap verifyAll() finds in dest, if any. */
async function swapAfterLastCheck(root: SafeFolder): Promise<FolderSwappedError | undefined> {
  try {
    await root.verifyAll();
    return undefined;
  } catch (error) {
    if (error instanceof FolderSwappedError) return error;
    throw error;
  }
}
