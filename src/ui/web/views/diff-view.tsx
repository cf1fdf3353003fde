/**
 * Two versions of one file side by side, line by line. JSON and YAML are compared as their values pretty-printed
 * with sorted keys (so key order does not show as a change), CSV by its header, text as it is. How much it diffs,
 * and when it says the files are too large or too different instead, is diff-rows.ts.
 */
import { useEffect, useState } from "preact/hooks";
import type { CsvPreview, TextPreview } from "../../api-types.ts";
import { getJson, previewUrl, rawUrl } from "../api.ts";
import { MAX_EDITS, MAX_LINES, sideBySide, type SideBySide } from "../diff-rows.ts";
import { previewKind } from "../kinds.ts";
import { printable } from "../../../printable.ts";

/** What is compared of one side; `cut`: only the start of a larger file (what the text preview reads). */
interface Side {
  readonly text: string;
  readonly cut: boolean;
}

async function comparable(name: string, folder: string, path: string): Promise<Side> {
  const kind = previewKind(path);
  if (kind === "csv") {
    const csv = await getJson<CsvPreview>(previewUrl("csv", name, folder, path));
    return { text: `${csv.header.join("\n")}\n`, cut: false };
  }
  if (kind === "yaml") {
    const yaml = await getJson<{ value: unknown; truncated: boolean }>(previewUrl("yaml", name, folder, path));
    if (!yaml.truncated) return { text: `${JSON.stringify(sortKeys(yaml.value), null, 2)}\n`, cut: false };
  }
  const text = await getJson<TextPreview>(previewUrl("text", name, folder, path));
  if (kind === "json" && !text.truncated) {
    try {
      return { text: `${JSON.stringify(sortKeys(JSON.parse(text.text)), null, 2)}\n`, cut: false };
    } catch {
      return { text: text.text, cut: false };
    }
  }
  return { text: text.text, cut: text.truncated };
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(Object.keys(value).sort().map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]));
}

export function DiffView({ name, a, b, path }: { name: string; a: string; b: string; path: string }) {
  const [diff, setDiff] = useState<SideBySide | undefined>();
  const [cut, setCut] = useState(false);
  const [error, setError] = useState<string | undefined>();
  useEffect(() => {
    let current = true;
    setDiff(undefined);
    setError(undefined);
    const side = (folder: string): Promise<Side> =>
      comparable(name, folder, path).catch((caught: unknown) => {
        if (caught instanceof Error && "status" in caught && caught.status === 404) return { text: "", cut: false };
        throw caught;
      });
    Promise.all([side(a), side(b)]).then(
      ([before, after]) => {
        if (!current) return;
        setCut(before.cut || after.cut);
        setDiff(sideBySide(before.text, after.text));
      },
      (caught: unknown) => current && setError(caught instanceof Error ? caught.message : String(caught)),
    );
    return () => {
      current = false;
    };
  }, [name, a, b, path]);
  if (error !== undefined) return <div class="error-box">{error}</div>;
  if (diff === undefined) return <div class="muted loading">Loading…</div>;
  if (diff.kind !== "rows") {
    return (
      <div class="empty" data-testid="diff-too-large">
        {diff.kind === "too-large"
          ? `Too large to compare here: ${diff.lines.toLocaleString()} lines, over the ${MAX_LINES.toLocaleString()} this page diffs.`
          : `Too different to compare here: over ${MAX_EDITS.toLocaleString()} lines added or removed.`}{" "}
        Download both to compare them:{" "}
        <a href={rawUrl(name, a, path, true)}>{a}</a>, <a href={rawUrl(name, b, path, true)}>{b}</a>.
      </div>
    );
  }
  const label = previewKind(path) === "csv" ? "CSV header" : printable(path);
  return (
    <div class="diff" data-testid="diff">
      {cut && (
        <div class="muted note" data-testid="diff-cut">
          Only the start of each file is compared: the rest is beyond what this page reads. Download both to compare them whole:{" "}
          <a href={rawUrl(name, a, path, true)}>{a}</a>, <a href={rawUrl(name, b, path, true)}>{b}</a>.
        </div>
      )}
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
          {diff.rows.map((row, index) => (
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
