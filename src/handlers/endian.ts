/** Typed arrays use the host's byte order; WAV and safetensors are little-endian, so their fast paths need an LE host. */
import { endianness } from "node:os";
import { NotSupportedError } from "../errors.ts";
import type { ArtifactStorage } from "./types.ts";

export function requireLittleEndianHost(storage: ArtifactStorage, format: string): void {
  if (endianness() !== "LE") {
    throw new NotSupportedError(`Cannot encode or decode ${storage.path}: ${format} needs a little-endian host.`, {
      path: storage.path,
    });
  }
}
