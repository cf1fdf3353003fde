/**
 * Reads of one stored file that must all come from the same save of it (a safetensors header read in two ranges,
 * a file's size and its bytes): every read is pinned to the revision head() gave, so a save landing between two
 * reads makes the later read fail instead of returning the new file's bytes with the old one's size or header.
 * The whole read then starts over once from the new revision; a second change fails TRANSIENT, saying so.
 */
import type { ByteRange, StorageBackend } from "../backends/backend.ts";
import { isOpenCrateError, TransientError } from "../errors.ts";

/** A pinned read found the file replaced (or deleted) since its head(). */
export class ChangedWhileRead extends Error {
  constructor(cause: unknown) {
    super("the file changed while being read", { cause });
  }
}

/** Whether `error`, from a read with `ifRevision`, says the object is no longer at that revision. */
export function isRevisionChange(error: unknown): boolean {
  return isOpenCrateError(error, "PRECONDITION_FAILED") || isOpenCrateError(error, "NOT_FOUND");
}

export interface PinnedFile {
  readonly size: number;
  readonly revision: string;
  /** Bytes of `range` at this revision; ChangedWhileRead once the file is another save (or gone). */
  read(range: ByteRange): Promise<Uint8Array>;
}

/**
 * Runs `body` on the file at one revision; when a read inside it finds the file changed, runs it once more on the
 * new revision. `body` must throw ChangedWhileRead (or let the one from `read` through) for that.
 */
export async function atOneRevision<T>(backend: StorageBackend, key: string, body: (file: PinnedFile) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const { size, revision } = await backend.head(key);
    const read = async (range: ByteRange): Promise<Uint8Array> => {
      try {
        return await backend.get(key, { range, ifRevision: revision });
      } catch (error) {
        if (isRevisionChange(error)) throw new ChangedWhileRead(error);
        throw error;
      }
    };
    try {
      return await body({ size, revision, read });
    } catch (error) {
      if (!(error instanceof ChangedWhileRead)) throw error;
      if (attempt >= 2) throw changedTwice(backend, key, error.cause);
    }
  }
}

export function changedTwice(backend: StorageBackend, key: string, cause: unknown): TransientError {
  const path = backend.describe(key);
  return new TransientError(`Cannot read ${path}: it changed while being read, twice in a row (it is being saved again); reload to read it.`, {
    path,
    cause,
  });
}
