/**
 * Renders a listing as a tree: folders first, then files, each sorted case-insensitively; dot-entries hidden. Names
 * (and the root's label) are shown through printable(): a stored name may hold controls.
 */
import { printable } from "../printable.ts";
import { formatMinute, formatSize } from "./size.ts";

export interface TreeFile {
  /** "/"-separated path relative to the tree's root. */
  readonly path: string;
  readonly size: number;
  readonly lastModified: Date;
  /** Why this entry could not be listed (then it is shown marked, and counts in no folder's size or time). */
  readonly problem?: string;
}

export interface TreeOptions {
  readonly rootLabel: string;
  /** Levels below the root to show; 0 shows the root only. */
  readonly depth: number;
  /** Append ` (YYYY-MM-DD HH:MM, size)`; folders get their newest time and total size. */
  readonly verbose: boolean;
  /** Wrap the verbose part in this (e.g. ANSI dim) when set. */
  readonly styleDetail?: (text: string) => string;
}

interface Folder {
  readonly folders: Map<string, Folder>;
  readonly files: Map<string, TreeFile>;
  size: number;
  newest: number;
}

export function renderTree(files: Iterable<TreeFile>, options: TreeOptions): string {
  const root = newFolder();
  for (const file of files) {
    if (hiddenInTree(file.path)) continue;
    const segments = file.path.split("/");
    let folder = root;
    addTo(folder, file);
    for (const segment of segments.slice(0, -1)) {
      let child = folder.folders.get(segment);
      if (child === undefined) {
        child = newFolder();
        folder.folders.set(segment, child);
      }
      folder = child;
      addTo(folder, file);
    }
    folder.files.set(segments.at(-1) ?? "", file);
  }
  const style = options.styleDetail ?? ((text: string) => text);
  const detail = (time: number, size: number): string =>
    options.verbose ? ` ${style(`(${formatMinute(new Date(time))}, ${formatSize(size)})`)}` : "";
  const lines = [printable(options.rootLabel)];
  const walk = (folder: Folder, indent: string, level: number): void => {
    if (level > options.depth) return;
    const folders = [...folder.folders.entries()].sort(byName);
    const fileEntries = [...folder.files.entries()].sort(byName);
    const total = folders.length + fileEntries.length;
    let index = 0;
    for (const [name, child] of folders) {
      const last = ++index === total;
      lines.push(`${indent}${last ? "└── " : "├── "}${printable(name)}/${detail(child.newest, child.size)}`);
      walk(child, indent + (last ? "    " : "│   "), level + 1);
    }
    for (const [name, file] of fileEntries) {
      const last = ++index === total;
      const shown = file.problem === undefined ? detail(file.lastModified.getTime(), file.size) : ` (cannot be listed: ${printable(file.problem)})`;
      lines.push(`${indent}${last ? "└── " : "├── "}${printable(name)}${shown}`);
    }
  };
  walk(root, "", 1);
  return lines.join("\n");
}

/** A path with a dot-entry in it, which the tree does not show. */
export function hiddenInTree(path: string): boolean {
  return path.split("/").some((segment) => segment.startsWith("."));
}

function newFolder(): Folder {
  return { folders: new Map(), files: new Map(), size: 0, newest: 0 };
}

function addTo(folder: Folder, file: TreeFile): void {
  if (file.problem !== undefined) return;
  folder.size += file.size;
  folder.newest = Math.max(folder.newest, file.lastModified.getTime());
}

function byName(a: [string, unknown], b: [string, unknown]): number {
  const lower = a[0].toLowerCase().localeCompare(b[0].toLowerCase());
  return lower !== 0 ? lower : a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}
