/**
 * `startViewer`: a read-only web app over one root, on node:http. GET and HEAD only; the page, its bundled assets
 * and the API (api.ts). The root's backend comes from the snapshot layer; nothing here writes to it.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { backendFromUri } from "../backends/registry.ts";
import { InvalidArgumentError } from "../errors.ts";
import { http } from "../node-http.ts";
import { redact } from "../uri.ts";
import { scrub } from "../cli/scrub.ts";
import { handleApi, sendJson, type ApiContext } from "./api.ts";
import { loadAssets, type Assets } from "./assets.ts";
import { Catalog } from "./catalog.ts";
import { listen } from "./listen.ts";
import { AccessGate, commonHeaders, isLoopback, loopbackHosts, newToken, PAGE_POLICY, withoutToken } from "./security.ts";

export interface ViewerOptions {
  /** A root: a local path, file://, s3://, gs:// or memory:// URI. */
  readonly root: string;
  /** Default 127.0.0.1 (where the Host header must name it). Every address requires the access token. */
  readonly host?: string;
  /** Default 0: a free port. */
  readonly port?: number;
  /** The page opens on this name (and version folder). */
  readonly start?: { readonly name: string; readonly folder?: string };
  /** Where the bundled page is (tests build their own). */
  readonly assetsDir?: string;
}

export interface Viewer {
  /** The URL to open; carries the access token. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** The random access token every request needs (in the URL once, then in a cookie). */
  readonly token: string;
  close(): Promise<void>;
}

export async function startViewer(options: ViewerOptions): Promise<Viewer> {
  const host = options.host ?? "127.0.0.1";
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidArgumentError(`Invalid port ${port}: use 0-65535 (0 picks a free one).`);
  }
  const backend = backendFromUri(options.root);
  const assets = await loadAssets(options.assetsDir);
  // One small listing before listening: the store's SDK loads and a connection opens now, so the first page is as
  // quick as the next, and a root that cannot be read fails here with its own error rather than in the page.
  // An entry there that cannot be listed is the names page's to show.
  await backend.listPage("", { pageSize: 1, notUtf8: "skip", onUnlistable: () => undefined });
  const token = newToken();
  const context: ApiContext = { catalog: new Catalog(backend), rootLabel: scrub(redact(options.root)), start: options.start };
  // The gate needs the port (its cookie's name, the Host headers allowed): until it is known, nothing is served.
  let gate: AccessGate | undefined;
  const server = http.createServer((request, response) => {
    if (gate === undefined) {
      response.writeHead(503, { "Content-Type": "text/plain; charset=utf-8" }).end("starting\n");
      return;
    }
    serve(gate, assets, context, request, response).catch(() => response.destroy());
  });
  await listen(server, host, port);
  const bound = (server.address() as AddressInfo).port;
  gate = new AccessGate(isLoopback(host) ? { token, port: bound, allowedHosts: loopbackHosts(host, bound) } : { token, port: bound });
  const shown = host.includes(":") ? `[${host}]` : host;
  const url = `http://${shown}:${bound}/?token=${token}`;
  return {
    url,
    host,
    port: bound,
    token,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function serve(gate: AccessGate, assets: Assets, context: ApiContext, request: IncomingMessage, response: ServerResponse): Promise<void> {
  commonHeaders(response);
  const url = new URL(request.url ?? "/", "http://viewer.invalid");
  const admission = gate.admit(request, url);
  if (!admission.ok) {
    response.writeHead(admission.status, { "Content-Type": "text/plain; charset=utf-8" }).end(`${admission.why}\n`);
    return;
  }
  if (admission.setCookie !== undefined) response.setHeader("Set-Cookie", admission.setCookie);
  if (request.method !== "GET" && request.method !== "HEAD") {
    response.setHeader("Allow", "GET, HEAD");
    sendJson(response, 405, { error: "this viewer is read-only" });
    return;
  }
  // Segments stay %-encoded here; paths.ts decodes each one once.
  const segments = url.pathname.split("/").slice(1);
  if (admission.setCookie !== undefined && segments[0] !== "api" && segments[0] !== "assets") {
    sendTokenRedirect(response, withoutToken(url));
    return;
  }
  if (segments[0] === "api") {
    const apiSegments = segments.slice(1);
    if (apiSegments.at(-1) === "") apiSegments.pop();
    await handleApi(context, apiSegments, url, request, response);
    return;
  }
  if (segments[0] === "assets") {
    const asset = segments.length === 2 ? assets.files.get(segments[1] ?? "") : undefined;
    if (asset === undefined) {
      response.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" }).end("not found\n");
      return;
    }
    response.writeHead(200, { "Content-Type": asset.type, "Content-Length": asset.body.byteLength, "Cache-Control": "no-cache" });
    response.end(request.method === "HEAD" ? undefined : asset.body);
    return;
  }
  response.writeHead(200, {
    "Content-Type": "text/html; charset=utf-8",
    "Content-Security-Policy": PAGE_POLICY,
    "Cache-Control": "no-store",
  });
  response.end(request.method === "HEAD" ? undefined : assets.page);
}

/**
 * The page's address without its token, once the cookie is set. Not an HTTP redirect: a browser that arrived from
 * another site (a link in a chat, an opened file) counts a redirect as part of that cross-site navigation and would
 * not send the SameSite=Strict cookie to it. A refresh is a navigation of the viewer's own page, which sends it.
 */
function sendTokenRedirect(response: ServerResponse, location: string): void {
  const target = escapeAttribute(location);
  response.writeHead(200, { "Content-Type": "text/html; charset=utf-8", "Content-Security-Policy": PAGE_POLICY, "Cache-Control": "no-store" });
  response.end(`<!doctype html><meta http-equiv="refresh" content="0; url=${target}"><title>opencrate</title><a href="${target}">Open the viewer</a>\n`);
}

function escapeAttribute(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
