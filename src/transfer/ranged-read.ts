/**
 * One object read as parallel ranged requests, each pinned to the revision the download started from, written
 * straight into the file at its offset (positional writes, no reordering buffer): memory stays about one write
 * batch per stream whatever the object's size.
 *
 * Ranges are handed out in order to a pool of streams. Unless the caller fixes the count, the pool starts small and
 * grows while finished ranges show streams limited by the network rather than by this machine: on a nearby store
 * a few streams already saturate the CPU or the disk, on a distant one each connection is capped and more streams
 * add up. A range that came slowly while its stream spent most of the time writing says the disk is the limit: more
 * streams would only queue more writes on the same file.
 */
import type { FileHandle } from "node:fs/promises";
import type { StorageBackend } from "../backends/backend.ts";
import { crc32cCombine } from "../backends/crc32c.ts";
import { Crc32cHash, hashOpenFile } from "./content-check.ts";
import { PositionalWriter, writeBody, type WriteTime } from "./file-writes.ts";

const MiB = 1024 * 1024;
/** Bytes per ranged request. */
export const RANGE_BYTES = 16 * MiB;
/** Streams a read starts with when the caller does not fix the count. */
const INITIAL_STREAMS = 4;
/** The most streams the pool grows to. */
const MAX_STREAMS = 8;
/** A finished range that came slower than this per stream says the network, not this machine, is the limit. */
const NETWORK_BOUND_BYTES_PER_SECOND = 96 * MiB;
/** ...unless its stream spent more than this share of the range's time in file writes. */
const DISK_BOUND_WRITE_SHARE = 0.5;

export interface RangedRead {
  readonly backend: StorageBackend;
  readonly key: string;
  readonly revision: string;
  /** Bytes [start, end) of the object are read. */
  readonly start: number;
  readonly end: number;
  /** Opened for positional writes (not appending): byte n of the object goes to offset n. */
  readonly handle: FileHandle;
  /** A fixed number of streams; undefined lets the pool grow by measured throughput. */
  readonly streams: number | undefined;
  /** The most streams the pool may grow to (default 8). */
  readonly maxStreams?: number | undefined;
  /** Indices of ranges already in the file (from an interrupted download): not read again. */
  readonly done?: ReadonlySet<number> | undefined;
  /** Bytes before this offset are in the file already (a prefix left by a one-stream download): the range holding it
   * is read from there on. */
  readonly filledTo?: number | undefined;
  /** Called once a range's bytes are all written. */
  readonly onRangeDone?: ((index: number) => Promise<void>) | undefined;
  /** Whether to compute the CRC32C of [start, end), from the file once each range is written (the handle must be
   * open for reading too). */
  readonly crc32c: boolean;
  readonly signal?: AbortSignal | undefined;
  readonly onBytes: (count: number) => void;
}

/** The ranges [start, end) is read in; index i covers bytes from start + i × RANGE_BYTES. */
export function rangesOf(start: number, end: number): { readonly start: number; readonly end: number }[] {
  const ranges: { readonly start: number; readonly end: number }[] = [];
  for (let from = start; from < end; from += RANGE_BYTES) ranges.push({ start: from, end: Math.min(from + RANGE_BYTES, end) });
  return ranges;
}

/**
 * Reads the ranges not already done; resolves with the CRC32C of all the bytes when asked and no range was skipped
 * (undefined otherwise). A failure stops every stream first.
 */
