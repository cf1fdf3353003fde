/**
 * A run's log lines from the moment they are written until the store has them, in bounded memory. Lines wait in
 * memory, are cut into batches for a flush, and stay in memory until a flush has stored them all. While the store is
 * unreachable that would grow without end, so memory holds at most `maxBufferedBytes` (UTF-8) of such lines: past
 * that, lines go to a spool on local disk (line-spool.ts), and keep going there, to keep their order, until it is
 * empty again. A flush takes the spool's lines back, oldest first, as far as memory allows.
 *
 * Only lines larger than the bound themselves pass it (one at a time): such a line is in memory anyway.
 */
import { tmpdir } from "node:os";
import { joinBounded } from "./bounded-join.ts";
import { LineSpool } from "./line-spool.ts";

const DEFAULT_MAX_BUFFERED_BYTES = 64 * 1024 * 1024;
/** The largest spool segment: what one read back brings into memory. */
const MAX_SEGMENT_BYTES = 8 * 1024 * 1024;
/** The most lines staged for the spool before they are written (a write per line would cost a system call each). */
const MAX_STAGED_BYTES = 1024 * 1024;

/** Where the lines taken so far end (see {@link PendingLines.settledUpTo}). */
export interface PendingMark {
  readonly accepted: number;
  readonly markers: number;
}

export interface PendingLinesOptions {
  readonly maxBufferedBytes?: number;
  /** Where the spool folder is made. Default `os.tmpdir()`. */
  readonly spoolParent?: string;
  /** Part of the spool folder's name. */
  readonly label: string;
  /** Lines were dropped (the spool could not be written or read back). */
  readonly onDropped: (lines: number, reason: string) => void;
}

export class PendingLines {
  readonly #options: PendingLinesOptions;
  readonly #limit: number;
  /** What lines waiting in memory or read back may take: the bound less room for the staged lines. */
  readonly #memoryLimit: number;
  readonly #segmentBytes: number;
  readonly #stageBytes: number;
  /** Lines (each with its "\n") not cut yet, all older than the spool's. */
  #memory: string[] = [];
  #memoryBytes = 0;
  /** Bytes cut into batches and not yet stored. */
  #cutBytes = 0;
  /** The cut batches made from {@link #memory} (not from the spool), for {@link keep}. */
  #cutFromMemory: Uint8Array[] = [];
  /** The bytes this object holds: {@link #memoryBytes} + {@link #cutBytes} + the spool's staged bytes. */
  #held = 0;
  #spool: LineSpool | undefined;
  /** Bytes of every line (and marker) taken, and of those stored or dropped since. */
  #accepted = 0;
  #settled = 0;
  /** Bytes of every marker line made so far (counted in {@link #accepted} too). */
  #markers = 0;
  /** Bytes of lines pushed since the last cut. */
  #fresh = 0;

  constructor(options: PendingLinesOptions) {
    this.#options = options;
    this.#limit = Math.max(1, options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES);
    this.#segmentBytes = Math.max(1, Math.min(MAX_SEGMENT_BYTES, Math.floor(this.#limit / 4)));
    this.#stageBytes = Math.max(1, Math.min(MAX_STAGED_BYTES, Math.floor(this.#limit / 8)));
    this.#memoryLimit = this.#limit - this.#stageBytes;
  }

  /** Bytes of lines held in memory, waiting or cut and not yet stored. */
  get bufferedBytes(): number {
    return this.#held;
  }

  /** Bytes of lines not yet cut into batches (in memory or in the spool). */
  get waitingBytes(): number {
    return this.#accepted - this.#settled - this.#cutBytes;
  }

  /**
   * Bytes of lines pushed since the last cut: what a flush by size waits for (not {@link waitingBytes}, which stays
   * high while the spool cannot be taken back, and would start flush after flush against a store that is down).
   */
  get freshBytes(): number {
    return this.#fresh;
  }

  /** Bytes of every line taken so far (markers included). */
  get acceptedBytes(): number {
    return this.#accepted;
  }

  /** Bytes stored or dropped so far. */
  get settledBytes(): number {
    return this.#settled;
  }

