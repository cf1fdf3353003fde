/**
 * A JSON value as a foldable tree (objects and arrays open two levels deep). An open level draws its first children
 * only, and more at each click, so a long array (predictions, embeddings) does not draw hundreds of thousands of rows.
 */
import { useState } from "preact/hooks";
import { shownChildren } from "../json-children.ts";

const OPEN_DEPTH = 2;

export function JsonTree({ value }: { value: unknown }) {
  return (
    <div class="json-tree" data-testid="json-tree">
      <Node value={value} depth={0} label={undefined} />
    </div>
  );
}

function Node({ value, depth, label }: { value: unknown; depth: number; label: string | undefined }) {
  const [open, setOpen] = useState(depth < OPEN_DEPTH);
  const [limit, setLimit] = useState<number | undefined>(undefined);
  const key = label === undefined ? null : <span class="key">{label}: </span>;
  if (value === null || typeof value !== "object") {
    return (
      <div class="json-row">
        {key}
        <Scalar value={value} />
      </div>
    );
  }
  const isArray = Array.isArray(value);
  const [start, end] = isArray ? ["[", "]"] : ["{", "}"];
  const children = open ? shownChildren(value, limit) : undefined;
  const count = children?.total ?? (isArray ? value.length : Object.keys(value).length);
  const summary = `${count.toLocaleString()} ${isArray ? "item" : "key"}${count === 1 ? "" : "s"}`;
  return (
    <div class="json-node">
      <button type="button" class="fold" aria-expanded={open} onClick={() => setOpen(!open)}>
        <span class="caret">{open ? "▾" : "▸"}</span>
        {key}
        {start}
        {!open && <span class="muted"> {summary} </span>}
        {!open && end}
      </button>
      {children !== undefined && (
        <div class="json-children">
          {children.entries.map(([childKey, child]) => (
            <Node key={childKey} value={child} depth={depth + 1} label={childKey} />
          ))}
          {children.next !== undefined && (
            <button type="button" class="more" data-testid="json-more" onClick={() => setLimit(children.next)}>
              … {(children.total - children.entries.length).toLocaleString()} more: show {(children.next - children.entries.length).toLocaleString()} more
            </button>
          )}
        </div>
      )}
      {open && <div class="json-row">{end}</div>}
    </div>
  );
}

function Scalar({ value }: { value: unknown }) {
  if (typeof value === "string") return <span class="string">"{value}"</span>;
  if (typeof value === "number") return <span class="number">{String(value)}</span>;
  if (typeof value === "boolean") return <span class="boolean">{String(value)}</span>;
  return <span class="null">null</span>;
}
