/**
 * Two versions of one file side by side, line by line. JSON and YAML are compared as their values pretty-printed
 * with sorted keys (so key order does not show as a change), CSV by its header, text as it is.
 */
import { diffLines } from "diff";
import { useEffect, useState } from "preact/hooks";
import type { CsvPreview, TextPreview } from "../../api-types.ts";
import { getJson, previewUrl } from "../api.ts";
import { previewKind } from "../kinds.ts";

interface Row {
  readonly left: string | null;
  readonly right: string | null;
  readonly kind: "same" | "removed" | "added" | "changed";
}

async function comparable(name: string, folder: string, path: string): Promise<string> {
  const kind = previewKind(path);
  if (kind === "csv") {
    const csv = await getJson<CsvPreview>(previewUrl("csv", name, folder, path));
    return `${csv.header.join("\n")}\n`;
  }
  if (kind === "yaml") {
    const yaml = await getJson<{ value: unknown; truncated: boolean }>(previewUrl("yaml", name, folder, path));
    if (!yaml.truncated) return `${JSON.stringify(sortKeys(yaml.value), null, 2)}\n`;
  }
  const text = await getJson<TextPreview>(previewUrl("text", name, folder, path));
  if (kind === "json" && !text.truncated) {
    try {
      return `${JSON.stringify(sortKeys(JSON.parse(text.text)), null, 2)}\n`;
    } catch {
      return text.text;
    }
  }
  return text.text;
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(Object.keys(value).sort().map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]));
}

/** Pairs removed and added runs of lines into rows for two columns. */
function sideBySide(before: string, after: string): Row[] {
  const rows: Row[] = [];
  const parts = diffLines(before, after);
  const lines = (text: string): string[] => text.replace(/\n$/, "").split("\n");
  for (let index = 0; index < parts.length; index++) {
    const part = parts[index];
    if (part === undefined) continue;
    if (!part.added && !part.removed) {
      for (const line of lines(part.value)) rows.push({ left: line, right: line, kind: "same" });
      continue;
    }
    const next = parts[index + 1];
    if (part.removed && next?.added === true) {
      const left = lines(part.value);
      const right = lines(next.value);
      for (let line = 0; line < Math.max(left.length, right.length); line++) {
        rows.push({ left: left[line] ?? null, right: right[line] ?? null, kind: "changed" });
      }
      index++;
      continue;
    }
    for (const line of lines(part.value)) rows.push(part.added ? { left: null, right: line, kind: "added" } : { left: line, right: null, kind: "removed" });
  }
  return rows;
}

export function DiffView({ name, a, b, path }: { name: string; a: string; b: string; path: string }) {
  const [rows, setRows] = useState<Row[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  useEffect(() => {
    let current = true;
    setRows(undefined);
    setError(undefined);
    const side = (folder: string): Promise<string> =>
      comparable(name, folder, path).catch((caught: unknown) => {
        if (caught instanceof Error && "status" in caught && caught.status === 404) return "";
        throw caught;
      });
    Promise.all([side(a), side(b)]).then(
      ([before, after]) => current && setRows(sideBySide(before, after)),
      (caught: unknown) => current && setError(caught instanceof Error ? caught.message : String(caught)),
    );
    return () => {
      current = false;
    };
  }, [name, a, b, path]);
  if (error !== undefined) return <div class="error-box">{error}</div>;
  if (rows === undefined) return <div class="muted loading">Loading…</div>;
  const label = previewKind(path) === "csv" ? "CSV header" : path;
  return (
    <div class="diff" data-testid="diff">
      <div class="diff-head">
        <div>
          {a} · {label}
        </div>
        <div>
          {b} · {label}
        </div>
      </div>
      <table class="diff-table">
        <tbody>
          {rows.map((row, index) => (
            <tr key={index} class={`diff-${row.kind}`}>
              <td class={`side left${row.left === null ? " blank" : ""}`}>{row.left ?? ""}</td>
              <td class={`side right${row.right === null ? " blank" : ""}`}>{row.right ?? ""}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
