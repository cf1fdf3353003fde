/**
 * Writing a response body into a file with few system calls and little garbage: small chunks are copied into
 * reused 128 KiB buffers, and a full buffer goes out in one positional write while another fills; the socket is
 * paused while two buffers' worth waits for the disk. Writes are made in the calling thread while the page cache
 * takes them quickly (PositionalWriter).
 */
import { writeSync } from "node:fs";
import type { FileHandle } from "node:fs/promises";

/** Bytes gathered before one write: few enough to be still in the CPU's cache when the kernel copies them. A 1 GiB
 * download through the HTTP client from MinIO on the same machine took 1.8-2.1 s with 128 KiB and 1.9-2.3 s with
 * 512 KiB, writing in the calling thread (2.6-3.0 s and 3.3-4.3 s through the thread pool). */
const BUFFER_BYTES = 128 * 1024;
/** A write that held the calling thread this long says the disk is behind (write-back throttling, a slow device). */
const SLOW_WRITE_MS = 10;

/** Adds up the milliseconds spent in file writes (a disk that keeps streams waiting shows here). */
export interface WriteTime {
  ms: number;
}

/** Anything `writeBody` reads: a Node stream (read by events, paused for back-pressure) or any iterable of bytes. */
export type Body = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

interface EventBody {
  on(event: "data", listener: (chunk: Uint8Array) => void): unknown;
  once(event: "end" | "error" | "close", listener: (error?: unknown) => void): unknown;
  pause(): unknown;
  resume(): unknown;
  destroy(error?: Error): unknown;
}

/**
 * Writes every byte of `body` to `handle`, from `position` on (null: at the end, for a file opened to append).
 * `onChunk` sees each chunk as it arrives (hashing, progress). Resolves with the bytes written; more than `limit`
 * rejects before they are written. `spent`, when given, adds up the time spent writing.
 */
export async function writeBody(
  body: Body,
  handle: FileHandle,
  position: number | null,
  onChunk: (bytes: Uint8Array) => void,
  limit = Number.POSITIVE_INFINITY,
  spent?: WriteTime,
): Promise<number> {
  const sink = new BufferedSink(handle, position, spent);
  const accept = (bytes: Uint8Array): void => {
    if (sink.received + bytes.byteLength > limit) throw new Error(`the answer was longer than the ${limit} bytes asked for`);
    onChunk(bytes);
    sink.add(bytes);
  };
  if (isEventBody(body)) await pumpEvents(body, sink, accept);
  else {
    for await (const chunk of body) {
      accept(chunk);
      await sink.drained();
    }
  }
  await sink.finish();
  return sink.received;
}

function isEventBody(body: Body): body is Body & EventBody {
  const candidate = body as Partial<EventBody>;
  return typeof candidate.on === "function" && typeof candidate.pause === "function" && typeof candidate.resume === "function";
}

/** Reads a Node stream by 'data' events (no per-read concatenation), pausing it while the sink is full. */
function pumpEvents(body: EventBody, sink: BufferedSink, accept: (bytes: Uint8Array) => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const fail = (error: unknown): void => {
      if (settled) return;
      settled = true;
      body.destroy();
      reject(error);
    };
    body.on("data", (chunk) => {
      if (settled) return;
      try {
        accept(chunk);
      } catch (error) {
        fail(error);
        return;
      }
      if (sink.full) {
        body.pause();
        sink.drained().then(() => body.resume(), fail);
      }
    });
    body.once("error", (error) => fail(error));
    body.once("end", () => {
      settled = true;
      resolve();
    });
    body.once("close", () => fail(new Error("the answer ended before all its bytes came")));
    sink.onFailure(fail);
  });
}

/**
 * Small chunks are copied into a buffer taken from a free list and written once it is full; chunks of half a buffer
 * or more are written as they are. Writes go out one after another; `full` asks the body to wait while more than two
 * buffers' worth is queued.
 */
class BufferedSink {
  readonly #writer: PositionalWriter;
  readonly #position: number | null;
  readonly #spent: WriteTime | undefined;
  readonly #free: Buffer[] = [];
  #filling: Buffer | undefined;
  #filled = 0;
  /** Bytes handed to writes so far (their file offset follows from it). */
  #queued = 0;
  #inFlight = 0;
  #writing: Promise<void> = Promise.resolve();
  #failure: ((error: unknown) => void) | undefined;
  #failed: { error: unknown } | undefined;
  received = 0;

  constructor(handle: FileHandle, position: number | null, spent: WriteTime | undefined) {
    this.#writer = new PositionalWriter(handle);
    this.#position = position;
    this.#spent = spent;
  }

