/** Plain-text output helpers shared by the commands: aligned tables, times, and writes that respect back-pressure. */
import { once } from "node:events";
import { printable } from "../printable.ts";
import { scrub } from "./scrub.ts";

/**
 * Columns padded to their widest cell, two spaces apart; the last column is not padded. Cells are shown through
 * printable() (names from storage may hold controls), and widths are those of what is shown.
 */
export function renderTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [header, ...rows].map((row) => row.map(printable));
  const widths = header.map((_, column) => Math.max(...all.map((row) => (row[column] ?? "").length)));
  return all
    .map((row) =>
      row
        .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/** `2025-11-16 11:45:02`, local time; "-" for a missing or unreadable time. */
export function formatTime(time: Date | string | undefined): string {
  if (time === undefined) return "-";
  const date = typeof time === "string" ? new Date(time) : time;
  if (Number.isNaN(date.getTime())) return typeof time === "string" ? time : "-";
  const two = (n: number): string => String(n).padStart(2, "0");
  return (
    `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())} ` +
    `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`
  );
}

/**
 * Prints lines of text (not data) on stdout, scrubbed of credentials. Text from storage in them must have gone
 * through printable() (or renderTable) first: only the caller knows which newlines are its own.
 */
export function printLines(text: string): void {
  if (text === "") return;
  process.stdout.write(`${scrub(text)}\n`);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${scrub(JSON.stringify(value, null, 2))}\n`);
}

/** Writes raw bytes to stdout, waiting when the pipe is full. */
export async function writeData(chunk: Uint8Array): Promise<void> {
  if (!process.stdout.write(chunk)) await once(process.stdout, "drain");
}
