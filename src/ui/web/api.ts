/** Calls to the viewer's API, and the URLs of stored files. Every name and path segment is %-encoded here. */

export class ApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export async function getJson<T>(path: string): Promise<T> {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  const body: unknown = await response.json().catch(() => ({}));
  if (!response.ok) {
    const message = typeof body === "object" && body !== null && "error" in body ? String((body as { error: unknown }).error) : response.statusText;
    throw new ApiError(response.status, message);
  }
  return body as T;
}

export function encodePath(path: string): string {
  return path.split("/").map(encodeURIComponent).join("/");
}

export function versionApi(name: string, folder: string): string {
  return `/api/names/${encodeURIComponent(name)}/${encodeURIComponent(folder)}`;
}

export function rawUrl(name: string, folder: string, path: string, download = false): string {
  return `${versionApi(name, folder)}/raw/${encodePath(path)}${download ? "?download=1" : ""}`;
}

export function previewUrl(kind: "text" | "yaml" | "csv" | "safetensors", name: string, folder: string, path: string): string {
  return `${versionApi(name, folder)}/preview/${kind}/${encodePath(path)}`;
}

export function tailUrl(name: string, folder: string, path: string, from: number): string {
  return `${versionApi(name, folder)}/tail/${encodePath(path)}?from=${from}`;
}
