/**
 * What earlier pulls placed in a destination: the object's revision, and the file's inode, change time and size right
 * after it was placed. A later pull replaces only files the record holds, unchanged since (placement.ts). A file
 * whose object gives no checksum (local disk, objects uploaded in parts) counts as complete only while all of them
 * still match. Size and modification time alone would keep another
 * version's checkpoint of the same size saved within the same second (S3 dates objects to the second).
 * The logs at the top of the folder are recorded whether a checksum verified them or not: one that changed since
 * says a run resumed the folder, and `pull` then refuses to overwrite it.
 *
 * Kept in `<dest>/.opencrate/pulled.json`. A record that is missing, unreadable, or left behind by a file replaced
 * since only makes files download again; two pulls into one destination keep the entries of the one that saved last.
 */
import { constants } from "node:fs";
import { lstat, readFile, rename, unlink, writeFile } from "node:fs/promises";
import type { PlacedFile } from "../../transfer/download-file.ts";
import type { SafeFolder } from "../../transfer/safe-folder.ts";

const RECORD_FOLDER = ".opencrate";
const RECORD_NAME = "pulled.json";
const RECORD_FORMAT = 1;
/** How long a noted file may wait for the next save (saveDue). */
const SAVE_EVERY_MS = 1000;

interface Entry extends PlacedFile {
  readonly revision: string;
}

export class PullRecord {
  /** The destination holds a readable record (damaged or not): a pull wrote into it before. */
  readonly found: boolean;
  readonly #entries: Map<string, Entry>;
  #changed = false;
  #savedAt = Date.now();
  /** The save under way: saves run one at a time. */
  #saving: Promise<void> = Promise.resolve();

  private constructor(found: boolean, entries: Map<string, Entry>) {
    this.found = found;
    this.#entries = entries;
  }

  /** The record in the destination `root`, or an empty one when there is none to trust. */
  static async read(root: SafeFolder): Promise<PullRecord> {
    const folder = root.entry(RECORD_FOLDER);
    if ((await lstat(folder).catch(() => undefined))?.isDirectory() !== true) return new PullRecord(false, new Map());
    const text = await readFile(`${folder}/${RECORD_NAME}`, { encoding: "utf8", flag: constants.O_RDONLY | constants.O_NOFOLLOW }).catch(() => undefined);
    return text === undefined ? new PullRecord(false, new Map()) : new PullRecord(true, parseEntries(text));
  }

  /** Writes the record now, changed or not, so that the destination is known as a pull's from its first file on. */
  async mark(root: SafeFolder): Promise<void> {
    this.#changed = true;
    await this.save(root);
  }

  /** Whether `path` is the file a pull placed for `revision`, unchanged since. */
  holds(path: string, revision: string, now: PlacedFile): boolean {
    return this.#entries.get(path)?.revision === revision && this.placedUnchanged(path, now);
  }

  /** Whether `path` is a file a pull placed (for any revision), unchanged since. */
  placedUnchanged(path: string, now: PlacedFile): boolean {
    const entry = this.#entries.get(path);
    return entry !== undefined && entry.ino === now.ino && entry.ctimeNs === now.ctimeNs && entry.size === now.size;
  }

  note(path: string, revision: string, placed: PlacedFile): void {
    this.#entries.set(path, { revision, ...placed });
    this.#changed = true;
  }

  /** Whether the last save began over a second ago, so that files noted since are saved soon. */
  saveDue(): boolean {
    return this.#changed && Date.now() - this.#savedAt >= SAVE_EVERY_MS;
  }

  /** Writes the record into `root` when it changed (a new file renamed over the old one, never through a link). */
  async save(root: SafeFolder): Promise<void> {
    this.#savedAt = Date.now();
    const saved = this.#saving.then(() => this.#write(root));
    this.#saving = saved.catch(() => {});
    await saved;
  }

  async #write(root: SafeFolder): Promise<void> {
    if (!this.#changed) return;
    const folder = await root.child(RECORD_FOLDER);
    const temporary = folder.entry(`.${RECORD_NAME}.${process.pid}.${Date.now()}`);
    const files = Object.fromEntries([...this.#entries].sort(([a], [b]) => (a < b ? -1 : 1)));
    try {
      await writeFile(temporary, `${JSON.stringify({ format: RECORD_FORMAT, files })}\n`, { flag: "wx" });
      await rename(temporary, folder.entry(RECORD_NAME));
    } catch (error) {
      await unlink(temporary).catch(() => {});
      throw error;
    }
  }
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
