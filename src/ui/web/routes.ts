/**
 * Hash routes: the page never asks the server for anything but the API and its own assets. Plain functions, no
 * Preact (the tests read them under Node); router.ts adds the hook.
 */

export type Route =
  | { readonly page: "names" }
  | { readonly page: "versions"; readonly name: string }
  | { readonly page: "version"; readonly name: string; readonly folder: string; readonly path: string | undefined }
  | { readonly page: "compare"; readonly name: string; readonly a: string; readonly b: string; readonly path: string | undefined };

/** A hash segment decoded; one with a malformed %-escape is taken as it is rather than failing the page. */
function decodePart(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, "").split("/").filter((part) => part !== "").map(decodePart);
  const [kind, name, first, second, ...rest] = parts;
  if (kind === "n" && name !== undefined && first === undefined) return { page: "versions", name };
  if (kind === "n" && name !== undefined && first !== undefined) {
    const path = second === "f" && rest.length > 0 ? rest.join("/") : undefined;
    return { page: "version", name, folder: first, path };
  }
  if (kind === "c" && name !== undefined && first !== undefined && second !== undefined) {
    const [marker, ...path] = rest;
    return { page: "compare", name, a: first, b: second, path: marker === "f" && path.length > 0 ? path.join("/") : undefined };
  }
  return { page: "names" };
}

const enc = (part: string): string => encodeURIComponent(part);
const encPath = (path: string): string => path.split("/").map(enc).join("/");

export const href = {
  names: (): string => "#/",
  versions: (name: string): string => `#/n/${enc(name)}`,
  version: (name: string, folder: string, path?: string): string =>
    `#/n/${enc(name)}/${enc(folder)}${path === undefined ? "" : `/f/${encPath(path)}`}`,
  compare: (name: string, a: string, b: string, path?: string): string =>
    `#/c/${enc(name)}/${enc(a)}/${enc(b)}${path === undefined ? "" : `/f/${encPath(path)}`}`,
};

