/** A version's files as a folder tree with sizes; backups sit under their artifact. */
import { useState } from "preact/hooks";
import type { FileRow } from "../../api-types.ts";
import type { TreeFile, TreeFolder } from "../files.ts";
import { formatSize } from "../format.ts";
import { href } from "../router.ts";
import { printable } from "../../../printable.ts";

interface TreeProps {
  readonly name: string;
  readonly folder: string;
  readonly tree: TreeFolder;
  readonly selected: string | undefined;
}

export function FileTree({ name, folder, tree, selected }: TreeProps) {
  return (
    <ul class="tree" data-testid="file-tree">
      <FolderItems name={name} folder={folder} node={tree} selected={selected} />
    </ul>
  );
}

function FolderItems({ name, folder, node, selected }: { name: string; folder: string; node: TreeFolder; selected: string | undefined }) {
  return (
    <>
      {node.folders.map((child) => (
        <FolderItem key={child.path} name={name} folder={folder} node={child} selected={selected} />
      ))}
      {node.files.map((item) => (
        <FileItem key={item.file.path} name={name} folder={folder} item={item} selected={selected} />
      ))}
      {node.unlistable.map(({ name: label, entry }) => (
        <li key={`unlistable:${entry.path}`}>
          <span class="tree-row refused" data-testid="unlistable" title={printable(entry.problem)}>
            <span class="tree-name">{printable(label)}</span>
            <span class="size">cannot be listed</span>
          </span>
          <div class="tree-why">{printable(entry.problem)}</div>
        </li>
      ))}
    </>
  );
}

function FolderItem({ name, folder, node, selected }: { name: string; folder: string; node: TreeFolder; selected: string | undefined }) {
  const [open, setOpen] = useState(true);
  const size = totalSize(node);
  return (
    <li class="tree-folder">
      <button type="button" class="tree-row folder" aria-expanded={open} onClick={() => setOpen(!open)}>
        <span class="caret">{open ? "▾" : "▸"}</span>
        <span class="tree-name">{printable(node.name)}/</span>
        <span class="size">{formatSize(size)}</span>
      </button>
      {open && (
        <ul>
          <FolderItems name={name} folder={folder} node={node} selected={selected} />
        </ul>
      )}
    </li>
  );
}

function FileItem({ name, folder, item, selected }: { name: string; folder: string; item: TreeFile; selected: string | undefined }) {
  return (
    <li>
      <FileLink name={name} folder={folder} file={item.file} label={item.name} selected={selected} />
      {item.backups.length > 0 && (
        <ul class="backup-list">
          {item.backups.map((backup) => (
            <li key={backup.path}>
              <FileLink name={name} folder={folder} file={backup} label={backup.path.slice(backup.path.lastIndexOf("/") + 1)} selected={selected} backup />
            </li>
          ))}
        </ul>
      )}
    </li>
  );
}

function FileLink({ name, folder, file, label, selected, backup = false }: { name: string; folder: string; file: FileRow; label: string; selected: string | undefined; backup?: boolean }) {
  if (file.refused !== undefined) {
    return (
      <span class="tree-row refused" title={`not served: ${file.refused}`}>
        <span class="tree-name">{printable(JSON.stringify(label))}</span>
        <span class="size">refused</span>
      </span>
    );
  }
  return (
    <a class={`tree-row${selected === file.path ? " selected" : ""}${backup ? " backup" : ""}`} href={href.version(name, folder, file.path)} title={printable(file.path)}>
      <span class="tree-name">
        {backup && <span class="badge mini">backup</span>}
        {printable(label)}
      </span>
      <span class="size">{formatSize(file.size)}</span>
    </a>
  );
}

function totalSize(node: TreeFolder): number {
  const files = node.files.reduce((sum, item) => sum + item.file.size + item.backups.reduce((total, backup) => total + backup.size, 0), 0);
  return files + node.folders.reduce((sum, child) => sum + totalSize(child), 0);
}
