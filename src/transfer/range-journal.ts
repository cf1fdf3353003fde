/**
 * The record kept beside a partial file written in parallel ranges, so that a download interrupted (process killed,
 * network lost) continues with only the ranges it lacks.
 *
 * Format: a first line of JSON naming what the partial holds ranges of (revision, size, range size), then one line
 * per finished range index. A range is recorded only once the partial's data is on disk (fdatasync), so a record
 * never claims bytes a crash of the machine could still lose; records are batched (the first finished range at once,
 * then at most once a second or every 64 MiB) so the syncs stay few. A torn last line is ignored.
 */
import { constants } from "node:fs";
import { type FileHandle, open, readFile } from "node:fs/promises";

export interface RangeLayout {
  readonly revision: string;
  readonly size: number;
  readonly rangeBytes: number;
}

const NO_FOLLOW = constants.O_NOFOLLOW ?? 0;
const FLUSH_EVERY_MS = 1000;
const FLUSH_EVERY_BYTES = 64 * 1024 * 1024;

/** The finished ranges a journal at `path` records for `layout`; undefined when it is absent, unreadable or for
 * another object, revision or range size. */
export async function readJournal(path: string, layout: RangeLayout): Promise<Set<number> | undefined> {
  let text: string;
  try {
    text = await readFile(path, { encoding: "utf8", flag: constants.O_RDONLY | NO_FOLLOW });
  } catch {
    return undefined;
  }
  const lines = text.split("\n");
  lines.pop(); // what follows the last newline is empty, or a torn line
  const [header, ...indices] = lines;
  if (header === undefined || !sameLayout(header, layout)) return undefined;
  const count = Math.ceil(layout.size / layout.rangeBytes);
  const done = new Set<number>();
  for (const line of indices) {
    if (!/^\d+$/.test(line)) return undefined;
    const index = Number(line);
    if (index >= count) return undefined;
    done.add(index);
  }
  return done;
}

function sameLayout(header: string, layout: RangeLayout): boolean {
  try {
    const parsed = JSON.parse(header) as Partial<RangeLayout>;
    return parsed.revision === layout.revision && parsed.size === layout.size && parsed.rangeBytes === layout.rangeBytes;
  } catch {
    return false;
  }
}

/** Appends finished ranges to a journal written afresh (header and the ranges already done). */
export class JournalWriter {
  readonly #journal: FileHandle;
  readonly #partial: FileHandle;
  readonly #rangeBytes: number;
  #pending: number[] = [];
  #lastFlush = Number.NEGATIVE_INFINITY;
  #flushing: Promise<void> = Promise.resolve();

  private constructor(journal: FileHandle, partial: FileHandle, rangeBytes: number) {
    this.#journal = journal;
    this.#partial = partial;
    this.#rangeBytes = rangeBytes;
  }

  /** A journal at `path` for `layout` whose records vouch for data written through `partial`. */
  static async create(path: string, layout: RangeLayout, done: ReadonlySet<number>, partial: FileHandle): Promise<JournalWriter> {
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_APPEND | NO_FOLLOW;
    const journal = await open(path, flags, 0o644);
    try {
      const header = JSON.stringify({ revision: layout.revision, size: layout.size, rangeBytes: layout.rangeBytes });
      await journal.write(`${header}\n${[...done].map((index) => `${index}\n`).join("")}`);
    } catch (error) {
      await journal.close();
      throw error;
    }
    return new JournalWriter(journal, partial, layout.rangeBytes);
  }

  /** Records range `index` as written (now or with the next batch). */
  async finished(index: number): Promise<void> {
    this.#pending.push(index);
    const due = performance.now() - this.#lastFlush >= FLUSH_EVERY_MS || this.#pending.length * this.#rangeBytes >= FLUSH_EVERY_BYTES;
    if (due) await this.flush();
  }

  /** Syncs the partial's data, then records every finished range not yet recorded. */
  flush(): Promise<void> {
    this.#flushing = this.#flushing.then(async () => {
      if (this.#pending.length === 0) return;
      const batch = this.#pending;
      this.#pending = [];
      this.#lastFlush = performance.now();
      await this.#partial.datasync();
      await this.#journal.write(batch.map((index) => `${index}\n`).join(""));
    });
    return this.#flushing;
  }

  async close(): Promise<void> {
    await this.#journal.close();
  }
}
