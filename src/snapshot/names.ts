/** Validation of the user-facing names of the snapshot layer: snapshot names, tags, types, `start`. */
import { InvalidArgumentError } from "../errors.ts";

const NAME = /^[A-Za-z0-9._-]{1,128}$/;
const TAG = /^[A-Za-z0-9._-]{1,64}$/;

export type StartOption = "new" | "last" | "dev" | number;
/** What `start` accepts: "new", "last", "dev", a version number, or its digits as a string ("3"). */
export type StartInput = StartOption | `${number}`;

/** A snapshot name: `[A-Za-z0-9._-]{1,128}`, not "." or "..". */
export function validateSnapshotName(name: unknown): string {
  if (typeof name !== "string" || !NAME.test(name) || name === "." || name === "..") {
    throw new InvalidArgumentError(
      `Invalid snapshot name ${showValue(name)}: use 1-128 characters from A-Z a-z 0-9 . _ - (not "." or "..").`,
      { path: typeof name === "string" ? name : undefined },
    );
  }
  return name;
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
