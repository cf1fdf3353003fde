/**
 * The ways a codec fails, worded once: bad input to save, stored bytes that do not decode, and stored bytes in a
 * valid format it does not decode.
 */
import { CorruptDataError, InvalidArgumentError, NotSupportedError } from "../errors.ts";
import type { ArtifactStorage } from "./types.ts";

/** Save was given data it cannot encode. Thrown before anything is written. */
export function invalidInput(storage: ArtifactStorage, problem: string, cause?: unknown): InvalidArgumentError {
  return new InvalidArgumentError(`Cannot save ${storage.path}: ${problem}`, { path: storage.path, cause });
}

/** Load was given options it cannot honour. */
export function invalidLoad(storage: ArtifactStorage, problem: string): InvalidArgumentError {
  return new InvalidArgumentError(`Cannot load ${storage.path}: ${problem}`, { path: storage.path });
}

/** The stored bytes are not valid `format`. */
export function corruptData(storage: ArtifactStorage, format: string, problem: string, cause?: unknown): CorruptDataError {
  return new CorruptDataError(`${storage.path} is not valid ${format}: ${problem}`, { path: storage.path, cause });
}

/** The stored bytes are a valid file in a variant (an encoding, a sample type) this handler does not decode. */
export function unsupportedData(storage: ArtifactStorage, problem: string, cause?: unknown): NotSupportedError {
  return new NotSupportedError(`Cannot load ${storage.path}: ${problem}`, { path: storage.path, cause });
}

/** The artifact's extension is not one this type can encode or decode. */
export function unsupportedExtension(
  storage: ArtifactStorage,
  type: string,
  extension: string,
  supported: readonly string[],
): NotSupportedError {
  const shown = extension === "" ? "no extension" : `the extension '${extension}'`;
  return new NotSupportedError(
    `Cannot handle ${storage.path} as ${type}: ${shown} is not supported. Supported: ${supported.join(", ")}.`,
    { path: storage.path },
  );
}

/** The message of an unknown thrown value. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A location inside a value (`$.a.b[3]`) cut to about 80 characters for an error message, its end kept. */
export function shortLocation(where: string): string {
  return where.length <= 80 ? where : `${where.slice(0, 60)}…${where.slice(-16)}`;
}

/** A short description of a value's kind for error messages. */
export function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") {
    const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
    return typeof name === "string" && name !== "Object" ? `a ${name}` : "an object";
  }
  return typeof value === "undefined" ? "undefined" : `a ${typeof value}`;
}
