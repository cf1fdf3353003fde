/**
 * Log lines past the memory bound (pending-lines.ts), kept on local disk until the store takes them. One folder per
 * run, made by `mkdtemp` (so no two processes ever share one) with the first write, and removed once every line in
 * it is stored. It holds numbered segment files (`0000000001.log`, …) of whole lines in the file format, in the
 * order they were logged: what is left in it can be appended, file after file in name order, to the run's `.log`.
 *
 * Lines come in through a staging buffer, written as one chunk to the last segment (a new one past
 * `segmentBytes`). Segments go back to memory whole, oldest first ({@link take}), and are deleted once stored
 * ({@link releaseTaken}); staged lines go straight back without touching the disk, as a segment of their own that
 * only memory holds. {@link keep} writes those where they belong when the process ends.
 *
 * A write that fails (a full disk) drops the staged lines: their place in the list gets a marker line saying how
 * many lines were dropped there and why, which goes out in their place. So does a segment that cannot be read back.
 */
import { closeSync, ftruncateSync, mkdtempSync, openSync, readFileSync, rmdirSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { formatFileLine } from "./format.ts";

interface Gap {
  lines: number;
  readonly reason: string;
  readonly since: Date;
}

interface Segment {
  /** Its file name's number. */
  readonly number: number;
  bytes: number;
  /** Lines in it, for the marker if it cannot be read back. */
  lines: number;
  /** Its file holds its lines. */
  onDisk: boolean;
  /** Taken back into memory: its bytes, until they are stored. */
  data: Uint8Array | undefined;
  /** Lines dropped here, told by a marker line once taken (or kept). */
  gap: Gap | undefined;
}

export interface LineSpoolOptions {
  /** Where the folder is made. */
  readonly parent: string;
  /** Part of the folder's name, so a person can tell whose it is. */
  readonly label: string;
  /** A segment file takes no more chunks past this size. */
  readonly segmentBytes: number;
  /** Lines were lost (a write or a read failed). */
  readonly onDropped: (lines: number, reason: string) => void;
  /** A marker line of this many bytes joined the lines. */
  readonly onMarker: (bytes: number) => void;
}

/** The file of the lines older than the spool, written by {@link LineSpool.keep}: before every segment. */
const OLDER = 0;

export class LineSpool {
  readonly #options: LineSpoolOptions;
  #dir: string | undefined;
  /** Oldest first; the first {@link #taken} are taken. */
  #segments: Segment[] = [];
  #taken = 0;
  #nextNumber = OLDER + 1;
  /** The last segment's file, open for more; undefined when the next chunk starts a new segment. */
  #fd: number | undefined;
  #staged: string[] = [];
  #stagedBytes = 0;
  /** {@link keep} wrote the file of the older lines. */
  #olderOnDisk = false;

  constructor(options: LineSpoolOptions) {
    this.#options = options;
  }

  /** The folder, once made. */
  get path(): string | undefined {
    return this.#dir;
  }

  get stagedBytes(): number {
    return this.#stagedBytes;
  }

  /** Nothing staged, no segment left, and no file of older lines. */
  get isEmpty(): boolean {
    return this.#stagedBytes === 0 && this.#segments.length === 0 && !this.#olderOnDisk;
  }

  stage(text: string, bytes: number): void {
    this.#staged.push(text);
    this.#stagedBytes += bytes;
  }

  /** Writes the staged lines to disk. Returns the bytes dropped (0 unless the write failed). */
  writeStaged(): number {
    if (this.#stagedBytes === 0) return 0;
    const bytes = this.#stagedBytes;
    const data = Buffer.from(this.#staged.join(""), "utf8");
    this.#staged = [];
    this.#stagedBytes = 0;
    try {
      this.#append(data);
      return 0;
    } catch (error) {
      this.#drop(countNewlines(data), error);
      return bytes;
    }
  }

  /** Bytes of what the next {@link take} returns (0 when nothing is left). */
  nextTakeBytes(): number {
    const next = this.#segments[this.#taken];
    if (next === undefined) return this.#stagedBytes;
    return next.gap === undefined ? next.bytes : Buffer.byteLength(this.#markerText(next.gap));
  }

  /**
   * The oldest lines not taken yet, kept in memory until {@link releaseTaken}: a whole segment, a marker where
   * lines were dropped, or, once no segment is left to take, the staged lines. Undefined when there are none.
   * `lost` is told the bytes of a segment that could not be read back (a marker comes instead).
   */
  take(lost: (bytes: number) => void): Uint8Array | undefined {
    const segment = this.#segments[this.#taken];
    if (segment === undefined) return this.#takeStaged();
    this.#taken += 1;
    if (segment.gap !== undefined) return this.#markerOf(segment);
    if (segment === this.#segments.at(-1)) this.#closeFile();
    try {
      const read = readFileSync(this.#file(segment));
      // A write that failed half-way and could not be cut back leaves bytes past the segment's own.
      if (read.byteLength < segment.bytes) throw new Error(`${this.#file(segment)} holds less than was written to it`);
      segment.data = read.subarray(0, segment.bytes);
      return segment.data;
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      lost(segment.bytes);
      this.#options.onDropped(segment.lines, reason);
      this.#unlink(segment);
      Object.assign(segment, { bytes: 0, onDisk: false, gap: { lines: segment.lines, reason, since: new Date() } });
      return this.#markerOf(segment);
    }
  }

  /** The taken segments are stored: their files go, and the folder once nothing is left in it. */
  releaseTaken(): void {
    for (const segment of this.#segments.splice(0, this.#taken)) this.#unlink(segment);
    this.#taken = 0;
    this.#removeFolderIfEmpty();
  }

  /** The lines older than the spool are stored: the file {@link keep} wrote for them goes. */
  olderStored(): void {
    if (!this.#olderOnDisk || this.#dir === undefined) return;
    this.#olderOnDisk = false;
    tryUnlink(join(this.#dir, segmentName(OLDER)));
    this.#removeFolderIfEmpty();
  }

  /**
   * For the last moments of the process, when the store could not take everything: writes what only memory holds
   * (`older`, the lines from before the spool began, before every segment; the segments taken back; the markers) so
   * that, with the staged lines written first ({@link writeStaged}), the folder holds every line not stored, in
   * order. Returns the folder, or undefined when it holds nothing.
   */
  keep(older: Uint8Array): string | undefined {
    this.#closeFile();
    if (older.byteLength > 0 && !this.#olderOnDisk) {
      const segment: Segment = { number: OLDER, bytes: 0, lines: 0, onDisk: false, data: undefined, gap: undefined };
      this.#olderOnDisk = this.#tryWrite(segment, older);
    }
    for (const segment of this.#segments) {
      if (segment.onDisk) continue;
      if (segment.data !== undefined) {
        this.#tryWrite(segment, segment.data);
      } else if (segment.gap !== undefined) {
        // Written, not taken: it goes out from the file like any segment.
        const marker = this.#markerOf(segment);
        segment.data = undefined;
        this.#tryWrite(segment, marker);
      }
    }
    this.#closeFile();
    return this.#olderOnDisk || this.#segments.some((segment) => segment.onDisk) ? this.#dir : undefined;
  }

  /** Drops every line: the staged ones, the segments and the file of older lines, then the folder. */
  discard(): void {
    this.#closeFile();
    this.#staged = [];
    this.#stagedBytes = 0;
    for (const segment of this.#segments) this.#unlink(segment);
    this.#segments = [];
    this.#taken = 0;
    if (this.#olderOnDisk && this.#dir !== undefined) tryUnlink(join(this.#dir, segmentName(OLDER)));
    this.#olderOnDisk = false;
    this.#removeFolderIfEmpty();
  }

  #tryWrite(segment: Segment, bytes: Uint8Array): boolean {
    try {
      this.#writeFile(segment, bytes, false);
      return true;
    } catch (error) {
      this.#options.onDropped(countNewlines(bytes), error instanceof Error ? error.message : String(error));
      return false;
    }
  }

  /** The marker line of a gap, with its newline. */
  #markerText(gap: Gap): string {
    const count = gap.lines === 1 ? "1 log line was" : `${gap.lines} log lines were`;
    const message = `${count} dropped here: the store could not take them, nor could they be kept on local disk in ${this.#dir ?? this.#options.parent} (${gap.reason}).`;
    return `${formatFileLine(gap.since, "warning", message)}\n`;
  }

  /** The gap's marker line, as the segment's bytes (taken). */
  #markerOf(segment: Segment): Uint8Array {
    const data = Buffer.from(this.#markerText(segment.gap as Gap), "utf8");
    Object.assign(segment, { gap: undefined, data, bytes: data.byteLength, lines: 1 });
    this.#options.onMarker(data.byteLength);
    return data;
  }

  #takeStaged(): Uint8Array | undefined {
    if (this.#stagedBytes === 0) return undefined;
    const data = Buffer.from(this.#staged.join(""), "utf8");
    this.#staged = [];
    this.#stagedBytes = 0;
    this.#closeFile();
    this.#segments.push({ number: this.#nextNumber++, bytes: data.byteLength, lines: 0, onDisk: false, data, gap: undefined });
    this.#taken += 1;
    return data;
  }

  /** Appends to the last segment while it is open and not full, else starts a new one. */
  #append(bytes: Uint8Array): void {
    const last = this.#segments.at(-1);
    if (this.#fd !== undefined && last !== undefined && last.bytes < this.#options.segmentBytes) {
      writeAll(this.#fd, bytes, last.bytes);
      last.bytes += bytes.byteLength;
      last.lines += countNewlines(bytes);
      return;
    }
    this.#closeFile();
    const segment: Segment = { number: this.#nextNumber, bytes: 0, lines: 0, onDisk: false, data: undefined, gap: undefined };
    this.#writeFile(segment, bytes, true);
    this.#nextNumber += 1;
    this.#segments.push(segment);
  }

  /** Writes `bytes` as the segment's file, kept open for more when `open`. */
  #writeFile(segment: Segment, bytes: Uint8Array, open: boolean): void {
    const file = this.#file(segment);
    const fd = openSync(file, "w");
    try {
      writeAll(fd, bytes, 0);
    } catch (error) {
      closeSync(fd);
      tryUnlink(file);
      throw error;
    }
    segment.bytes = bytes.byteLength;
    segment.lines = countNewlines(bytes);
    segment.onDisk = true;
    if (open) this.#fd = fd;
    else closeSync(fd);
  }

  /** The segment's file (the folder is made the first time). */
  #file(segment: Segment): string {
    this.#dir ??= mkdtempSync(join(this.#options.parent, `opencrate-spool-${process.pid}-${this.#options.label}-`));
    return join(this.#dir, segmentName(segment.number));
  }

  #closeFile(): void {
    if (this.#fd === undefined) return;
    try {
      closeSync(this.#fd);
    } catch {
      // Nothing more is written to it.
    }
    this.#fd = undefined;
  }

  #unlink(segment: Segment): void {
    // Never the open file: a segment is taken (and then removed) only after its file was closed.
    if (!segment.onDisk || this.#dir === undefined) return;
    tryUnlink(join(this.#dir, segmentName(segment.number)));
    segment.onDisk = false;
  }

  #removeFolderIfEmpty(): void {
    if (!this.isEmpty || this.#dir === undefined) return;
    this.#closeFile();
    try {
      rmdirSync(this.#dir);
      this.#dir = undefined;
    } catch {
      // Something else was put there: left alone.
    }
  }

  /** The staged lines are lost: a gap takes their place (the last one grows when nothing was kept since). */
  #drop(lines: number, error: unknown): void {
    const reason = error instanceof Error ? error.message : String(error);
    this.#options.onDropped(lines, reason);
    this.#closeFile();
    const last = this.#segments.at(-1);
    if (last?.gap !== undefined && last.gap.reason === reason) {
      last.gap.lines += lines;
      return;
    }
    this.#segments.push({ number: this.#nextNumber++, bytes: 0, lines: 0, onDisk: false, data: undefined, gap: { lines, reason, since: new Date() } });
  }
}

function segmentName(number: number): string {
  return `${String(number).padStart(10, "0")}.log`;
}

function tryUnlink(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // Gone already.
  }
}

/** Writes all of `bytes` at `position`; on failure cuts the file back to `position` where it can. */
function writeAll(fd: number, bytes: Uint8Array, position: number): void {
  let done = 0;
  try {
    while (done < bytes.byteLength) done += writeSync(fd, bytes, done, bytes.byteLength - done, position + done);
  } catch (error) {
    try {
      ftruncateSync(fd, position);
    } catch {
      // Reading back takes only the segment's own bytes.
    }
    throw error;
  }
}

function countNewlines(bytes: Uint8Array): number {
  let lines = 0;
  for (let at = bytes.indexOf(0x0a); at !== -1; at = bytes.indexOf(0x0a, at + 1)) lines += 1;
  return lines;
}
