/**
 * The viewer's read-only API: every route reads, none writes or deletes. Paths are checked by paths.ts before
 * any store call; answers carry no credentials (errors go through scrub()).
 *
 *   /api/info                                         the root and where to start
 *   /api/names                                        snapshot names, version counts, latest runs
 *   /api/names/<name>[?sizes=0]                       versions of a name (sizes=0: without sizes, no folder listed)
 *   /api/names/<name>/<folder>/files                  files of a version, and the entries it cannot list
 *   /api/names/<name>/<folder>/raw/<path>             the bytes (Range requests passed to the store)
 *   /api/names/<name>/<folder>/preview/<kind>/<path>  text | yaml | csv | safetensors
 *   /api/names/<name>/<folder>/tail/<path>?from=N     log lines written since byte N
 *   /api/compare/<name>/<folder-a>/<folder-b>         files added, removed, changed
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { isOpenCrateError } from "../errors.ts";
import { scrub } from "../cli/scrub.ts";
import { parseRange } from "./byte-ranges.ts";
import type { Catalog } from "./catalog.ts";
import { compareVersions } from "./compare.ts";
import { contentTypeOf } from "./content-types.ts";
import { BadPath, fileAddress, snapshotName, versionAddress, type FileAddress } from "./paths.ts";
import { changedTwice, isRevisionChange } from "./pinned-read.ts";
import { csvPreview, PreviewProblem, safetensorsPreview, tail, textPreview, yamlPreview } from "./previews.ts";
import { FILE_POLICY } from "./security.ts";

export interface ApiContext {
  readonly catalog: Catalog;
  /** The root as shown to the user (credentials removed). */
  readonly rootLabel: string;
  readonly start: { readonly name: string; readonly folder?: string } | undefined;
}

const PREVIEWS = {
  text: textPreview,
  yaml: yamlPreview,
  csv: csvPreview,
  safetensors: safetensorsPreview,
} as const;

export async function handleApi(context: ApiContext, segments: readonly string[], url: URL, request: IncomingMessage, response: ServerResponse): Promise<void> {
  try {
    await route(context, segments, url, request, response);
  } catch (error) {
    if (response.headersSent) {
      response.destroy();
      return;
    }
    const [status, message] = failure(error);
    sendJson(response, status, { error: scrub(message) });
  }
}

async function route(context: ApiContext, segments: readonly string[], url: URL, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const { catalog } = context;
  const [area, name, folder, action, ...rest] = segments;
  if (area === "info" && segments.length === 1) {
    return sendJson(response, 200, { root: context.rootLabel, readOnly: true, start: context.start ?? null });
  }
  if (area === "names" && segments.length === 1) return sendJson(response, 200, await catalog.names());
  if (area === "names" && segments.length === 2) {
    const checked = snapshotName(name);
    const versions = url.searchParams.get("sizes") === "0" ? await catalog.versionRuns(checked) : await catalog.versions(checked);
    return sendJson(response, 200, { name: checked, versions });
  }
  if (area === "names" && segments.length === 4 && action === "files") {
    const version = versionAddress(name, folder);
    return sendJson(response, 200, { ...version, ...(await catalog.shownFiles(version.name, version.folder)) });
  }
  if (area === "names" && action === "raw" && rest.length > 0) {
    return sendFile(catalog, fileAddress(name, folder, rest), url, request, response);
  }
  if (area === "names" && action === "preview" && rest.length > 1) {
    const [kind = "", ...path] = rest;
    if (!(kind in PREVIEWS)) throw new BadPath(`no preview of kind "${kind}"`);
    const file = fileAddress(name, folder, path);
    return sendJson(response, 200, await PREVIEWS[kind as keyof typeof PREVIEWS](catalog.backend, file.key));
  }
  if (area === "names" && action === "tail" && rest.length > 0) {
    const file = fileAddress(name, folder, rest);
    const from = Number(url.searchParams.get("from") ?? "0");
    if (!Number.isSafeInteger(from) || from < 0) throw new BadPath("from= must be a byte offset");
    return sendJson(response, 200, await tail(catalog.backend, file.key, from));
  }
  if (area === "compare" && segments.length === 4) {
    const a = versionAddress(name, folder);
    const b = versionAddress(name, action);
    // The reads stop when the browser goes away (another page, a closed tab): nobody waits for their answer.
    const abort = new AbortController();
    response.once("close", () => abort.abort());
    return sendJson(response, 200, await compareVersions(catalog, a.name, a.folder, b.folder, { signal: abort.signal }));
  }
  sendJson(response, 404, { error: "no such route" });
}

/**
 * The file's bytes, whole or the one range asked for, streamed from the store. The stream is pinned to the revision
 * whose size the headers give, so a save landing in between never sends the new file's bytes under the old one's
 * Content-Length or Content-Range: the answer is then worked out again from the new save (once).
 */
async function sendFile(catalog: Catalog, file: FileAddress, url: URL, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const abort = new AbortController();
  response.once("close", () => abort.abort());
  for (let attempt = 1; ; attempt++) {
    const { size, revision } = await catalog.backend.head(file.key);
    const range = parseRange(request.headers.range, size);
    response.setHeader("Content-Security-Policy", FILE_POLICY);
    response.setHeader("Accept-Ranges", "bytes");
    response.setHeader("Cache-Control", "no-cache");
    const fileName = file.path.slice(file.path.lastIndexOf("/") + 1);
    const disposition = url.searchParams.get("download") === "1" ? "attachment" : "inline";
    response.setHeader("Content-Disposition", `${disposition}; filename*=UTF-8''${encodeURIComponent(fileName)}`);
    if (range.kind === "unsatisfiable") {
      response.writeHead(416, { "Content-Range": `bytes */${size}` }).end();
      return;
    }
    const part = range.kind === "part" ? range : { offset: 0, length: size };
    const headers: Record<string, string> = { "Content-Type": contentTypeOf(file.path), "Content-Length": String(part.length) };
    if (range.kind === "part") headers["Content-Range"] = `bytes ${part.offset}-${part.offset + part.length - 1}/${size}`;
    if (request.method === "HEAD" || part.length === 0) {
      response.writeHead(range.kind === "part" ? 206 : 200, headers).end();
      return;
    }
    let body: Readable;
    try {
      body = await catalog.backend.getStream(file.key, {
        range: { offset: part.offset, length: part.length },
        ifRevision: revision,
        signal: abort.signal,
      });
    } catch (error) {
      if (!isRevisionChange(error)) throw error;
      if (attempt >= 2) throw changedTwice(catalog.backend, file.key, error);
      continue;
    }
    response.writeHead(range.kind === "part" ? 206 : 200, headers);
    await pipeline(body, response).catch(() => {
      // The browser stopped reading (a media element seeking away): nothing to report.
    });
    return;
  }
}

function failure(error: unknown): [number, string] {
  if (error instanceof BadPath) return [400, `refused: ${error.message}`];
  if (error instanceof PreviewProblem) return [422, error.message];
  if (isOpenCrateError(error)) {
    switch (error.code) {
      case "NOT_FOUND":
      case "VERSION_NOT_FOUND":
        return [404, error.message];
      case "INVALID_ARGUMENT":
        return [400, error.message];
      case "PERMISSION_DENIED":
        return [403, error.message];
      case "TRANSIENT":
        return [503, error.message];
      default:
        return [502, error.message];
    }
  }
  return [500, error instanceof Error ? error.message : String(error)];
}

export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store" });
  response.end(text);
}
