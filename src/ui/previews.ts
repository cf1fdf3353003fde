/**
 * Previews read only what they show, with ranged reads: the head of a text or CSV file, the new end of a log,
 * a safetensors header (8 bytes of length, then the header itself, both from one save of the file; the tensors are
 * never read).
 */
import type { StorageBackend } from "../backends/backend.ts";
import { MAX_HEADER_BYTES, parseHeader, SafetensorsProblem } from "../handlers/checkpoint/safetensors.ts";
import { loadCsv, loadYaml } from "../handlers/lazy-modules.ts";
import { YAML_LOAD_OPTIONS } from "../handlers/yaml.ts";
import type { CsvPreview, SafetensorsPreview, TailChunk, TextPreview } from "./api-types.ts";
import { atOneRevision } from "./pinned-read.ts";

/** The most a text, JSON or YAML preview reads. */
export const TEXT_PREVIEW_BYTES = 2 * 1024 * 1024;
/** The most JSON a YAML preview sends: what its aliases expand to is counted in full. */
const YAML_PREVIEW_JSON_BYTES = 16 * 1024 * 1024;
/** The most the CSV preview reads, and the rows it returns. */
const CSV_PREVIEW_BYTES = 1024 * 1024;
const CSV_PREVIEW_ROWS = 1000;
/** The first read of a safetensors file: the 8-byte length and, usually, the whole header. */
const SAFETENSORS_FIRST_READ = 256 * 1024;
/** The most one tail poll returns; the first poll of a long log starts this far before the end. */
export const TAIL_BYTES = 4 * 1024 * 1024;

export class PreviewProblem extends Error {}

const utf8 = new TextDecoder("utf-8");
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** The object's size and its first `length` bytes, asked for at once. */
async function head(backend: StorageBackend, key: string, length: number): Promise<{ size: number; bytes: Uint8Array }> {
  const [info, bytes] = await Promise.all([backend.head(key), backend.get(key, { range: { offset: 0, length } })]);
  // Read together, the two may straddle a rewrite: keep the bytes only as far as the size says.
  return { size: info.size, bytes: bytes.subarray(0, Math.min(bytes.byteLength, info.size)) };
}

export async function textPreview(backend: StorageBackend, key: string): Promise<TextPreview> {
  const { size, bytes } = await head(backend, key, TEXT_PREVIEW_BYTES);
  const truncated = size > bytes.byteLength;
  const shown = truncated ? wholeCharacters(bytes) : bytes;
  try {
    return { size, text: strictUtf8.decode(shown), truncated, notUtf8: false };
  } catch {
    return { size, text: utf8.decode(shown), truncated, notUtf8: true };
  }
}

/** A YAML file as the JSON value it holds, for the same folding view as JSON. */
export async function yamlPreview(backend: StorageBackend, key: string): Promise<{ size: number; value: unknown; truncated: boolean }> {
  const preview = await textPreview(backend, key);
  if (preview.truncated) return { size: preview.size, value: null, truncated: true };
  const yaml = await loadYaml();
  let value: unknown;
  try {
    value = yaml.load(preview.text, { ...YAML_LOAD_OPTIONS, schema: yaml.JSON_SCHEMA }) ?? null;
  } catch (error) {
    throw new PreviewProblem(`not valid YAML: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`);
  }
  // Aliases (*name) share one node: a small file can stand for a value far too large to send (a "billion laughs").
  if (jsonLength(value, new Map(), new Set()) > YAML_PREVIEW_JSON_BYTES) {
    throw new PreviewProblem(
      `its aliases (*name) expand it past ${YAML_PREVIEW_JSON_BYTES / 1024 / 1024} MiB of JSON: too large to preview; download it to read it`,
    );
  }
  return { size: preview.size, value, truncated: false };
}

/**
 * The length of `value` as JSON, each shared node counted as often as it appears (as JSON.stringify would write
 * it), in one pass over the distinct nodes. A node that contains itself counts as endless.
 */
function jsonLength(value: unknown, known: Map<object, number>, open: Set<object>): number {
  if (value === null || typeof value !== "object") return JSON.stringify(value)?.length ?? 4;
  const cached = known.get(value);
  if (cached !== undefined) return cached;
  if (open.has(value)) return Number.POSITIVE_INFINITY;
  open.add(value);
  let length = 2;
  if (Array.isArray(value)) {
    for (const item of value) length += jsonLength(item, known, open) + 1;
  } else {
    for (const [key, item] of Object.entries(value)) length += JSON.stringify(key).length + 2 + jsonLength(item, known, open);
  }
  open.delete(value);
  known.set(value, length);
  return length;
}

/** The header and first rows, from the first bytes of the file only. */
export async function csvPreview(backend: StorageBackend, key: string): Promise<CsvPreview> {
  const { size, bytes } = await head(backend, key, CSV_PREVIEW_BYTES);
  let text = utf8.decode(size > bytes.byteLength ? wholeCharacters(bytes) : bytes);
  let truncated = size > bytes.byteLength;
  // A cut file ends inside a row: keep whole lines only.
  if (truncated) text = text.slice(0, text.lastIndexOf("\n") + 1);
  const papa = await loadCsv();
  const parsed = papa.parse<string[]>(text, { skipEmptyLines: true });
  const [header = [], ...rows] = parsed.data;
  if (rows.length > CSV_PREVIEW_ROWS) truncated = true;
  return { size, header, rows: rows.slice(0, CSV_PREVIEW_ROWS), truncated };
}

