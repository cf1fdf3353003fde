/** The shapes of the viewer API's answers, shared by the server (src/ui) and the page (src/ui/web). */

export interface RunSummary {
  readonly versionName: string;
  readonly version: number;
  readonly tag: string | null;
  readonly createdAt: string | null;
  readonly runId: string | null;
  /** From the run record, where the version has one ("running", "finished", "failed", "killed"). */
  readonly status: string | null;
  readonly startedAt: string | null;
  readonly endedAt: string | null;
  readonly exitCode: number | null;
}

export interface NameSummary {
  readonly name: string;
  readonly versions: number;
  readonly latest: RunSummary | null;
}

export interface VersionRow extends RunSummary {
  readonly size: number;
  readonly files: number;
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

export type FileChange = "added" | "removed" | "changed" | "same" | "unknown";

export interface ComparedFile {
  readonly path: string;
  readonly change: FileChange;
  readonly sizeA: number | null;
  readonly sizeB: number | null;
  /** What told "changed" or "same" apart: "size", "checksum" or "content". */
  readonly by: string | null;
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
  readonly text: string;
  /** The file shrank below `from` (a new run replaced it): `text` starts again from the top. */
  readonly restarted: boolean;
  /** Bytes left out before `text` on a first read of a long log. */
  readonly skipped: number;
}
