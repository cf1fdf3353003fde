/**
 * Validation of the user-facing names of the snapshot layer: snapshot names, tags, types, artifact names, `start`.
 *
 * Every name becomes a file name on a local disk, where the common limit is 255 bytes (ext4, XFS, Btrfs, ZFS; APFS
 * and NTFS count 255 characters), and the library appends to some of them. The lengths below leave room for what
 * it appends: snapshot names (128) get `.rank<r>.history.log`, tags (64) go into `v<N>:<tag>` and
 * `<stem>.backup_<tag><ext>`, and artifact names get that backup infix, so each of their segments may have 255 less
 * the longest infix. Run ids are checked in run-env.ts against the same 255 bytes.
 */
import { keySegmentProblem } from "../backends/keys.ts";
import { InvalidArgumentError } from "../errors.ts";
import { bookkeepingSegment } from "./bookkeeping.ts";

/** The longest file name most file systems take, in bytes (here: UTF-8 bytes). */
export const FILE_NAME_MAX_BYTES = 255;
const TAG_MAX = 64;
const NAME_MAX = 128;
const NAME = new RegExp(`^[A-Za-z0-9._-]{1,${NAME_MAX}}$`);
const TAG = new RegExp(`^[A-Za-z0-9._-]{1,${TAG_MAX}}$`);
/**
 * The most backup() inserts into an artifact's file name: `.backup_` and a tag of 64 characters (a timestamp,
 * `.backup_HH:MM:SS_DD-Mon-YYYY-<n>`, is shorter).
 */
export const BACKUP_INFIX_MAX_BYTES = ".backup_".length + TAG_MAX;
/** The longest last segment of an artifact name (183 UTF-8 bytes): a file name less the longest backup infix. */
export const ARTIFACT_SEGMENT_MAX_BYTES = FILE_NAME_MAX_BYTES - BACKUP_INFIX_MAX_BYTES;

export type StartOption = "new" | "last" | "dev" | number;
/** What `start` accepts: "new", "last", "dev", a version number, or its digits as a string ("3"). */
export type StartInput = StartOption | `${number}`;

/**
 * Why `name` cannot name an existing snapshot, or undefined when it can: any one path segment a key may hold
 * (keys.ts: not empty, "." or "..", no "/", backslash or control character). Python OpenCrate takes any name
 * ("my run", "résumé", "exp:1", "x@y"), so every reader (open, ls, log, pull, the viewer) takes every such name;
 * only a new name must follow {@link isNewSnapshotName}.
 */
export function snapshotNameProblem(name: unknown): string | undefined {
  if (typeof name !== "string") return "a snapshot name must be a string";
  const problem = keySegmentProblem(name);
  return problem === undefined ? undefined : `a snapshot name must be one segment of a valid key (${problem})`;
}

/** Whether `name` can name an existing snapshot (see {@link snapshotNameProblem}). */
export function isSnapshotName(name: unknown): name is string {
  return snapshotNameProblem(name) === undefined;
}

/** A name an existing snapshot can have (see {@link snapshotNameProblem}); InvalidArgumentError otherwise. */
export function validateSnapshotName(name: unknown): string {
  const problem = snapshotNameProblem(name);
  if (problem !== undefined) {
    throw new InvalidArgumentError(`Invalid snapshot name ${showValue(name)}: ${problem}.`, {
      path: typeof name === "string" ? name : undefined,
    });
  }
  return name as string;
}

/**
 * The name setup() takes: a snapshot name (above) of at most 128 UTF-8 bytes, so that its log file names
 * (`<name>.rank<r>.history.log`) fit in a file name. Whether it may be new is checked once the root is read
 * ({@link refuseNewSnapshotName}).
 */
export function validateSetupName(name: unknown): string {
  const valid = validateSnapshotName(name);
  const bytes = Buffer.byteLength(valid, "utf8");
  if (bytes > NAME_MAX) {
    throw new InvalidArgumentError(
      `Invalid snapshot name ${showValue(valid)}: it is ${bytes} UTF-8 bytes, and setup takes at most ${NAME_MAX} (its log ` +
        `files add their suffixes to it); a longer name made by another tool still opens read-only.`,
      { path: valid },
    );
  }
  return valid;
}

/** Whether setup may create `name`: opencrate's own rule, `[A-Za-z0-9._-]{1,128}`, not starting with ".". */
export function isNewSnapshotName(name: string): boolean {
  return NAME.test(name) && !name.startsWith(".");
}

