/** The versions of one name: number, tag, created, run id, status and duration where a run record exists, size. */
import { useState } from "preact/hooks";
import type { VersionRow } from "../../api-types.ts";
import { folderSize, formatTime, runDuration, timeAgo, versionLabel } from "../format.ts";
import { href } from "../router.ts";
import { useJson } from "../use-fetch.ts";
import { Show, StatusBadge, TagBadge } from "../views/common.tsx";
import { printable } from "../../../printable.ts";

export function VersionsPage({ name }: { name: string }) {
  const versions = useJson<{ versions: VersionRow[] }>(`/api/names/${encodeURIComponent(name)}`);
  const [picked, setPicked] = useState<string[]>([]);
  const toggle = (folder: string): void =>
    setPicked((current) => (current.includes(folder) ? current.filter((item) => item !== folder) : [...current, folder].slice(-2)));
  const [a, b] = picked;
  return (
    <section>
      <div class="title-row">
        <h1>{printable(name)}</h1>
        <a
          class={`button${a !== undefined && b !== undefined ? "" : " disabled"}`}
          data-testid="compare-link"
          href={a !== undefined && b !== undefined ? href.compare(name, a, b) : undefined}
        >
          {a !== undefined && b !== undefined ? `Compare ${a} ↔ ${b}` : "Tick two versions to compare"}
        </a>
      </div>
      <Show loaded={versions}>
        {({ versions: rows }) => (
          <table class="grid" data-testid="versions">
            <thead>
              <tr>
                <th class="check" title="pick two to compare"></th>
                <th>Version</th>
                <th>Created</th>
                <th>Run id</th>
                <th>Status</th>
                <th class="num">Duration</th>
                <th class="num">Files</th>
                <th class="num">Size</th>
              </tr>
            </thead>
            <tbody>
              {[...rows].reverse().map((row) => (
                <tr key={row.versionName}>
                  <td class="check">
                    <input
                      type="checkbox"
                      aria-label={`compare ${row.versionName}`}
                      checked={picked.includes(row.versionName)}
                      onChange={() => toggle(row.versionName)}
                    />
                  </td>
                  <td>
                    <a class="strong" href={href.version(name, row.versionName)}>
                      {versionLabel(row.version)}
                    </a>{" "}
                    <TagBadge tag={row.tag} />
                  </td>
                  <td title={timeAgo(row.createdAt)}>{formatTime(row.createdAt)}</td>
                  <td class="mono">{row.runId === null ? "–" : printable(row.runId)}</td>
                  <td>
                    <StatusBadge status={row.status} />
                  </td>
                  <td class="num">{runDuration(row)}</td>
                  <td class="num">{row.files ?? "?"}</td>
                  <td class="num" title={row.error}>
                    {folderSize(row.size)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Show>
    </section>
  );
}
