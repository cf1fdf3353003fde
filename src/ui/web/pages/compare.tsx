/** Two versions of a name: which files were added, removed or changed, and a side-by-side diff of one. */
import type { ComparedFile, Comparison, FileChange } from "../../api-types.ts";
import { formatSize } from "../format.ts";
import { diffable } from "../kinds.ts";
import { href } from "../router.ts";
import { useJson } from "../use-fetch.ts";
import { Show } from "../views/common.tsx";
import { DiffView } from "../views/diff-view.tsx";
import { printable } from "../../../printable.ts";

const ORDER: readonly FileChange[] = ["changed", "added", "removed", "unknown", "same"];

export function ComparePage({ name, a, b, path }: { name: string; a: string; b: string; path: string | undefined }) {
  const comparison = useJson<Comparison>(`/api/compare/${[name, a, b].map(encodeURIComponent).join("/")}`);
  return (
    <section>
      <div class="title-row">
        <h1>
          {printable(name)} <span class="muted">:</span> {a} <span class="muted">→</span> {b}
        </h1>
        <a class="button small" href={href.compare(name, b, a, path)}>
          Swap
        </a>
      </div>
      <Show loaded={comparison}>
        {(result) => {
          const files = [...result.files].sort((x, y) => ORDER.indexOf(x.change) - ORDER.indexOf(y.change) || x.path.localeCompare(y.path));
          const count = (change: FileChange): number => result.files.filter((file) => file.change === change).length;
          return (
            <>
              <div class="stats">
                {ORDER.map((change) => (
                  <div key={change} class={`stat change-${change}`}>
                    <b>{count(change)}</b> {change}
                  </div>
                ))}
              </div>
              <div class="split">
                <div class="sidebar wide">
                  <table class="grid compact" data-testid="compare">
                    <thead>
                      <tr>
                        <th>File</th>
                        <th>Change</th>
                        <th class="num">Size</th>
                      </tr>
                    </thead>
                    <tbody>
                      {files.map((file) => (
                        <CompareRow key={file.path} name={name} a={a} b={b} file={file} selected={file.path === path} />
                      ))}
                    </tbody>
                  </table>
                </div>
                <div class="main-pane">
                  {path === undefined ? (
                    <div class="empty">Pick a changed JSON, YAML, CSV or text file to see both versions side by side.</div>
                  ) : (
                    <DiffView name={name} a={a} b={b} path={path} />
                  )}
                </div>
              </div>
            </>
          );
        }}
      </Show>
    </section>
  );
}

function CompareRow({ name, a, b, file, selected }: { name: string; a: string; b: string; file: ComparedFile; selected: boolean }) {
  const canDiff = diffable(file.path) && file.change !== "same";
  return (
    <tr class={`${selected ? "selected" : ""}`} data-change={file.change}>
      <td class="mono">{canDiff ? <a href={href.compare(name, a, b, file.path)}>{printable(file.path)}</a> : printable(file.path)}</td>
      <td>
        <span class={`badge change-${file.change}`} title={file.by === null ? "" : `by ${file.by}`}>
          {file.change}
        </span>
      </td>
      <td class="num nowrap">{sizeChange(file)}</td>
    </tr>
  );
}

function sizeChange(file: ComparedFile): string {
  if (file.sizeA === null) return file.sizeB === null ? "–" : formatSize(file.sizeB);
  if (file.sizeB === null || file.sizeA === file.sizeB) return formatSize(file.sizeA);
  return `${formatSize(file.sizeA)} → ${formatSize(file.sizeB)}`;
}
