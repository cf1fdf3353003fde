/**
 * The one `Range: bytes=…` header parser of the viewer (a single range; multipart ranges are served whole). A range
 * that cannot be read as one (`bytes=5-2`, last before first) is ignored, as HTTP says: the whole file is sent.
 */
export type RangeRequest =
  | { readonly kind: "whole" }
  | { readonly kind: "part"; readonly offset: number; readonly length: number }
  | { readonly kind: "unsatisfiable" };

export function parseRange(header: string | undefined, size: number): RangeRequest {
  if (header === undefined) return { kind: "whole" };
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (match === null || (match[1] === "" && match[2] === "")) return { kind: "whole" };
  if (match[1] === "") {
    const suffix = Math.min(Number(match[2]), size);
    return suffix === 0 ? { kind: "unsatisfiable" } : { kind: "part", offset: size - suffix, length: suffix };
  }
  const first = Number(match[1]);
  if (match[2] !== "" && Number(match[2]) < first) return { kind: "whole" };
  const last = match[2] === "" ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (first >= size) return { kind: "unsatisfiable" };
  return { kind: "part", offset: first, length: last - first + 1 };
}