  /** Where the lines taken so far end, for {@link settledUpTo}. */
  get mark(): PendingMark {
    return { accepted: this.#accepted, markers: this.#markers };
  }

  /**
   * Every line taken before `mark` is stored or dropped. Trap: a marker made since stands for lines already counted
   * as dropped, so its bytes, once stored, would count twice and end a flush before the lines behind it.
   */
  settledUpTo(mark: PendingMark): boolean {
    return this.#settled - (this.#markers - mark.markers) >= mark.accepted;
  }

  /** The spool folder, while there is one. */
  get spoolPath(): string | undefined {
    return this.#spool?.path;
  }

  /** One or more lines, each ending in "\n", of `bytes` UTF-8 bytes. */
  push(text: string, bytes: number): void {
    this.#accepted += bytes;
    this.#fresh += bytes;
    if (this.#spool === undefined && this.#held + bytes <= this.#memoryLimit) {
      this.#memory.push(text);
      this.#memoryBytes += bytes;
      this.#held += bytes;
      return;
    }
    const spool = (this.#spool ??= this.#newSpool());
    spool.stage(text, bytes);
    this.#held += bytes;
    if (spool.stagedBytes >= this.#stageBytes || this.#held > this.#limit) this.#writeStaged(spool);
  }

  /**
   * The next lines to store, as batches of at most `maxChars` characters each (a longer line stands alone): every
   * line in memory, then the spool's oldest as far as the bound allows (at least one piece when nothing else is
   * held). They count as held until {@link stored}.
   */
  cut(maxChars: number): Uint8Array[] {
    this.#fresh = 0;
    const batches: Uint8Array[] = [];
    if (this.#memory.length > 0) {
      for (const text of joinBounded(this.#memory, "", maxChars)) {
        const bytes = Buffer.from(text, "utf8");
        batches.push(bytes);
        this.#cutFromMemory.push(bytes);
      }
      this.#cutBytes += this.#memoryBytes;
      this.#memory = [];
      this.#memoryBytes = 0;
    }
    const spool = this.#spool;
    if (spool === undefined) return batches;
    for (;;) {
      // What is cut stays until stored, beside room for the lines staged meanwhile.
      const next = spool.nextTakeBytes();
      if (next === 0 || (this.#cutBytes > 0 && this.#cutBytes + next > this.#memoryLimit)) break;
      const staged = spool.stagedBytes;
      const bytes = spool.take((lost) => (this.#settled += lost));
      if (bytes === undefined) break;
      batches.push(bytes);
      this.#cutBytes += bytes.byteLength;
      this.#held += bytes.byteLength - (staged - spool.stagedBytes);
    }
    return batches;
  }

  /** Everything cut so far is stored. Returns whether that was anything. */
  stored(): boolean {
    const any = this.#cutBytes > 0;
    this.#settled += this.#cutBytes;
    this.#held -= this.#cutBytes;
    this.#cutBytes = 0;
    this.#cutFromMemory = [];
    const spool = this.#spool;
    if (spool !== undefined) {
      if (this.#memory.length === 0) spool.olderStored();
      spool.releaseTaken();
      if (spool.isEmpty) this.#spool = undefined;
    }
    return any;
  }

  /**
   * For the last moments of the process, after the store failed: the spool's lines go to its folder, with those
   * only memory holds (older than the spool, and those read back), so that it holds every line not stored, in
   * order. Returns that folder; undefined when no line waits (or none could be written there).
   */
  keep(): string | undefined {
    // Lines that all fit in memory have no spool yet: one is made for them now (no folder when there are none).
    const spool = (this.#spool ??= this.#newSpool());
    this.#writeStaged(spool);
    return spool.keep(Buffer.concat([...this.#cutFromMemory, Buffer.from(this.#memory.join(""), "utf8")]));
  }

  /** Drops every line held, in memory and in the spool (whose files and folder go): none of them is to be stored. */
  discard(): void {
    this.#spool?.discard();
    this.#spool = undefined;
    this.#memory = [];
    this.#memoryBytes = 0;
    this.#cutBytes = 0;
    this.#cutFromMemory = [];
    this.#held = 0;
    this.#fresh = 0;
    this.#settled = this.#accepted;
  }

  #writeStaged(spool: LineSpool): void {
    const staged = spool.stagedBytes;
    const dropped = spool.writeStaged();
    this.#held -= staged;
    this.#settled += dropped;
  }

  #newSpool(): LineSpool {
    return new LineSpool({
      parent: this.#options.spoolParent ?? tmpdir(),
      label: this.#options.label,
      segmentBytes: this.#segmentBytes,
      onDropped: this.#options.onDropped,
      onMarker: (bytes) => {
        this.#accepted += bytes;
        this.#markers += bytes;
      },
    });
  }
}
