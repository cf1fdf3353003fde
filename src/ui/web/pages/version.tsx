/** One version: its files as a tree, its logs (run log, history, ranks) and the preview of the chosen file. */
import { useMemo } from "preact/hooks";
import type { FileRow, UnlistableFile, VersionRun } from "../../api-types.ts";
import { versionApi } from "../api.ts";
import { backupsOf, buildTree, logFiles, logLabel } from "../files.ts";
import { formatSize, formatTime, runDuration } from "../format.ts";
import { href } from "../router.ts";
import { useJson } from "../use-fetch.ts";
import { Show, StatusBadge, TagBadge } from "../views/common.tsx";
import { FileTree } from "../views/file-tree.tsx";
import { FilePreview } from "../views/preview.tsx";
import { printable } from "../../../printable.ts";

export function VersionPage({ name, folder, path }: { name: string; folder: string; path: string | undefined }) {
  const files = useJson<{ files: FileRow[]; unlistable: UnlistableFile[] }>(`${versionApi(name, folder)}/files`);
  // The versions without their sizes: sizing them would list every version's files, and this page shows one.
  const versions = useJson<{ versions: VersionRun[] }>(`/api/names/${encodeURIComponent(name)}?sizes=0`);
  const row = versions.state === "ok" ? versions.data.versions.find((version) => version.versionName === folder) : undefined;
  const others = versions.state === "ok" ? versions.data.versions.filter((version) => version.versionName !== folder) : [];
  return (
    <section>
      <div class="title-row">
        <h1>
          {printable(name)} <span class="muted">/</span> {folder.replace(/:.*/, "")} <TagBadge tag={row?.tag ?? null} />
        </h1>
        {others.length > 0 && (
          <div class="compare-picker">
            <span class="muted">Compare with</span>
            {others.slice(-4).map((other) => (
              <a key={other.versionName} class="button small" href={href.compare(name, other.versionName, folder)}>
                {other.versionName}
              </a>
            ))}
          </div>
        )}
      </div>
      {row !== undefined && (
        <div class="facts">
          <span>created {formatTime(row.createdAt)}</span>
          {row.runId !== null && <span class="mono">run {printable(row.runId)}</span>}
          {row.status !== null && (
            <span>
              <StatusBadge status={row.status} /> {runDuration(row)}
              {row.exitCode !== null && row.exitCode !== 0 ? ` · exit ${row.exitCode}` : ""}
            </span>
          )}
          {files.state === "ok" && <span data-testid="folder-totals">{folderTotals(files.data.files, files.data.unlistable.length)}</span>}
        </div>
      )}
      <Show loaded={files}>
        {({ files: list, unlistable }) => (
          <VersionBody name={name} folder={folder} path={path} files={list} unlistable={unlistable} running={row?.status === "running"} />
        )}
      </Show>
    </section>
  );
}

interface BodyProps {
  readonly name: string;
  readonly folder: string;
  readonly path: string | undefined;
  readonly files: FileRow[];
  readonly unlistable: UnlistableFile[];
  readonly running: boolean;
}

function VersionBody({ name, folder, path, files, unlistable, running }: BodyProps) {
  const tree = useMemo(() => buildTree(files, unlistable), [files, unlistable]);
  const logs = useMemo(() => logFiles(files), [files]);
  const chosen = path ?? logs[0]?.path;
  const file = files.find((candidate) => candidate.path === chosen);
  return (
    <div class="split">
      <aside class="sidebar">
        {logs.length > 0 && (
          <nav class="log-tabs" aria-label="logs">
            {logs.map((log) => (
              <a key={log.path} class={`tab${log.path === chosen ? " selected" : ""}`} href={href.version(name, folder, log.path)}>
                {logLabel(log.path)}
              </a>
            ))}
          </nav>
        )}
        <FileTree name={name} folder={folder} tree={tree} selected={chosen} />
      </aside>
      <div class="main-pane">
        {file === undefined ? (
          <div class="empty" data-testid="no-file">
            {chosen !== undefined
              ? `No file ${printable(chosen)} in this version.`
              : files.length === 0 && unlistable.length === 0
                ? "This version holds no files."
                : "Pick a file to see it."}
          </div>
        ) : (
          <FilePreview key={file.path} name={name} folder={folder} file={file} backups={backupsOf(file.path, files)} live={running} />
        )}
      </div>
    </div>
  );
}

function folderTotals(files: readonly FileRow[], unlistable: number): string {
  const size = files.reduce((sum, file) => sum + file.size, 0);
  const cannot = unlistable === 0 ? "" : ` · ${unlistable.toLocaleString()} cannot be listed`;
  return `${files.length.toLocaleString()} file${files.length === 1 ? "" : "s"} · ${formatSize(size)}${cannot}`;
}
