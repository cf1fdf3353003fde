/**
 * Two versions of a name, file by file: added, removed, changed or same, by size and by the checksum the store
 * lists. Where the store lists none (local disk) and the sizes agree, files up to COMPARE_READ_BYTES are read
 * and hashed; larger ones stay "unknown".
 */
import { createHash } from "node:crypto";
import type { StorageBackend } from "../backends/backend.ts";
import { mapWithConcurrency } from "../cli/pool.ts";
import { versionKey } from "../snapshot/layout.ts";
import type { Catalog } from "./catalog.ts";
import type { ComparedFile, Comparison, FileRow } from "./api-types.ts";

const COMPARE_READ_BYTES = 16 * 1024 * 1024;
const READ_CONCURRENCY = 8;

export async function compareVersions(catalog: Catalog, name: string, a: string, b: string): Promise<Comparison> {
  const [filesA, filesB] = await Promise.all([catalog.files(name, a), catalog.files(name, b)]);
  const inA = new Map(filesA.filter((file) => file.refused === undefined).map((file) => [file.path, file]));
  const inB = new Map(filesB.filter((file) => file.refused === undefined).map((file) => [file.path, file]));
  const paths = [...new Set([...inA.keys(), ...inB.keys()])].sort();
  const files = await mapWithConcurrency(paths, READ_CONCURRENCY, async (path): Promise<ComparedFile> => {
    const left = inA.get(path);
    const right = inB.get(path);
    if (left === undefined) return { path, change: "added", sizeA: null, sizeB: right?.size ?? null, by: null };
    if (right === undefined) return { path, change: "removed", sizeA: left.size, sizeB: null, by: null };
    const sizes = { path, sizeA: left.size, sizeB: right.size };
    if (left.size !== right.size) return { ...sizes, change: "changed", by: "size" };
    const byChecksum = sameChecksum(left, right);
    if (byChecksum !== undefined) return { ...sizes, change: byChecksum ? "same" : "changed", by: "checksum" };
    if (left.size > COMPARE_READ_BYTES) return { ...sizes, change: "unknown", by: null };
    const [hashA, hashB] = await Promise.all([
      contentHash(catalog.backend, `${versionKey(name, a)}/${path}`),
      contentHash(catalog.backend, `${versionKey(name, b)}/${path}`),
    ]);
    return { ...sizes, change: hashA === hashB ? "same" : "changed", by: "content" };
  });
  return { name, a, b, files };
}

/** True or false when both listings carry a checksum of one algorithm; undefined when they cannot tell. */
function sameChecksum(left: FileRow, right: FileRow): boolean | undefined {
  if (left.checksum === null || right.checksum === null) return undefined;
  if (left.checksum.split(":")[0] !== right.checksum.split(":")[0]) return undefined;
  return left.checksum === right.checksum;
}

async function contentHash(backend: StorageBackend, key: string): Promise<string> {
  return createHash("sha256").update(await backend.get(key)).digest("hex");
}
