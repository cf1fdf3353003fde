/**
 * How `pull` reports progress: a bar on stderr when it is a terminal; otherwise one plain line per file on stdout,
 * and every 30 s a line with the bytes and files so far (a large file downloads for minutes, and CI systems end a
 * step that prints nothing for 10); nothing with --quiet. Problems always go to stderr (above the bar while it is
 * shown).
 */
import { formatSize } from "../../io/size.ts";
import { errorLine, writeError } from "../errors.ts";
import { printLines } from "../format.ts";

export interface PullProgress {
  /** Shows the progress; the totals grow as the listing finds files (`addFile`). */
  start(): void;
  /** One more file of `bytes` to pull. */
  addFile(bytes: number): void;
  addBytes(count: number): void;
  /** A file finished; `describe` gives the line that says so (built only by the modes that print it). */
  fileDone(describe: () => string): void;
  /** A problem with one file (refused or failed). */
  problem(message: string): void;
  /** Ends the display; `finished`: every listed file was dealt with (an empty pull then shows as complete). */
  stop(finished: boolean): void;
}

/** How often a pull with no terminal prints how far it is. */
export const PROGRESS_LINE_MS = 30_000;

export async function createProgress(mode: "bar" | "lines" | "quiet"): Promise<PullProgress> {
  if (mode === "bar") return BarProgress.create();
  return mode === "lines" ? new LineProgress() : new QuietProgress();
}

class QuietProgress implements PullProgress {
  start(): void {}
  addFile(): void {}
  addBytes(): void {}
  fileDone(): void {}
  problem(message: string): void {
    writeError(message);
  }
  stop(): void {}
}

class LineProgress implements PullProgress {
  #bytes = 0;
  #totalBytes = 0;
  #files = 0;
  #totalFiles = 0;
  #timer: NodeJS.Timeout | undefined;

  start(): void {
    this.#timer = setInterval(() => printLines(this.#line()), PROGRESS_LINE_MS);
    this.#timer.unref();
  }

  addFile(bytes: number): void {
    this.#totalBytes += bytes;
    this.#totalFiles += 1;
  }

  addBytes(count: number): void {
    this.#bytes += count;
  }

  fileDone(describe: () => string): void {
    this.#files += 1;
    printLines(describe());
  }

  problem(message: string): void {
    writeError(message);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** `progress  1.20 GB of 3.00 GB (40%), 3 of 10 files`: the totals of the files listed so far. */
  #line(): string {
    const percent = this.#totalBytes === 0 ? 100 : Math.floor((this.#bytes / this.#totalBytes) * 100);
    return (
      `progress  ${formatSize(this.#bytes)} of ${formatSize(this.#totalBytes)} (${Math.min(percent, 100)}%), ` +
      `${this.#files} of ${this.#totalFiles} files`
    );
  }
}

type MultiBarInstance = InstanceType<typeof import("cli-progress").MultiBar>;
type SingleBarInstance = InstanceType<typeof import("cli-progress").SingleBar>;

class BarProgress implements PullProgress {
  readonly #multi: MultiBarInstance;
  #bar: SingleBarInstance | undefined;
  #bytes = 0;
  #totalBytes = 0;
  #files = 0;
  #totalFiles = 0;

  static async create(): Promise<BarProgress> {
    const { MultiBar, Presets } = (await import("cli-progress")).default;
    const multi = new MultiBar(
      {
        // Fits 80 columns: cli-progress cuts the line at the terminal's width.
        format: " {bar} {percentage}% | {done}/{size} | {files}/{fileTotal} files | ETA {eta_formatted}",
        barsize: 24,
        stream: process.stderr,
        hideCursor: true,
        clearOnComplete: false,
        etaBuffer: 50,
        fps: 10,
      },
      Presets.shades_classic,
    );
    return new BarProgress(multi);
  }

  constructor(multi: MultiBarInstance) {
    this.#multi = multi;
  }

  start(): void {
    this.#bar = this.#multi.create(1, 0, this.#payload());
  }

  addFile(bytes: number): void {
    this.#totalBytes += bytes;
    this.#totalFiles += 1;
    this.#bar?.setTotal(Math.max(this.#totalBytes, 1));
    this.#bar?.update(this.#bytes, this.#payload());
  }

  addBytes(count: number): void {
    this.#bytes += count;
    this.#bar?.update(this.#bytes, this.#payload());
  }

  fileDone(): void {
    this.#files += 1;
    this.#bar?.update(this.#bytes, this.#payload());
  }

  problem(message: string): void {
    this.#multi.log(`${errorLine(message)}\n`);
  }

  stop(finished: boolean): void {
    if (finished && this.#totalBytes === 0) this.#bar?.update(1, this.#payload());
    this.#multi.stop();
  }

  #payload(): Record<string, string | number> {
    return { done: formatSize(this.#bytes), size: formatSize(this.#totalBytes), files: this.#files, fileTotal: this.#totalFiles };
  }
}
