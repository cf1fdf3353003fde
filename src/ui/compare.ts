/**
 * Two versions of a name, file by file: added, removed, changed or same, by size and by the checksum the store
 * lists. Where the store lists none (local disk) and the sizes agree, the files are read and hashed, streamed, up to
 * COMPARE_LIMITS: past them a file stays "unknown", with the reason. The reads of every comparison of the process
 * share READ_SLOTS, and all stop when `signal` fires (the browser went away).
 */
import { createHash } from "node:crypto";
import type { StorageBackend } from "../backends/backend.ts";
import { mapWithConcurrency } from "../cli/pool.ts";
import { formatSize } from "../io/size.ts";
import { versionKey } from "../snapshot/layout.ts";
import type { Catalog } from "./catalog.ts";
import type { ComparedFile, Comparison, FileRow } from "./api-types.ts";
import { ReadSlots } from "./read-slots.ts";

export interface CompareLimits {
  /** A pair of files larger than this is not read. */
  readonly fileBytes: number;
  /** At most this many pairs are read by one comparison, in path order. */
  readonly files: number;
  /** At most this many bytes (both sides) are read by one comparison, in path order. */
  readonly totalBytes: number;
}

export const COMPARE_LIMITS: CompareLimits = { fileBytes: 16 * 1024 * 1024, files: 1000, totalBytes: 1024 * 1024 * 1024 };

/** Files read at once, by all comparisons of this process together. */
const READ_SLOTS = new ReadSlots(4);
const PAIR_CONCURRENCY = 8;

export async function compareVersions(
  catalog: Catalog,
  name: string,
  a: string,
  b: string,
  options: { readonly signal?: AbortSignal; readonly limits?: CompareLimits } = {},
): Promise<Comparison> {
  const { signal, limits = COMPARE_LIMITS } = options;
  const [filesA, filesB] = await Promise.all([catalog.files(name, a), catalog.files(name, b)]);
  signal?.throwIfAborted();
  const inA = new Map(filesA.filter((file) => file.refused === undefined).map((file) => [file.path, file]));
  const inB = new Map(filesB.filter((file) => file.refused === undefined).map((file) => [file.path, file]));
  const paths = [...new Set([...inA.keys(), ...inB.keys()])].sort();
  const plan = paths.map((path) => judge(path, inA.get(path), inB.get(path)));
  limitReads(plan, limits);
  const files = await mapWithConcurrency(plan, PAIR_CONCURRENCY, async (entry): Promise<ComparedFile> => {
    if (!("read" in entry)) return entry;
    const [hashA, hashB] = await Promise.all([
      contentHash(catalog.backend, `${versionKey(name, a)}/${entry.path}`, signal),
      contentHash(catalog.backend, `${versionKey(name, b)}/${entry.path}`, signal),
    ]);
    const { read: _read, ...sizes } = entry;
    return { ...sizes, change: hashA === hashB ? "same" : "changed", by: "content" };
  });
  return { name, a, b, files };
}

/** A pair whose sizes agree and whose listings carry no comparable checksum: its contents tell. */
type ToRead = Pick<ComparedFile, "path" | "sizeA" | "sizeB"> & { readonly read: number };

function judge(path: string, left: FileRow | undefined, right: FileRow | undefined): ComparedFile | ToRead {
  if (left === undefined) return { path, change: "added", sizeA: null, sizeB: right?.size ?? null, by: null };
  if (right === undefined) return { path, change: "removed", sizeA: left.size, sizeB: null, by: null };
  const sizes = { path, sizeA: left.size, sizeB: right.size };
  if (left.size !== right.size) return { ...sizes, change: "changed", by: "size" };
  const byChecksum = sameChecksum(left, right);
  if (byChecksum !== undefined) return { ...sizes, change: byChecksum ? "same" : "changed", by: "checksum" };
  return { ...sizes, read: left.size * 2 };
}

/** Turns the pairs past the limits (in path order) into "unknown" ones, saying which limit. */
function limitReads(plan: (ComparedFile | ToRead)[], limits: CompareLimits): void {
  let files = 0;
  let bytes = 0;
  plan.forEach((entry, index) => {
    if (!("read" in entry)) return;
    const { read, ...sizes } = entry;
    let reason: string | undefined;
    if (read / 2 > limits.fileBytes) reason = `contents not compared: larger than ${formatSize(limits.fileBytes)}`;
    else if (files + 1 > limits.files || bytes + read > limits.totalBytes) {
      reason = `contents not compared: a comparison reads at most ${limits.files} files and ${formatSize(limits.totalBytes)}`;
    }
    if (reason !== undefined) {
      plan[index] = { ...sizes, change: "unknown", by: null, reason };
      return;
    }
    files++;
    bytes += read;
  });
}

/** True or false when both listings carry a checksum of one algorithm; undefined when they cannot tell. */
function sameChecksum(left: FileRow, right: FileRow): boolean | undefined {
  if (left.checksum === null || right.checksum === null) return undefined;
  if (left.checksum.split(":")[0] !== right.checksum.split(":")[0]) return undefined;
  return left.checksum === right.checksum;
}

/** The file's SHA-256, read as a stream (a chunk at a time in memory), in one of READ_SLOTS. */
function contentHash(backend: StorageBackend, key: string, signal: AbortSignal | undefined): Promise<string> {
  return READ_SLOTS.run(signal, async () => {
    const hash = createHash("sha256");
    const body = await backend.getStream(key, signal === undefined ? {} : { signal });
    for await (const chunk of body) hash.update(chunk as Uint8Array);
    signal?.throwIfAborted();
    return hash.digest("hex");
  });
}
