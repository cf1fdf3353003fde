/**
 * The one rule that tells a failure on the way to a store (sockets, name lookups, TLS, as Node and undici raise them)
 * from a file that could not be read (a credentials or token file, a local source). Both carry errno-like codes
 * (ECONNREFUSED, ENOENT), so whoever maps errors must ask here rather than match `E…` codes: a file-system code is
 * never a network one, and a network code never names local disk.
 */
const NETWORK_ERROR_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  /** opencrate's own, for a connection not made within the connect time-out (gcs/socket-timeouts.ts). */
  "ECONNTIMEOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EAI_FAIL",
  "ETIMEDOUT",
  "ESOCKETTIMEDOUT",
  "EPIPE",
  "EPROTO",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
  "ENETRESET",
  "EADDRNOTAVAIL",
  "ERR_SOCKET_CONNECTION_TIMEOUT",
]);

export function isNetworkErrorCode(code: unknown): code is string {
  return typeof code === "string" && (NETWORK_ERROR_CODES.has(code) || code.startsWith("UND_ERR_"));
}

/** A file that could not be read: the errno code and the path of the failure. */
export interface FileFailure {
  readonly code: string;
  readonly path: string;
}

/** The file-system failure in `error` or its causes (Node's fs errors carry the path), or undefined. */
export function fileFailureOf(error: unknown): FileFailure | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    const shape = current as { code?: unknown; path?: unknown; cause?: unknown };
    if (typeof shape.code === "string" && /^E[A-Z0-9]+$/.test(shape.code) && !isNetworkErrorCode(shape.code) && typeof shape.path === "string") {
      return { code: shape.code, path: shape.path };
    }
    current = shape.cause;
  }
  return undefined;
}

/**
 * The host (or address:port) a network failure names, from the error or its causes: Node's `hostname` or `address`
 * and `port`, or the URL of the request it was for (gaxios errors carry `config.url`). Undefined when none does.
 */
export function failingHostOf(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    const shape = current as { hostname?: unknown; address?: unknown; port?: unknown; config?: { url?: unknown }; cause?: unknown };
    if (typeof shape.hostname === "string" && shape.hostname !== "") return shape.hostname;
    if (typeof shape.address === "string" && shape.address !== "") return typeof shape.port === "number" ? `${shape.address}:${shape.port}` : shape.address;
    const url = shape.config?.url;
    if (typeof url === "string" || url instanceof URL) {
      const host = URL.parse(String(url))?.host;
      if (host !== undefined && host !== "") return host;
    }
    current = shape.cause;
  }
  return undefined;
}
