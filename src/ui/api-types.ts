/** The shapes of the viewer API's answers, shared by the server (src/ui) and the page (src/ui/web). */

export interface RunSummary {
  /** The folder, named as `opencrate ls` names it: "v3", "v3:baseline", "dev", "dev:scratch". */
  readonly versionName: string;
  /** The number, or "dev" for the scratch version. */
  readonly version: number | "dev";
  readonly tag: string | null;
  readonly createdAt: string | null;
  readonly runId: string | null;
  /**
   * From the run record, where the version has one ("running", "finished", "failed", "killed"), or "stale" for a
   * running run whose record was not refreshed for 5 minutes (it died without ending it), as `opencrate ls` says.
   */
  readonly status: string | null;
  readonly startedAt: string | null;
  readonly endedAt: string | null;
  readonly exitCode: number | null;
  /** When the run's record was last refreshed (a stale run's duration ends here). */
  readonly lastSeen: string | null;
}

export interface NameSummary {
  readonly name: string;
  /** null when the name's versions could not be read (see `error`). */
  readonly versions: number | null;
  readonly latest: RunSummary | null;
  /**
   * Why the name's versions could not be read (a corrupt claim, a store error), or which entries among them cannot
   * be listed (a link that leads nowhere: the others are counted); absent when all were read.
   */
  readonly error?: string;
}

export interface VersionRun extends RunSummary {
  /** False for a claimed version whose folder holds nothing yet (its run has not written, or died first). */
  readonly hasFolder: boolean;
}

export interface VersionRow extends VersionRun {
  /** null when the folder could not be listed (see `error`), as `ls` shows "?". */
  readonly size: number | null;
  readonly files: number | null;
  /** Why the folder could not be listed; absent when it was. */
  readonly error?: string;
}

export interface FileRow {
  /** "/"-separated path under the version folder. */
  readonly path: string;
  readonly size: number;
  readonly lastModified: string;
  readonly checksum: string | null;
  /** Why the viewer will not serve this key (a crafted name: "..", a backslash …); absent for ordinary files. */
  readonly refused?: string;
}

/** An entry of a version the listing could not give as a file (on local disk a link that leads nowhere, a name that is not UTF-8). */
export interface UnlistableFile {
  /** "/"-separated path under the version folder; a name that is not UTF-8 has its bytes written as `\xNN`. */
  readonly path: string;
  /** Why, as a phrase: "a symbolic link that leads to nothing (ENOENT)". */
  readonly problem: string;
}

export type FileChange = "added" | "removed" | "changed" | "same" | "unknown";

export interface ComparedFile {
  readonly path: string;
  readonly change: FileChange;
  readonly sizeA: number | null;
  readonly sizeB: number | null;
  /** What told "changed" or "same" apart: "size", "checksum" or "content". */
  readonly by: string | null;
  /** Why an "unknown" file's contents were not compared (a limit of the comparison). */
  readonly reason?: string;
}

export interface Comparison {
  readonly name: string;
  readonly a: string;
  readonly b: string;
  readonly files: readonly ComparedFile[];
}

export interface TextPreview {
  readonly size: number;
  readonly text: string;
  readonly truncated: boolean;
  /** The bytes are not valid UTF-8 (Latin-1, UTF-16, binary): those that are not show as U+FFFD in `text`. */
  readonly notUtf8: boolean;
}

export interface CsvPreview {
  readonly size: number;
  readonly header: readonly string[];
  readonly rows: readonly (readonly string[])[];
  /** True when the file holds more rows than these. */
  readonly truncated: boolean;
}

export interface TensorRow {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly bytes: number;
}

export interface SafetensorsPreview {
  readonly size: number;
  readonly headerBytes: number;
  readonly tensors: readonly TensorRow[];
  readonly metadata: Readonly<Record<string, string>>;
}

export interface TailChunk {
  readonly size: number;
  /** Where `text` starts in the file. */
  readonly from: number;
  /** Where the next poll starts. */
  readonly next: number;
  /** Whole lines (each ending in "\n"); a line longer than one read is cut and ends in a "line cut" marker. */
  readonly text: string;
  /**
   * The file's last line when no newline follows it yet (a line being written, or a killed process's last words);
   * "" otherwise. Not counted in `next`: it comes back, whole or longer, until its newline is written.
   */
  readonly partial: string;
  /** The file shrank below `from` (a new run replaced it): `text` starts again from the top. */
  readonly restarted: boolean;
  /** Bytes left out before `text` on a first read of a long log. */
  readonly skipped: number;
}