/**
 * The header, read at one revision of the file (see pinned-read.ts): its size, its first bytes and, when the header
 * is longer, the rest of it all come from the same save.
 */
export function safetensorsPreview(backend: StorageBackend, key: string): Promise<SafetensorsPreview> {
  return atOneRevision(backend, key, async ({ size, read }) => {
    // The first bytes hold the whole header unless it is a large one.
    const first = await read({ offset: 0, length: SAFETENSORS_FIRST_READ });
    if (size < 8 || first.byteLength < 8) throw new PreviewProblem(`${size} bytes is too short for a safetensors file`);
    const stated = new DataView(first.buffer, first.byteOffset, 8).getBigUint64(0, true);
    // Compared as a bigint, and shown as one: a Number would round a length past 2^53.
    if (stated > BigInt(MAX_HEADER_BYTES) || 8n + stated > BigInt(size)) {
      throw new PreviewProblem(`the header length ${stated} does not fit the file's ${size} bytes`);
    }
    const headerLength = Number(stated);
    const header = 8 + headerLength <= first.byteLength ? first.subarray(8, 8 + headerLength) : await read({ offset: 8, length: headerLength });
    try {
      const parsed = parseHeader(header, size - 8 - headerLength);
      const byName = new Map(parsed.entries.map((entry) => [entry.name, entry]));
      const tensors = parsed.names.flatMap((name) => {
        const entry = byName.get(name);
        return entry === undefined ? [] : [{ name, dtype: entry.dtype, shape: entry.shape, bytes: entry.end - entry.begin }];
      });
      return { size, headerBytes: headerLength, tensors, metadata: parsed.metadata };
    } catch (error) {
      if (error instanceof SafetensorsProblem) throw new PreviewProblem(`not a valid safetensors file: ${error.message}`);
      throw error;
    }
  });
}

/**
 * The lines written since `from`; on the first poll (`from` = 0) of a long log, its last part.
 *
 * Whole lines only go into `text` (and `next` moves past them), so a line cut by a flush is read whole by the next
 * poll. A last line with no newline after it (still being written, or the last words of a killed process) comes
 * back in `partial` each time, without moving `next`: the page shows it at the end until it is read whole.
 *
 * A line longer than one read (TAIL_BYTES) is cut: its first TAIL_BYTES come out as one line ending in a marker,
 * and `next` moves on past them. A poll whose `from` is not at a line start (the byte before it is not a newline,
 * which happens only after such a cut) drops the rest of that line, up to its newline, so the tail never stops.
 */
export async function tail(backend: StorageBackend, key: string, from: number): Promise<TailChunk> {
  const { size } = await backend.head(key);
  const restarted = from > size;
  let start = restarted ? 0 : from;
  const skipped = start === 0 && size > TAIL_BYTES ? size - TAIL_BYTES : 0;
  start += skipped;
  if (start >= size) return { size, from: start, next: start, text: "", partial: "", restarted, skipped: 0 };
  // After the first poll, read one byte more: the one before `start` tells whether `start` begins a line.
  const readFrom = skipped === 0 && start > 0 ? start - 1 : start;
  const read = await backend.get(key, { range: { offset: readFrom, length: Math.min(TAIL_BYTES, size - readFrom) } });
  let bytes = read.subarray(0, Math.min(read.byteLength, size - readFrom));
  const end = readFrom + bytes.byteLength;
  if (readFrom < start && bytes[0] === 0x0a) {
    bytes = bytes.subarray(1);
  } else if (readFrom < start || skipped > 0) {
    // The rest of a line begun before `start` (cut, or before the part a first poll shows): left out.
    const lineEnd = bytes.indexOf(0x0a);
    if (lineEnd === -1) return { size, from: end, next: end, text: "", partial: "", restarted, skipped: skipped > 0 ? end : 0 };
    bytes = bytes.subarray(lineEnd + 1);
  }
  start = end - bytes.byteLength;
  const lastNewline = bytes.lastIndexOf(0x0a);
  const whole = bytes.subarray(0, lastNewline + 1);
  const rest = bytes.subarray(lastNewline + 1);
  const shownSkipped = skipped > 0 ? start : 0;
  if (lastNewline === -1 && end < size) {
    // A line that starts after what was left out and runs past this read: the next poll reads it from its start.
    if (start > readFrom + 1) return { size, from: start, next: start, text: "", partial: "", restarted, skipped: shownSkipped };
    // One line longer than a whole read: shown cut, and the tail moves past it.
    const text = `${utf8.decode(wholeCharacters(bytes))} [… line cut: longer than ${TAIL_BYTES / 1024 / 1024} MiB; download the log to read it whole]\n`;
    return { size, from: start, next: end, text, partial: "", restarted, skipped: shownSkipped };
  }
  const partial = end >= size ? utf8.decode(rest) : "";
  return { size, from: start, next: start + whole.byteLength, text: utf8.decode(whole), partial, restarted, skipped: shownSkipped };
}

/** `bytes` without a UTF-8 sequence cut at its end. */
function wholeCharacters(bytes: Uint8Array): Uint8Array {
  let end = bytes.byteLength;
  for (let back = 1; back <= 3 && end - back >= 0; back++) {
    const byte = bytes[end - back] ?? 0;
    if ((byte & 0xc0) === 0x80) continue; // continuation byte
    const length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    if (length > back) end -= back; // a lead byte whose sequence is cut: drop it and what follows
    break;
  }
  return bytes.subarray(0, end);
}
