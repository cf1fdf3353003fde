/**
 * How the log view reads a log's text into entries. A line `YYYY-MM-DD HH:MM:SS - LEVEL message` starts an entry;
 * a line that does not (a stack under `exception`) belongs to the entry above. Lines above the first entry (a log
 * in another format, or the middle of an entry cut off by the tail) have no entry to join: each stands alone.
 * Lines may end in CRLF; a line holding carriage returns (a progress bar redrawn in place) starts an entry when
 * the text after its last carriage return does, as a terminal would show it.
 */

export const LEVELS = ["DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL"] as const;
export type Level = (typeof LEVELS)[number];

export interface LogEntry {
  readonly time: string;
  readonly level: Level | null;
  readonly lines: readonly string[];
}

const ENTRY = /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) - (DEBUG|INFO|SUCCESS|WARNING|ERROR|CRITICAL) ?\s*(.*)$/s;

/** An entry this call made, so still its own to add lines to. */
interface OpenEntry {
  readonly time: string;
  readonly level: Level | null;
  readonly lines: string[];
}

/**
 * `entries` followed by the entries of `text` (whole lines). Neither `entries` nor its entries are changed. Linear in
 * the lines added: the entry the text continues is copied once, not once per line.
 */
export function appendEntries(entries: readonly LogEntry[], text: string): LogEntry[] {
  const next: LogEntry[] = [...entries];
  let open: OpenEntry | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (line === "") continue;
    const started = startOf(line);
    if (started !== undefined) {
      open = started;
      next.push(open);
      continue;
    }
    if (open === undefined) {
      const last = next.at(-1);
      if (last === undefined || last.level === null) {
        next.push({ time: "", level: null, lines: [line] });
        continue;
      }
      open = { ...last, lines: [...last.lines] };
      next[next.length - 1] = open;
    }
    open.lines.push(line);
  }
  return next;
}

function startOf(line: string): OpenEntry | undefined {
  const match = ENTRY.exec(line) ?? (line.includes("\r") ? ENTRY.exec(afterLastReturn(line)) : null);
  if (match === null) return undefined;
  return { time: match[1] ?? "", level: (match[2] ?? "INFO") as Level, lines: [match[3] ?? ""] };
}

/** The text after the last carriage return that is followed by any. */
function afterLastReturn(line: string): string {
  const parts = line.split("\r").filter((part) => part !== "");
  return parts.at(-1) ?? "";
}
