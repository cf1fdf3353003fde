/**
 * Who may talk to the viewer, and what the browser may do with its pages.
 *
 * Every request needs the viewer's random access token, on loopback too: every user of the machine can connect to
 * 127.0.0.1, and the viewer reads with its owner's rights and credentials. The token comes in the URL once
 * (`?token=…`), after which an HttpOnly, SameSite=Strict cookie carries it. Browsers share cookies between the ports
 * of one host, so the cookie is named after the viewer's port: two viewers on one machine each keep their own. On a
 * loopback address the Host header must also name that address (a DNS-rebinding page cannot reach the API).
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";

/** The name of the cookie that carries the token of the viewer listening on `port`. */
export function tokenCookieName(port: number): string {
  return `opencrate_ui_token_${port}`;
}

/**
 * The Host headers a loopback viewer on `host`:`port` answers to: each loopback name with the port, and without
 * it on port 80, which browsers leave out of the Host header.
 */
export function loopbackHosts(host: string, port: number): string[] {
  const names = [host.includes(":") ? `[${host}]` : host, "localhost", "127.0.0.1", "[::1]"];
  const unique = [...new Set(names.map((name) => name.toLowerCase()))];
  return [...unique.map((name) => `${name}:${port}`), ...(port === 80 ? unique : [])];
}

/** The page's policy: its own scripts, styles, images and media only; no inline code, no other origin. */
export const PAGE_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "media-src 'self'",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** Stored files are served inside a sandbox: an HTML or SVG file opened directly runs nothing. */
export const FILE_POLICY = "sandbox; default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'unsafe-inline'";

export function commonHeaders(response: ServerResponse): void {
  response.setHeader("X-Content-Type-Options", "nosniff");
  response.setHeader("Referrer-Policy", "no-referrer");
  response.setHeader("Cross-Origin-Opener-Policy", "same-origin");
  response.setHeader("Cross-Origin-Resource-Policy", "same-origin");
  response.setHeader("X-Frame-Options", "DENY");
}

export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export function newToken(): string {
  return randomBytes(24).toString("base64url");
}

/**
 * `setCookie`: the request carried the token in its URL, and the cookie is to be set; a page address is then
 * answered with a redirect to itself without it, so the token does not stay in the address bar and the history.
 */
export type Admission =
  | { readonly ok: true; readonly setCookie?: string }
  | { readonly ok: false; readonly status: number; readonly why: string };

export class AccessGate {
  readonly #token: string;
  readonly #allowedHosts: ReadonlySet<string> | undefined;
  readonly #cookie: string;

  /**
   * `port` is the one the viewer listens on, which names its cookie. `allowedHosts`, on a loopback address: the
   * Host headers accepted (see loopbackHosts); absent, any.
   */
  constructor(options: { token: string; port: number; allowedHosts?: readonly string[] }) {
    this.#token = options.token;
    this.#cookie = tokenCookieName(options.port);
    this.#allowedHosts = options.allowedHosts === undefined ? undefined : new Set(options.allowedHosts.map((host) => host.toLowerCase()));
  }

  admit(request: IncomingMessage, url: URL): Admission {
    const host = (request.headers.host ?? "").toLowerCase();
    if (this.#allowedHosts !== undefined && !this.#allowedHosts.has(host)) {
      return { ok: false, status: 421, why: `this viewer answers only to ${[...this.#allowedHosts].join(", ")}` };
    }
    const fromUrl = url.searchParams.get("token");
    if (fromUrl !== null && sameSecret(fromUrl, this.#token)) {
      return { ok: true, setCookie: `${this.#cookie}=${this.#token}; HttpOnly; SameSite=Strict; Path=/` };
    }
    const fromCookie = cookieValue(request.headers.cookie, this.#cookie);
    if (fromCookie !== undefined && sameSecret(fromCookie, this.#token)) return { ok: true };
    return { ok: false, status: 403, why: "this viewer needs its access token: open the URL it printed when it started" };
  }
}

/**
 * `url` (a path and query) without its `token` parameter. One leading slash: a path such as `/.//other.example/`
 * comes out of URL parsing as `//other.example/`, which a browser would read as another site.
 */
export function withoutToken(url: URL): string {
  const query = new URLSearchParams(url.search);
  query.delete("token");
  const rest = query.toString();
  return `/${url.pathname.replace(/^\/+/, "")}${rest === "" ? "" : `?${rest}`}`;
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const [key, ...value] = part.trim().split("=");
    if (key === name) return value.join("=");
  }
  return undefined;
}
