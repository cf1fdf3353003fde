/**
 * A run's sink written from the main thread, for backends the log-writer thread cannot rebuild (the memory
 * backend, an application's own backend object, a client built by the application). It stores lines on the
 * interval, on flush/close, at a normal exit and on handled signals; at `exit` itself (after `process.exit()` or
 * an uncaught error) it can only start the writes, so lines since the last flush may be lost there. A normal end
 * (the event loop running dry) stores the record with the exit code before `exit` (flushForExit).
 */
import type { StorageBackend } from "../backends/backend.ts";
import { endingForExitCode, type RunEnding } from "./run-record.ts";
import { RunWriter, type CloseOptions, type RunWriterOptions } from "./run-writer.ts";
import type { RunSink } from "./sink.ts";

export class InlineRunSink implements RunSink {
  readonly #writer: RunWriter;
  #linesWritten = 0;

  private constructor(writer: RunWriter) {
    this.#writer = writer;
  }

  static async start(backend: StorageBackend, options: RunWriterOptions): Promise<InlineRunSink> {
    const writer = new RunWriter(backend, options);
    await writer.start();
    return new InlineRunSink(writer);
  }

  get path(): string {
    return this.#writer.path;
  }

  get storesAtExit(): boolean {
    return false;
  }

  get linesWritten(): number {
    return this.#linesWritten;
  }

  write(line: string): void {
    this.#linesWritten += 1;
    this.#writer.write(line);
  }

  flush(): Promise<void> {
    return this.#writer.flush();
  }

  touch(): void {
    this.#writer.touch();
  }

  flushForExit(ending: RunEnding): Promise<void> {
    return this.#writer.flushForExit(ending);
  }

  close(ending: RunEnding = endingForExitCode(0), options?: CloseOptions): Promise<void> {
    return this.#writer.close(ending, options);
  }

  /** Only starts the writes: the main thread cannot wait for them here, so lines in the spool stay there. */
  closeSync(ending: RunEnding): boolean {
    this.#writer.close(ending, { final: true }).catch(() => {});
    this.#writer.keepUnstored();
    return true;
  }
}
