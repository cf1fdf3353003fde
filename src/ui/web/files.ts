/** How the page groups a version's files: folders, logs, and backups beside their artifact. */
import type { FileRow, UnlistableFile } from "../api-types.ts";

export interface TreeFile {
  readonly file: FileRow;
  readonly name: string;
  readonly backups: readonly FileRow[];
}

export interface TreeFolder {
  readonly name: string;
  readonly path: string;
  readonly folders: TreeFolder[];
  readonly files: TreeFile[];
  /** Entries here the listing could not give as files, by their name in this folder. */
  readonly unlistable: { readonly name: string; readonly entry: UnlistableFile }[];
}

export function extensionOf(path: string): string {
  const name = path.slice(path.lastIndexOf("/") + 1);
  const dot = name.lastIndexOf(".");
  return dot <= 0 ? "" : name.slice(dot + 1).toLowerCase();
}

export function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** The backups of `artifact` among `siblings`: `<stem>.backup_<tag or time><ext>`, oldest listing order kept. */
export function backupsOf(artifact: string, siblings: readonly FileRow[]): FileRow[] {
  const slash = artifact.lastIndexOf("/");
  const dir = artifact.slice(0, slash + 1);
  const name = artifact.slice(slash + 1);
  const dot = name.lastIndexOf(".");
  const stem = dot <= 0 ? name : name.slice(0, dot);
  const ext = dot <= 0 ? "" : name.slice(dot);
  const start = `${dir}${stem}.backup_`;
  return siblings.filter((file) => file.path.startsWith(start) && file.path.endsWith(ext) && !file.path.slice(start.length).includes("/"));
}

export function buildTree(files: readonly FileRow[], unlistable: readonly UnlistableFile[] = []): TreeFolder {
  const candidates = files.filter((file) => file.path.includes(".backup_"));
  const backups = new Map(files.map((file) => [file.path, backupsOf(file.path, candidates)]));
  const shownBeside = new Set([...backups.values()].flat().map((file) => file.path));
  const root = newFolder("", "");
  for (const file of files) {
    if (shownBeside.has(file.path)) continue;
    const [folder, name] = place(root, file.path);
    folder.files.push({ file, name, backups: backups.get(file.path) ?? [] });
  }
  for (const entry of unlistable) {
    const [folder, name] = place(root, entry.path);
    folder.unlistable.push({ name, entry });
  }
  return root;
}

/** The folder of `path` under `root` (made on the way), and the last segment. */
function place(root: TreeFolder, path: string): [TreeFolder, string] {
  const parts = path.split("/");
  let folder = root;
  for (const part of parts.slice(0, -1)) {
    let next = folder.folders.find((child) => child.name === part);
    if (next === undefined) {
      next = newFolder(part, folder.path === "" ? part : `${folder.path}/${part}`);
      folder.folders.push(next);
    }
    folder = next;
  }
  return [folder, parts.at(-1) ?? path];
}

function newFolder(name: string, path: string): TreeFolder {
  return { name, path, folders: [], files: [], unlistable: [] };
}

/** The log files at the top of a version: this run's log, the history, and each rank's. */
export function logFiles(files: readonly FileRow[]): FileRow[] {
  const logs = files.filter((file) => !file.path.includes("/") && file.path.endsWith(".log") && file.refused === undefined);
  const weight = (path: string): number => (path.includes(".rank") ? 2 : 0) + (path.endsWith(".history.log") ? 1 : 0);
  return logs.sort((a, b) => weight(a.path) - weight(b.path) || a.path.localeCompare(b.path, undefined, { numeric: true }));
}

export function logLabel(path: string): string {
  const rank = /\.rank(\d+)\./.exec(path)?.[1];
  const history = path.endsWith(".history.log");
  return `${rank === undefined ? "" : `rank ${rank} `}${history ? "history" : "log"}`.replace(/^log$/, "run log");
}
