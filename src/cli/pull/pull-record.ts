/**
 * What earlier pulls placed in a destination: the object's revision, and the file's inode, change time and size right
 * after it was placed. A later pull replaces only files the record holds, unchanged since (placement.ts). A file
 * whose object gives no checksum (local disk, objects uploaded in parts) counts as complete only while all of them
 * still match. Size and modification time alone would keep another
 * version's checkpoint of the same size saved within the same second (S3 dates objects to the second).
 * The logs at the top of the folder are recorded whether a checksum verified them or not: one that changed since
 * says a run resumed the folder, and `pull` then refuses to overwrite it. So are files a pull found complete.
 *
 * Kept in `<dest>/.opencrate/pulled.json`, written whole when a pull ends (and when it begins, if there is none), and
 * in the journal `pulled.journal` beside it: right before a file is moved into place, or when a file the record lacks
 * is found complete, one line naming its path, the object's revision and the file's inode, size and modification
 * time is appended to it (one write; the move keeps all three). A pull killed outright (SIGKILL, out of memory, power
 * loss) leaves the journal, so the next pull still knows the files it placed: a file whose inode, size and
 * modification time match a journal line for its path counts as placed by a pull. Its change time cannot be
 * compared (the move changes it): an edit in place that keeps the size and sets the modification time back is not
 * told from the pulled file until a pull's end records it. That end folds the journal into pulled.json (the change
 * time of each file that still matches its line) and removes it.
 *
 * A record or journal that is missing, unreadable, or left behind by a file replaced since only makes files
 * download again (or be reported as not replaced); two pulls into one destination at once keep the entries of the
 * one that ended last (the other's journal lines included).
 */
import type { BigIntStats } from "node:fs";
import { closeSync, constants, openSync, writeSync } from "node:fs";
import { lstat, readFile, rename, unlink, writeFile } from "node:fs/promises";
import { placedFileOf, type PlacedFile } from "../../transfer/download-file.ts";
import type { SafeFolder } from "../../transfer/safe-folder.ts";
import { JOURNAL_NAME, RECORD_FOLDER, RECORD_NAME } from "./record-files.ts";

const RECORD_FORMAT = 1;
/** The first item of each journal line. */
const JOURNAL_FORMAT = 1;
const NO_FOLLOW = constants.O_NOFOLLOW ?? 0;

/** An entry of pulled.json (the fields earlier releases write and read). */
interface Entry {
  readonly revision: string;
  readonly ino: string;
  readonly ctimeNs: string;
  readonly size: number;
}

/** A journal line: a file about to be moved into place, or found complete. */
interface Journaled {
  readonly revision: string;
  readonly ino: string;
  readonly size: number;
  readonly mtimeNs: string;
}

export class PullRecord {
  /** The destination holds a readable record or journal (damaged or not): a pull wrote into it before. */
  readonly found: boolean;
  readonly #entries: Map<string, Entry>;
  /** Journal lines of paths not noted since (by this pull, or left by one that did not end). */
  readonly #journaled: Map<string, Journaled[]>;
  /** pulled.json was read (so mark() need not write it). */
  readonly #recordRead: boolean;
  /** The journal holds lines (read, or appended by this pull) that pulled.json may lack. */
  #journalUsed: boolean;
  /** The journal read at the start ends in the middle of a line. */
  #journalCutShort: boolean;
  /** The journal, open for appending, from mark() to close(). */
  #journalFd: number | undefined;
  #changed = false;
  /** The save under way: saves run one at a time. */
  #saving: Promise<void> = Promise.resolve();

  private constructor(record: string | undefined, journal: string | undefined) {
    this.found = record !== undefined || journal !== undefined;
    this.#recordRead = record !== undefined;
    this.#entries = record === undefined ? new Map() : parseEntries(record);
    this.#journaled = journal === undefined ? new Map() : parseJournal(journal);
    this.#journalUsed = journal !== undefined && journal.length > 0;
    this.#journalCutShort = journal !== undefined && journal.length > 0 && !journal.endsWith("\n");
  }

  /** The record in the destination `root`, or an empty one when there is none to trust. */
  static async read(root: SafeFolder): Promise<PullRecord> {
    const folder = root.entry(RECORD_FOLDER);
    if ((await lstat(folder).catch(() => undefined))?.isDirectory() !== true) return new PullRecord(undefined, undefined);
    const read = (name: string): Promise<string | undefined> =>
      readFile(`${folder}/${name}`, { encoding: "utf8", flag: constants.O_RDONLY | NO_FOLLOW }).catch(() => undefined);
    const [record, journal] = await Promise.all([read(RECORD_NAME), read(JOURNAL_NAME)]);
    return new PullRecord(record, journal);
  }

