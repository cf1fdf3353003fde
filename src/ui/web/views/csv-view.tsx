/** The first rows of a CSV as a table, and a line plot of its numeric columns (uPlot). */
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { CsvPreview } from "../../api-types.ts";
import { formatSize } from "../format.ts";

const PALETTE = ["#3b5bdb", "#e8590c", "#2f9e44", "#c2255c", "#7048e8", "#0c8599", "#e67700"];
const TABLE_ROWS = 200;
const X_NAMES = /^(step|steps|epoch|epochs|iter|iteration|x|t|time|index|idx)$/i;

/** Columns whose every non-empty value in the preview is a finite number. */
export function numericColumns(preview: CsvPreview): number[] {
  return preview.header.flatMap((_, column) => {
    const values = preview.rows.map((row) => row[column] ?? "").filter((value) => value.trim() !== "");
    return values.length > 0 && values.every((value) => Number.isFinite(Number(value))) ? [column] : [];
  });
}

export function CsvView({ preview }: { preview: CsvPreview }) {
  const numeric = numericColumns(preview);
  return (
    <div class="csv-view">
      {numeric.length > 0 && preview.rows.length > 1 && <CsvPlot preview={preview} numeric={numeric} />}
      <div class="muted note">
        {preview.truncated ? `First ${preview.rows.length.toLocaleString()} rows of ${formatSize(preview.size)}` : `${preview.rows.length.toLocaleString()} rows`}
        {preview.rows.length > TABLE_ROWS ? `; the table shows ${TABLE_ROWS}` : ""}
      </div>
      <div class="table-scroll">
        <table class="grid compact" data-testid="csv-table">
          <thead>
            <tr>
              <th class="num muted">#</th>
              {preview.header.map((cell, index) => (
                <th key={index} class={numeric.includes(index) ? "num" : ""}>
                  {cell}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {preview.rows.slice(0, TABLE_ROWS).map((row, index) => (
              <tr key={index}>
                <td class="num muted">{index + 1}</td>
                {preview.header.map((_, column) => (
                  <td key={column} class={numeric.includes(column) ? "num" : ""}>
                    {row[column] ?? ""}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}

function CsvPlot({ preview, numeric }: { preview: CsvPreview; numeric: number[] }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = box.current;
    if (element === null) return;
    const xColumn = numeric.find((column) => X_NAMES.test(preview.header[column] ?? ""));
    const series = numeric.filter((column) => column !== xColumn);
    if (series.length === 0) return;
    const column = (index: number): (number | null)[] =>
      preview.rows.map((row) => ((row[index] ?? "").trim() === "" ? null : Number(row[index])));
    const xs = xColumn === undefined ? preview.rows.map((_, index) => index) : (column(xColumn) as number[]);
    const data: uPlot.AlignedData = [xs, ...series.map(column)];
    const plot = new uPlot(
      {
        width: Math.max(320, element.clientWidth),
        height: 280,
        scales: { x: { time: false } },
        axes: [{ label: xColumn === undefined ? "row" : preview.header[xColumn] }, {}],
        series: [
          { label: xColumn === undefined ? "row" : (preview.header[xColumn] ?? "x") },
          ...series.map((index, position) => ({
            label: preview.header[index] ?? `column ${index}`,
            stroke: PALETTE[position % PALETTE.length],
            width: 2,
            points: { show: preview.rows.length <= 60 },
          })),
        ],
      },
      data,
      element,
    );
    return () => plot.destroy();
  }, [preview, numeric.join(",")]);
  return <div class="plot" ref={box} data-testid="csv-plot" />;
}
