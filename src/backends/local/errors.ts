/** The one place where node:fs errors become opencrate errors for the local backend. */
import {
  AlreadyExistsError,
  InvalidArgumentError,
  NotFoundError,
  OpenCrateError,
  PermissionDeniedError,
  PreconditionFailedError,
  TransientError,
} from "../../errors.ts";

/** What the backend was doing, which decides what a missing or misplaced path means. */
export type FsAction = "read" | "write" | "delete" | "list";

interface ErrnoError extends Error {
  readonly code: string;
  readonly syscall?: string;
}

/** True when `error` is a node:fs error with one of `codes` (any code when none is given). */
export function isErrno(error: unknown, ...codes: readonly string[]): error is ErrnoError {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code !== "string" || !/^E[A-Z0-9]+$/.test(code)) return false;
  return codes.length === 0 || codes.includes(code);
}

/** Errors of link() on a file system that has no hard links (FAT, some network shares and FUSE mounts). */
export function isNoHardLinks(error: unknown): boolean {
  return isErrno(error, "EPERM", "ENOTSUP", "EOPNOTSUPP", "ENOSYS");
}

/** The error for a key that names a folder on disk: there is no object there, only deeper keys. */
export function folderIsNotAnObject(location: string, cause?: unknown): NotFoundError {
  return new NotFoundError(`No object at ${location}: it is a folder.`, { path: location, cause });
}

/**
 * Turns a node:fs error into an OpenCrateError naming `location`. OpenCrateErrors, aborts and errors that are
 * not from the file system (for example a caller's body stream failing) pass through unchanged.
 */
export function toLocalError(error: unknown, location: string, action: FsAction): unknown {
  if (error instanceof OpenCrateError || !isErrno(error)) return error;
  const options = { path: location, cause: error };
  const code = error.code;
  switch (code) {
    case "ENOENT":
      if (action === "write") {
        return new TransientError(`Cannot write ${location}: a folder on its path disappeared during the write (ENOENT).`, options);
      }
      return new NotFoundError(`No object at ${location}.`, options);
    case "ENOTDIR":
      if (action === "write") {
        return new InvalidArgumentError(`Cannot write ${location}: a folder on its path is a file (ENOTDIR).`, options);
      }
      return new NotFoundError(`No object at ${location}: a folder on its path is a file.`, options);
    case "EISDIR":
      if (action === "write") return folderInTheWay(location, error);
      return folderIsNotAnObject(location, error);
    case "EEXIST":
      // mkdir reports EEXIST when a file sits where a parent folder of the key must go.
      if (error.syscall === "mkdir") {
        return new InvalidArgumentError(`Cannot write ${location}: a folder on its path is a file.`, options);
      }
      return alreadyExists(location, error);
    case "EACCES":
    case "EPERM":
      return new PermissionDeniedError(`Permission denied to ${action} ${location} (${code}).`, options);
    case "EROFS":
      return new PermissionDeniedError(`Cannot ${action} ${location}: the file system is read-only (EROFS).`, options);
    case "ENAMETOOLONG":
      return new InvalidArgumentError(`Cannot ${action} ${location}: a name in it is too long for this file system.`, options);
    case "ELOOP":
      return new InvalidArgumentError(`Cannot ${action} ${location}: too many levels of symbolic links.`, options);
    case "ENOSPC":
    case "EDQUOT":
      return new TransientError(`Cannot ${action} ${location}: no space left on the device (${code}).`, options);
    default:
      // EMFILE, EBUSY, EIO, ETIMEDOUT and the rare rest: the same call may succeed later.
      return new TransientError(`Cannot ${action} ${location}: ${error.message}`, options);
  }
}

/** A create-only write or copy found the key taken. */
export function alreadyExists(location: string, cause?: unknown): AlreadyExistsError {
  return new AlreadyExistsError(`${location} already exists.`, { path: location, cause });
}

/** A compare-and-swap found another revision (or no object) at the key. */
export function revisionMismatch(location: string, expected: string, current: string | undefined): PreconditionFailedError {
  return new PreconditionFailedError(
    `${location} changed since revision ${expected} (now ${current ?? "absent"}).`,
    { path: location },
  );
}

/** A write whose key names an existing folder. */
export function folderInTheWay(location: string, cause?: unknown): InvalidArgumentError {
  return new InvalidArgumentError(`Cannot write ${location}: it is a folder.`, { path: location, cause });
}
