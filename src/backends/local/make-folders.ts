/**
 * Making a folder and the missing ones above it (mkdir -p), with the real reason when that fails. Node's recursive
 * mkdir reports ENOENT for a folder it may not create on a read-only mount, which reads as "a folder on the path
 * disappeared": on ENOENT the deepest folder of the path that exists is checked for writing, and what that says
 * (EROFS, EACCES) is thrown instead.
 */
import { access, constants, mkdir, stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { isErrno } from "./errors.ts";

export async function makeFolders(path: string): Promise<void> {
  try {
    await mkdir(path, { recursive: true });
  } catch (error) {
    if (!isErrno(error, "ENOENT")) throw error;
    throw (await blockingCause(path)) ?? error;
  }
}

/** Why no folder can be made below the deepest existing folder of `path`, or undefined when nothing says so. */
async function blockingCause(path: string): Promise<unknown> {
  let folder = resolve(path);
  for (;;) {
    try {
      if (!(await stat(folder)).isDirectory()) return undefined;
      break;
    } catch (error) {
      if (!isErrno(error, "ENOENT")) return error;
      const parent = dirname(folder);
      if (parent === folder) return undefined;
      folder = parent;
    }
  }
  try {
    await access(folder, constants.W_OK | constants.X_OK);
    return undefined;
  } catch (error) {
    return error;
  }
}