  get full(): boolean {
    return this.#inFlight >= 2 * BUFFER_BYTES;
  }

  onFailure(listener: (error: unknown) => void): void {
    this.#failure = listener;
    if (this.#failed !== undefined) listener(this.#failed.error);
  }

  add(bytes: Uint8Array): void {
    this.received += bytes.byteLength;
    if (bytes.byteLength >= BUFFER_BYTES / 2) {
      this.#flushFilling();
      this.#enqueue(bytes, undefined);
      return;
    }
    let offset = 0;
    while (offset < bytes.byteLength) {
      const filling = (this.#filling ??= this.#free.pop() ?? Buffer.allocUnsafe(BUFFER_BYTES));
      const take = Math.min(bytes.byteLength - offset, filling.byteLength - this.#filled);
      filling.set(bytes.subarray(offset, offset + take), this.#filled);
      this.#filled += take;
      offset += take;
      if (this.#filled === filling.byteLength) this.#flushFilling();
    }
  }

  /** Resolves once little enough is queued (at once when it is). */
  async drained(): Promise<void> {
    while (this.full && this.#failed === undefined) await this.#writing;
    if (this.#failed !== undefined) throw this.#failed.error;
  }

  async finish(): Promise<void> {
    this.#flushFilling();
    await this.#writing;
    if (this.#failed !== undefined) throw this.#failed.error;
  }

  #flushFilling(): void {
    const filling = this.#filling;
    if (filling === undefined || this.#filled === 0) return;
    this.#enqueue(filling.subarray(0, this.#filled), filling);
    this.#filling = undefined;
    this.#filled = 0;
  }

  /** Queues a write of `bytes`; `reuse` goes back to the free list once written. */
  #enqueue(bytes: Uint8Array, reuse: Buffer | undefined): void {
    const at = this.#position === null ? null : this.#position + this.#queued;
    this.#queued += bytes.byteLength;
    this.#inFlight += bytes.byteLength;
    this.#writing = this.#writing.then(async () => {
      if (this.#failed !== undefined) return;
      try {
        await this.#writer.write(bytes, at, this.#spent);
        if (reuse !== undefined) this.#free.push(reuse);
      } catch (error) {
        this.#failed = { error };
        this.#failure?.(error);
      } finally {
        this.#inFlight -= bytes.byteLength;
      }
    });
  }
}

/** Writes every byte of `bytes` at `position` (null: at the end), continued until all are written. */
export async function writeAll(handle: FileHandle, bytes: Uint8Array, position: number | null, spent?: WriteTime): Promise<void> {
  const started = spent === undefined ? 0 : performance.now();
  for (let done = 0; done < bytes.byteLength; ) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.byteLength - done, position === null ? null : position + done);
    done += bytesWritten;
  }
  if (spent !== undefined) spent.ms += performance.now() - started;
}

/** Whether a write has been slow, for the PositionalWriters that share it. */
export interface WriteHistory {
  slow: boolean;
}

const processHistory: WriteHistory = { slow: false };

/**
 * Writes of a download. While the page cache takes them in microseconds they are made in the calling thread:
 * sending each to the thread pool costs two thread wake-ups and a promise, a fifth of a 1 GiB load's time from a
 * store on the same machine. From the first write that holds the thread for long (a disk behind) on, every write
 * goes to the pool, so that the event loop keeps serving the sockets, timers and aborts meanwhile.
 */
export class PositionalWriter {
  readonly #handle: FileHandle;
  readonly #slowWriteMs: number;
  readonly #history: WriteHistory;

  /**
   * `slowWriteMs`: how long one write may hold the calling thread before the pool takes over (default 10 ms).
   * `history`: where a slow write is remembered, for every writer that shares it (by default the whole process, so
   * that a stalling disk blocks the thread once, not once per file).
   */
  constructor(handle: FileHandle, slowWriteMs = SLOW_WRITE_MS, history: WriteHistory = processHistory) {
    this.#handle = handle;
    this.#slowWriteMs = slowWriteMs;
    this.#history = history;
  }

  /** Writes every byte of `bytes` at `position` (null: at the end, for a file opened to append). */
  async write(bytes: Uint8Array, position: number | null, spent?: WriteTime): Promise<void> {
    if (this.#history.slow) return writeAll(this.#handle, bytes, position, spent);
    const started = performance.now();
    for (let done = 0; done < bytes.byteLength; ) {
      done += writeSync(this.#handle.fd, bytes, done, bytes.byteLength - done, position === null ? null : position + done);
    }
    const ms = performance.now() - started;
    if (spent !== undefined) spent.ms += ms;
    if (ms >= this.#slowWriteMs) this.#history.slow = true;
  }
}
