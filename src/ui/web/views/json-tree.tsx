/** A JSON value as a foldable tree (objects and arrays open two levels deep). */
import { useState } from "preact/hooks";

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
  const key = label === undefined ? null : <span class="key">{label}: </span>;
  if (value === null || typeof value !== "object") {
    return (
      <div class="json-row">
        {key}
        <Scalar value={value} />
      </div>
    );
  }
  const entries: [string, unknown][] = Array.isArray(value) ? value.map((item, index) => [String(index), item]) : Object.entries(value);
  const [start, end] = Array.isArray(value) ? ["[", "]"] : ["{", "}"];
  const summary = `${entries.length} ${Array.isArray(value) ? "item" : "key"}${entries.length === 1 ? "" : "s"}`;
  return (
    <div class="json-node">
      <button type="button" class="fold" aria-expanded={open} onClick={() => setOpen(!open)}>
        <span class="caret">{open ? "▾" : "▸"}</span>
        {key}
        {start}
        {!open && <span class="muted"> {summary} </span>}
        {!open && end}
      </button>
      {open && (
        <div class="json-children">
          {entries.map(([childKey, child]) => (
            <Node key={childKey} value={child} depth={depth + 1} label={childKey} />
          ))}
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
