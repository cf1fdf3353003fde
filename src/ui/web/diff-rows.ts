/**
 * Two texts as rows of a side-by-side diff, line by line, with the work bounded: a side of more than MAX_LINES lines
 * is not diffed, and the diff gives up past MAX_EDITS added and removed lines (its work grows with the lines times
 * the edits), so two large, very different files cannot freeze the page.
 */
import { diffLines } from "diff";

export const MAX_LINES = 20_000;
export const MAX_EDITS = 4_000;

export interface DiffRow {
  readonly left: string | null;
  readonly right: string | null;
  readonly kind: "same" | "removed" | "added" | "changed";
}

export type SideBySide =
  | { readonly kind: "rows"; readonly rows: readonly DiffRow[] }
  | { readonly kind: "too-large"; readonly lines: number }
  | { readonly kind: "too-different" };

export function sideBySide(before: string, after: string): SideBySide {
  const lines = Math.max(lineCount(before), lineCount(after));
  if (lines > MAX_LINES) return { kind: "too-large", lines };
  if (before === "" || after === "") {
    const rows = before === "" ? linesOf(after).map(added) : linesOf(before).map(removed);
    return { kind: "rows", rows };
  }
  const parts = diffLines(before, after, { maxEditLength: MAX_EDITS });
  if (parts === undefined) return { kind: "too-different" };
  const rows: DiffRow[] = [];
  for (let index = 0; index < parts.length; index++) {
    const part = parts[index];
    if (part === undefined) continue;
    if (!part.added && !part.removed) {
      for (const line of linesOf(part.value)) rows.push({ left: line, right: line, kind: "same" });
      continue;
    }
    const next = parts[index + 1];
    if (part.removed && next?.added === true) {
      const left = linesOf(part.value);
      const right = linesOf(next.value);
      for (let line = 0; line < Math.max(left.length, right.length); line++) {
        rows.push({ left: left[line] ?? null, right: right[line] ?? null, kind: "changed" });
      }
      index++;
      continue;
    }
    for (const line of linesOf(part.value)) rows.push(part.added ? added(line) : removed(line));
  }
  return { kind: "rows", rows };
}

function added(line: string): DiffRow {
  return { left: null, right: line, kind: "added" };
}

function removed(line: string): DiffRow {
  return { left: line, right: null, kind: "removed" };
}

function linesOf(text: string): string[] {
  return text.replace(/\n$/, "").split("\n");
}

function lineCount(text: string): number {
  if (text === "") return 0;
  let count = text.endsWith("\n") ? 0 : 1;
  for (let at = text.indexOf("\n"); at !== -1; at = text.indexOf("\n", at + 1)) count++;
  return count;
}
