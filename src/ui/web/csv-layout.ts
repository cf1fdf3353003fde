/**
 * What the CSV preview draws of the rows it got: the table's first rows and columns, and which numeric columns the
 * plot draws (a row index or a step-like column along x). Caps keep a wide file (thousands of columns) drawable.
 */
import type { CsvPreview } from "../api-types.ts";

export const TABLE_ROWS = 200;
export const TABLE_COLUMNS = 100;
/** Lines in the plot at most: more would be unreadable, and each costs a pass over the rows. */
export const PLOT_SERIES = 10;
const X_NAMES = /^(step|steps|epoch|epochs|iter|iteration|x|t|time|index|idx)$/i;

export interface CsvLayout {
  /** numeric[c]: every non-empty value of column c in the preview is a finite number. */
  readonly numeric: readonly boolean[];
  /** How many of the first columns the table shows. */
  readonly tableColumns: number;
  /** The column along x, or undefined for the row index. */
  readonly xColumn: number | undefined;
  /** The numeric columns the plot draws (not the x column), at most PLOT_SERIES. */
  readonly series: readonly number[];
  /** All numeric columns but the x column: what the plot would draw without its cap. */
  readonly plottable: number;
}

export function csvLayout(preview: CsvPreview): CsvLayout {
  const numeric = numericColumns(preview);
  const xColumn = numeric.findIndex((isNumeric, column) => isNumeric && X_NAMES.test(preview.header[column] ?? ""));
  const x = xColumn === -1 ? undefined : xColumn;
  const candidates: number[] = [];
  numeric.forEach((isNumeric, column) => {
    if (isNumeric && column !== x) candidates.push(column);
  });
  return {
    numeric,
    tableColumns: Math.min(preview.header.length, TABLE_COLUMNS),
    xColumn: x,
    series: candidates.slice(0, PLOT_SERIES),
    plottable: candidates.length,
  };
}

/** One pass over the rows per column. */
function numericColumns(preview: CsvPreview): boolean[] {
  return preview.header.map((_, column) => {
    let seen = false;
    for (const row of preview.rows) {
      const value = row[column] ?? "";
      if (value.trim() === "") continue;
      if (!Number.isFinite(Number(value))) return false;
      seen = true;
    }
    return seen;
  });
}
