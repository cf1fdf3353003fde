/** Two small file-system helpers shared by the local backend's modules. */
import type { BigIntStats } from "node:fs";
import { stat, unlink } from "node:fs/promises";
import { isErrno } from "./errors.ts";

/** The stats of `path`, or undefined when nothing is there (or a folder on its path is a file). */
export async function statIfPresent(path: string): Promise<BigIntStats | undefined> {
  try {
    return await stat(path, { bigint: true });
  } catch (error) {
    if (isErrno(error, "ENOENT", "ENOTDIR")) return undefined;
    throw error;
  }
}

/** Removes a file of ours if it is there; never fails. */
export async function removeQuietly(path: string): Promise<void> {
  await unlink(path).catch(() => {});
}