export async function readRanges(read: RangedRead): Promise<number | undefined> {
  const ranges = rangesOf(read.start, read.end);
  const done = read.done ?? new Set<number>();
  const todo = ranges.map((_, index) => index).filter((index) => !done.has(index));
  const crcs = new Array<number>(ranges.length).fill(0);
  const stop = new AbortController();
  const onAbort = (): void => stop.abort(read.signal?.reason);
  if (read.signal?.aborted === true) onAbort();
  else read.signal?.addEventListener("abort", onAbort, { once: true });

  const limit = Math.max(1, Math.min(read.streams ?? MAX_STREAMS, read.maxStreams ?? MAX_STREAMS, todo.length));
  let next = 0;
  let failure: { error: unknown } | undefined;
  const running = new Set<Promise<void>>();
  const writer = new PositionalWriter(read.handle);
  /** Buffers for reading finished ranges back (one per range being checked at once). */
  const readBack: Buffer[] = [];

  /** Whether a stream of the pool should be added after a range that came at `rate` with `writeShare` of its time writing. */
  const networkBound = (rate: number, writeShare: number): boolean =>
    rate < NETWORK_BOUND_BYTES_PER_SECOND && writeShare < DISK_BOUND_WRITE_SHARE;

  const readOne = async (index: number): Promise<boolean> => {
    const whole = ranges[index];
    if (whole === undefined) return false;
    const range = { start: Math.min(Math.max(whole.start, read.filledTo ?? 0), whole.end), end: whole.end };
    const length = range.end - range.start;
    const pinned = { ifRevision: read.revision, signal: stop.signal };
    const received = (bytes: Uint8Array): void => read.onBytes(bytes.byteLength);
    const started = performance.now();
    const spent: WriteTime = { ms: 0 };
    let at = range.start;
    // One write at a time per stream, in order (more, from every stream at once, cost the kernel more than they gain).
    let previous: Promise<void> = Promise.resolve();
    const sink = {
      write: (bytes: Uint8Array): Promise<void> => {
        received(bytes);
        const position = at;
        at += bytes.byteLength;
        const written = previous.then(() => writer.write(bytes, position, spent));
        previous = written;
        return written;
      },
    };
    let written = await read.backend.readRangeInto?.(read.key, { ...pinned, range: { offset: range.start, length } }, sink);
    if (written === undefined) {
      const body = await read.backend.getStream(read.key, { ...pinned, range: { offset: range.start, length } });
      written = await writeBody(body, read.handle, range.start, received, length, spent);
    }
    if (written !== length) {
      throw new Error(`the answer for bytes ${range.start}-${range.end - 1} ended after ${written} bytes`);
    }
    const elapsed = Math.max(performance.now() - started, 1);
    // From the file, not from the bytes as they came: the check then covers what is on disk (a range another
    // process truncated away meanwhile shows as a mismatch).
    if (read.crc32c) crcs[index] = await crc32cOfFile(read.handle, range.start, length, readBack);
    await read.onRangeDone?.(index);
    return networkBound((written / elapsed) * 1000, spent.ms / elapsed);
  };

  const startStream = (): void => {
    const stream = (async () => {
      while (failure === undefined && next < todo.length) {
        const grow = (await readOne(todo[next++] ?? -1)) && read.streams === undefined;
        if (grow && running.size < limit && next + running.size < todo.length) startStream();
      }
    })().catch((error: unknown) => {
      failure ??= { error };
      stop.abort(error);
    });
    running.add(stream);
    void stream.finally(() => running.delete(stream));
  };

  try {
    for (let i = 0; i < Math.min(read.streams ?? INITIAL_STREAMS, limit); i++) startStream();
    while (running.size > 0) await Promise.all(running);
  } finally {
    read.signal?.removeEventListener("abort", onAbort);
  }
  if (failure !== undefined) throw failure.error;
  if (!read.crc32c || todo.length < ranges.length || (read.filledTo ?? 0) > read.start) return undefined;
  let whole = 0;
  ranges.forEach((range, index) => (whole = crc32cCombine(whole, crcs[index] ?? 0, range.end - range.start)));
  return whole;
}

/** Bytes per read of a finished range back from the file. */
const READ_BACK_BYTES = 1024 * 1024;

/**
 * The CRC32C of `length` bytes of the file from `start`, read back through a buffer from `spare` (given back after).
 * A file shorter than that gives another CRC32C, which the check of the whole then reports.
 */
async function crc32cOfFile(handle: FileHandle, start: number, length: number, spare: Buffer[]): Promise<number> {
  const buffer = spare.pop() ?? Buffer.allocUnsafe(READ_BACK_BYTES);
  const hash = new Crc32cHash();
  try {
    await hashOpenFile(handle, hash, start, length, buffer);
  } finally {
    spare.push(buffer);
  }
  return hash.value;
}
