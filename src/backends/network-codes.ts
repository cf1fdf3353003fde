/**
 * Error codes of failures on the way to a store (sockets, name lookups, TLS), as Node and undici raise them. They look
 * like file-system errno codes, so whoever maps errors of a transfer to local disk must leave these alone.
 */
const NETWORK_ERROR_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ENOTFOUND",
  "EAI_AGAIN",
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
  "UND_ERR_SOCKET",
  "ERR_SOCKET_CONNECTION_TIMEOUT",
]);

export function isNetworkErrorCode(code: unknown): code is string {
  return typeof code === "string" && NETWORK_ERROR_CODES.has(code);
}
