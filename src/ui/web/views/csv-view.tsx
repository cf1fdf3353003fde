/** The first rows of a CSV as a table, and a line plot of its numeric columns (uPlot); what is drawn is csv-layout.ts. */
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { CsvPreview } from "../../api-types.ts";
import { csvLayout, TABLE_ROWS, type CsvLayout } from "../csv-layout.ts";
import { formatSize } from "../format.ts";

const PALETTE = ["#3b5bdb", "#e8590c", "#2f9e44", "#c2255c", "#7048e8", "#0c8599", "#e67700"];

export function CsvView({ preview }: { preview: CsvPreview }) {
  const layout = csvLayout(preview);
  const columns = preview.header.slice(0, layout.tableColumns);
  const numClass = (column: number): string => (layout.numeric[column] === true ? "num" : "");
  return (
    <div class="csv-view">
      {layout.series.length > 0 && preview.rows.length > 1 && <CsvPlot preview={preview} layout={layout} />}
      {layout.series.length < layout.plottable && preview.rows.length > 1 && (
        <div class="muted note">
          The plot draws the first {layout.series.length} of {layout.plottable.toLocaleString()} numeric columns.
        </div>
      )}
      <div class="muted note">
        {preview.truncated ? `First ${preview.rows.length.toLocaleString()} rows of ${formatSize(preview.size)}` : `${preview.rows.length.toLocaleString()} rows`}
        {preview.rows.length > TABLE_ROWS ? `; the table shows ${TABLE_ROWS}` : ""}
        {columns.length < preview.header.length
          ? `; the table shows the first ${columns.length} of ${preview.header.length.toLocaleString()} columns (download the file for the rest)`
          : ""}
      </div>
      <div class="table-scroll">
        <table class="grid compact as-stored" data-testid="csv-table">
          <thead>
            <tr>
              <th class="num muted">#</th>
              {columns.map((cell, index) => (
                <th key={index} class={numClass(index)}>
                  {cell}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {preview.rows.slice(0, TABLE_ROWS).map((row, index) => (
              <tr key={index}>
                <td class="num muted">{index + 1}</td>
                {columns.map((_, column) => (
                  <td key={column} class={numClass(column)}>
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

function CsvPlot({ preview, layout }: { preview: CsvPreview; layout: CsvLayout }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = box.current;
    if (element === null) return;
    const { xColumn, series } = layout;
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
  }, [preview, layout.xColumn, layout.series.join(",")]);
  return <div class="plot" ref={box} data-testid="csv-plot" />;
}
