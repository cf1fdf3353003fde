/** Requests to a viewer as its page makes them: with the cookie that carries its access token. */
import type { Viewer } from "../../src/ui/server.ts";
import { tokenCookieName } from "../../src/ui/security.ts";

/** The cookie a browser holds once it opened the viewer's URL. */
export function tokenCookie(viewer: Pick<Viewer, "port" | "token">): string {
  return `${tokenCookieName(viewer.port)}=${viewer.token}`;
}

/** `fetch` of `path` on the viewer, carrying its token's cookie. */
export function viewerFetch(viewer: Viewer, path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("Cookie", tokenCookie(viewer));
  return fetch(new URL(path, viewer.url), { ...init, headers });
}