/**
 * Refuses a name setup would create that is outside opencrate's own rule: characters other than A-Z a-z 0-9 . _ -,
 * or a leading "." (the root listings leave such folders out, and ".opencrate" is opencrate's own). An existing
 * snapshot of such a name (Python OpenCrate takes any name) is set up like any other.
 */
export function refuseNewSnapshotName(name: string): void {
  if (isNewSnapshotName(name)) return;
  if (name.startsWith(".")) {
    throw new InvalidArgumentError(
      `Invalid snapshot name ${JSON.stringify(name)}: a new name may not start with "." (the listings of a root leave ` +
        `such folders out, and ".opencrate" is opencrate's own); an existing one can still be set up.`,
      { path: name },
    );
  }
  throw new InvalidArgumentError(
    `Invalid snapshot name ${JSON.stringify(name)}: a new name takes 1-${NAME_MAX} characters from A-Z a-z 0-9 . _ - ` +
      `(an existing snapshot of another name, as Python OpenCrate makes, can still be set up).`,
    { path: name },
  );
}

/** A tag: `[A-Za-z0-9._-]{1,64}`; "" and undefined mean no tag. */
export function validateTag(tag: unknown, what = "tag"): string | undefined {
  if (tag === undefined || tag === "") return undefined;
  if (typeof tag !== "string" || !TAG.test(tag) || tag === "." || tag === "..") {
    throw new InvalidArgumentError(
      `Invalid ${what} ${showValue(tag)}: use 1-64 characters from A-Z a-z 0-9 . _ - (not "." or "..").`,
    );
  }
  return tag;
}

/** Whether a tag is all digits or `latest`, which `<name>@<tag>` reads as a version number or the latest version. */
export function isSelectorTag(tag: string | undefined): tag is string {
  return tag !== undefined && (/^\d+$/.test(tag) || tag === "latest");
}

/**
 * Refuses a tag setup would give a new version folder when it is all digits or `latest`, which `<name>@<tag>`
 * would read as a version number or the latest version. A folder tagged so before (by an older release, or Python
 * OpenCrate, which takes any tag) is still resumed with its tag, and opens by its folder (`<name>/v3:5`).
 */
export function refuseNewTag(tag: string | undefined, folder: string): void {
  if (!isSelectorTag(tag)) return;
  const selects = tag === "latest" ? "the latest version" : `version ${Number(tag)}`;
  throw new InvalidArgumentError(
    `Invalid tag ${JSON.stringify(tag)} for the new folder ${folder}: <name>@${tag} selects ${selects}, not a tag, so ` +
      `a new folder's tag may not be all digits or "latest" (an existing folder tagged so can still be resumed).`,
  );
}

/**
 * A custom artifact type: used verbatim as its folder name, so it may not be a built-in type's folder
 * ("jsons", "checkpoints", …), which would mix the two kinds of artifact in one folder. Compared in any case:
 * on a case-insensitive disk (macOS, Windows) "JSONS" is the folder "jsons".
 */
export function validateTypeName(type: unknown, reservedFolders: readonly string[] = []): string {
  if (typeof type !== "string" || !/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$/.test(type)) {
    throw new InvalidArgumentError(
      `Invalid artifact type ${showValue(type)}: use 1-64 characters from A-Z a-z 0-9 . _ -, not starting with ".".`,
    );
  }
  const folder = reservedFolders.find((reserved) => reserved.toLowerCase() === type.toLowerCase());
  if (folder !== undefined) {
    const same = folder === type ? "" : ` ('${folder}' on a disk that ignores case)`;
    throw new InvalidArgumentError(`Artifact type '${type}' is the folder of a built-in type${same}; pick another name.`);
  }
  return type;
}

/**
 * A custom type may not be one of the run's log names in the version folder (`<name>.log`, `<name>.history.log`,
 * `<name>.rank<r>.log`, `<name>.rank<r>.history.log`): on an object store a folder of that name would sit beside
 * the log file, which a local disk cannot hold.
 */
export function refuseRunLogType(type: string, snapshotName: string): void {
  if (isRunLogName(type, snapshotName)) {
    throw new InvalidArgumentError(`Artifact type '${type}' is the name of the run's log file; pick another name.`);
  }
}