  /**
   * Writes the record now when there is none, so that the destination is known as a pull's from its first file on,
   * and opens the journal for this pull's lines.
   */
  async mark(root: SafeFolder): Promise<void> {
    if (!this.#recordRead) {
      this.#changed = true;
      await this.#queue(() => this.#write(root));
    }
    const folder = await root.child(RECORD_FOLDER);
    this.#journalFd ??= openSync(folder.entry(JOURNAL_NAME), constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | NO_FOLLOW, 0o644);
    if (this.#journalCutShort) {
      // A line cut short (a power loss mid-write) must not swallow this pull's first line.
      writeSync(this.#journalFd, "\n");
      this.#journalCutShort = false;
    }
  }

  /** Whether `path` is the file a pull placed for `revision`, unchanged since. */
  holds(path: string, revision: string, now: PlacedFile): boolean {
    const entry = this.#entries.get(path);
    if (entry?.revision === revision && sameAsRecorded(entry, now)) return true;
    return this.#journaled.get(path)?.some((line) => line.revision === revision && sameAsJournaled(line, now)) ?? false;
  }

  /** Whether `path` is a file a pull placed (for any revision), unchanged since. */
  placedUnchanged(path: string, now: PlacedFile): boolean {
    const entry = this.#entries.get(path);
    if (entry !== undefined && sameAsRecorded(entry, now)) return true;
    return this.#journaled.get(path)?.some((line) => sameAsJournaled(line, now)) ?? false;
  }

  /**
   * Appends a journal line for `file`, the finished partial about to be moved to `path` (or a file found complete
   * there): one write, made before the move, so that a pull killed right after it still knows the file as its own.
   * A failed write is not reported: the file is recorded at the pull's end all the same.
   */
  journal(path: string, revision: string, file: PlacedFile): void {
    const line: Journaled = { revision, ino: file.ino, size: file.size, mtimeNs: file.mtimeNs };
    const lines = this.#journaled.get(path);
    if (lines === undefined) this.#journaled.set(path, [line]);
    else lines.push(line);
    if (this.#journalFd === undefined) return;
    try {
      writeSync(this.#journalFd, `${JSON.stringify([JOURNAL_FORMAT, path, revision, file.ino, file.size, file.mtimeNs])}\n`);
      this.#journalUsed = true;
    } catch {}
  }

  /** Records `placed`, the file now at `path`, as placed for `revision` (written at the next save). */
  note(path: string, revision: string, placed: PlacedFile): void {
    this.#entries.set(path, { revision, ino: placed.ino, ctimeNs: placed.ctimeNs, size: placed.size });
    this.#journaled.delete(path);
    this.#changed = true;
  }

  /** Records a file found complete at `path` for `revision`, journal line included, unless the record holds it so. */
  noteFound(path: string, revision: string, found: PlacedFile): void {
    const entry = this.#entries.get(path);
    if (entry?.revision === revision && sameAsRecorded(entry, found)) return;
    this.journal(path, revision, found);
    this.note(path, revision, found);
  }

  /**
   * The files an earlier pull placed in `root` at paths not in `listed` (the version's whole listing) that are still
   * there as that pull left them, sorted. Paths whose file is gone (deleted since) are dropped from the record; the
   * others stay in it, so that every later pull names them until they are deleted.
   */
  async notListed(root: SafeFolder, listed: ReadonlySet<string>): Promise<string[]> {
    const found: string[] = [];
    for (const path of new Set([...this.#entries.keys(), ...this.#journaled.keys()])) {
      if (listed.has(path)) continue;
      const now = await lstat(root.entry(path), { bigint: true }).catch((): BigIntStats | undefined => undefined);
      if (now === undefined) {
        if (this.#entries.delete(path)) this.#changed = true;
        this.#journaled.delete(path);
      } else if (now.isFile() && this.placedUnchanged(path, placedFileOf(now))) {
        found.push(path);
      }
    }
    return found.sort();
  }

  /**
   * Writes the record into `root` (a new file renamed over the old one, never through a link), with each journal
   * line whose file is still at its path as it was, then closes and removes the journal: made once, at the pull's
   * end, when no download is under way (a line appended meanwhile could be removed before the record holds it).
   */
  async save(root: SafeFolder): Promise<void> {
    await this.#queue(() => this.#compact(root));
  }

  /** Closes the journal (kept for the next pull when the save failed or was not made). */
  close(): void {
    if (this.#journalFd === undefined) return;
    closeSync(this.#journalFd);
    this.#journalFd = undefined;
  }

  async #queue(work: () => Promise<void>): Promise<void> {
    const saved = this.#saving.then(work);
    this.#saving = saved.catch(() => {});
    await saved;
  }

  async #compact(root: SafeFolder): Promise<void> {
    for (const [path, lines] of this.#journaled) {
      const now = await lstat(root.entry(path), { bigint: true }).catch((): BigIntStats | undefined => undefined);
      const file = now?.isFile() === true ? placedFileOf(now) : undefined;
      const line = file === undefined ? undefined : lines.findLast((candidate) => sameAsJournaled(candidate, file));
      if (file !== undefined && line !== undefined) this.#entries.set(path, { revision: line.revision, ino: file.ino, ctimeNs: file.ctimeNs, size: file.size });
    }
    if (this.#journaled.size > 0) this.#changed = true;
    this.#journaled.clear();
    await this.#write(root);
    if (!this.#journalUsed && this.#journalFd === undefined) return;
    this.close();
    await unlink((await root.child(RECORD_FOLDER)).entry(JOURNAL_NAME)).catch(() => {});
    this.#journalUsed = false;
  }

  async #write(root: SafeFolder): Promise<void> {
    if (!this.#changed) return;
    const folder = await root.child(RECORD_FOLDER);
    const temporary = folder.entry(`.${RECORD_NAME}.${process.pid}.${Date.now()}`);
    const files = Object.fromEntries([...this.#entries].sort(([a], [b]) => (a < b ? -1 : 1)));
    try {
      await writeFile(temporary, `${JSON.stringify({ format: RECORD_FORMAT, files })}\n`, { flag: "wx" });
      await rename(temporary, folder.entry(RECORD_NAME));
      this.#changed = false;
    } catch (error) {
      await unlink(temporary).catch(() => {});
      throw error;
    }
  }
}

/** The file an entry of pulled.json names, unchanged: same inode, change time and size. */
function sameAsRecorded(entry: Entry, now: PlacedFile): boolean {
  return entry.ino === now.ino && entry.ctimeNs === now.ctimeNs && entry.size === now.size;
}

/** The file a journal line names: same inode, size and modification time (the move into place changed its change time). */
function sameAsJournaled(line: Journaled, now: PlacedFile): boolean {
  return line.ino === now.ino && line.size === now.size && line.mtimeNs === now.mtimeNs;
}

function parseEntries(text: string): Map<string, Entry> {
  const entries = new Map<string, Entry>();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return entries;
  }
  if (typeof parsed !== "object" || parsed === null) return entries;
  const { format, files } = parsed as { format?: unknown; files?: unknown };
  if (format !== RECORD_FORMAT || typeof files !== "object" || files === null) return entries;
  for (const [path, value] of Object.entries(files)) {
    if (isEntry(value)) entries.set(path, { revision: value.revision, ino: value.ino, ctimeNs: value.ctimeNs, size: value.size });
  }
  return entries;
}

function isEntry(value: unknown): value is Entry {
  if (typeof value !== "object" || value === null) return false;
  const fields = value as Record<string, unknown>;
  return typeof fields.revision === "string" && typeof fields.ino === "string" && typeof fields.ctimeNs === "string" && typeof fields.size === "number";
}

/** The journal's lines by path, in order; a line that is damaged (a write cut short by a power loss) is left out. */
function parseJournal(text: string): Map<string, Journaled[]> {
  const lines = new Map<string, Journaled[]>();
  for (const raw of text.split("\n")) {
    if (raw === "") continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      continue;
    }
    if (!Array.isArray(parsed) || parsed.length !== 6) continue;
    const [format, path, revision, ino, size, mtimeNs] = parsed as unknown[];
    if (format !== JOURNAL_FORMAT || typeof path !== "string" || typeof revision !== "string" || typeof ino !== "string") continue;
    if (typeof size !== "number" || typeof mtimeNs !== "string") continue;
    const line: Journaled = { revision, ino, size, mtimeNs };
    const known = lines.get(path);
    if (known === undefined) lines.set(path, [line]);
    else known.push(line);
  }
  return lines;
}
