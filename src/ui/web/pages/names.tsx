/** The root: its snapshot names, how many versions each has, and its latest run. */
import type { NameSummary } from "../../api-types.ts";
import { formatTime, timeAgo, versionLabel } from "../format.ts";
import { href } from "../router.ts";
import { useJson } from "../use-fetch.ts";
import { Show, StatusBadge, TagBadge } from "../views/common.tsx";
import { printable } from "../../../printable.ts";

export function NamesPage() {
  const names = useJson<NameSummary[]>("/api/names");
  return (
    <section>
      <h1>Snapshots</h1>
      <Show loaded={names}>
        {(rows) =>
          rows.length === 0 ? (
            <div class="empty">No snapshots in this root yet.</div>
          ) : (
            <table class="grid" data-testid="names">
              <thead>
                <tr>
                  <th>Name</th>
                  <th class="num">Versions</th>
                  <th>Latest</th>
                  <th>Created</th>
                  <th>Status</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((row) => (
                  <tr key={row.name}>
                    <td>
                      <a class="strong" href={href.versions(row.name)}>
                        {printable(row.name)}
                      </a>
                    </td>
                    <td class="num">{row.versions ?? "?"}</td>
                    <td>
                      {row.error !== undefined ? (
                        <span class="error-text" data-testid="name-error">
                          {row.error}
                        </span>
                      ) : row.latest === null ? (
                        "–"
                      ) : (
                        <a href={href.version(row.name, row.latest.versionName)}>
                          {versionLabel(row.latest.version)} <TagBadge tag={row.latest.tag} />
                        </a>
                      )}
                    </td>
                    <td title={formatTime(row.latest?.createdAt ?? null)}>{timeAgo(row.latest?.createdAt ?? null) || "–"}</td>
                    <td>
                      <StatusBadge status={row.latest?.status ?? null} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </Show>
    </section>
  );
}