/** Whether `file` is a log name of a run of snapshot `name`, for any rank (case as on a case-insensitive disk too). */
export function isRunLogName(file: string, name: string): boolean {
  const lower = file.toLowerCase();
  const prefix = `${name.toLowerCase()}.`;
  return lower.startsWith(prefix) && /^(?:rank\d+\.)?(?:history\.)?log$/.test(lower.slice(prefix.length));
}

/**
 * Throws InvalidArgumentError when an artifact cannot be written under `name` on every store with room for its
 * backups: a last segment longer than ARTIFACT_SEGMENT_MAX_BYTES (a folder above it longer than a file name), or a key (`key`, relative to the backend) that with
 * the longest backup infix passes `maxKeyBytes` (1024 less the root prefix on S3 and GCS). `where` is the snapshot
 * folder, for the message.
 */
export function checkArtifactNameLength(name: string, type: string, key: string, maxKeyBytes: number, where: string): void {
  const segments = name.split("/");
  for (const [index, segment] of segments.entries()) {
    const bytes = Buffer.byteLength(segment, "utf8");
    // Only the file name itself gets a backup's infix; the folders above it are file names as they are.
    const last = index === segments.length - 1;
    const limit = last ? ARTIFACT_SEGMENT_MAX_BYTES : FILE_NAME_MAX_BYTES;
    if (bytes > limit) {
      const which = segment === name ? "it is" : `its ${last ? "file name" : "folder"} ${JSON.stringify(segment)} is`;
      const rule = last
        ? `a file name may have at most ${ARTIFACT_SEGMENT_MAX_BYTES} (a file system holds ${FILE_NAME_MAX_BYTES}, and a tagged backup adds up to ${BACKUP_INFIX_MAX_BYTES})`
        : `a folder name may have at most ${FILE_NAME_MAX_BYTES}`;
      throw new InvalidArgumentError(`${type} artifact name ${JSON.stringify(name)} in ${where} is too long: ${which} ${bytes} UTF-8 bytes, and ${rule}.`, {
        path: name,
      });
    }
  }
  const keyBytes = Buffer.byteLength(key, "utf8");
  if (keyBytes + BACKUP_INFIX_MAX_BYTES > maxKeyBytes) {
    throw new InvalidArgumentError(
      `${type} artifact name ${JSON.stringify(name)} in ${where} is too long: its key below the root is ${keyBytes} ` +
        `UTF-8 bytes, and this root takes keys of at most ${maxKeyBytes} (1024 less the root's prefix), of which a ` +
        `tagged backup needs ${BACKUP_INFIX_MAX_BYTES} more: use at most ${maxKeyBytes - BACKUP_INFIX_MAX_BYTES - (keyBytes - Buffer.byteLength(name, "utf8"))} bytes for the name here.`,
      { path: name },
    );
  }
}

/**
 * Throws InvalidArgumentError when a segment of artifact name `name` is one of opencrate's bookkeeping names
 * (bookkeeping.ts): `ls`, `pull` and the viewer leave such paths out, so the artifact would be saved and never
 * shown. `where` is the snapshot folder, for the message.
 */
export function refuseBookkeepingArtifactName(name: string, type: string, where: string): void {
  const found = bookkeepingSegment(name);
  if (found === undefined) return;
  const which = found.segment === name ? "it is a name" : `its segment ${JSON.stringify(found.segment)} is a name`;
  throw new InvalidArgumentError(
    `Invalid ${type} artifact name ${JSON.stringify(name)} in ${where}: ${which} opencrate keeps for itself (${found.reason}), ` +
      "which ls, pull and the viewer leave out; pick another name.",
    { path: name },
  );
}

/** `"new"`, `"last"`, `"dev"`, a non-negative integer, or a string of digits. */
export function parseStart(start: unknown): StartOption {
  if (start === undefined) return "new";
  if (start === "new" || start === "last" || start === "dev") return start;
  if (typeof start === "number" && Number.isSafeInteger(start) && start >= 0) return start;
  if (typeof start === "string" && /^\d{1,15}$/.test(start)) return Number(start);
  throw new InvalidArgumentError(
    `Invalid start ${showValue(start)}: use "new", "last", "dev", a non-negative integer or a string of digits.`,
  );
}

/** The offending value itself for messages (strings quoted), or its kind for objects. */
export function showValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean" || value === null || value === undefined) {
    return String(value);
  }
  return `a value of type ${Array.isArray(value) ? "array" : typeof value}`;
}
