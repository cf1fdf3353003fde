/**
 * The credentials and interceptors of a request this backend sends itself over node:http (media reads, one-request
 * uploads): the request is shaped the SDK's way, so a client's own interceptors and its authentication apply.
 */
import type { File } from "@google-cloud/storage";

/** The URL and headers after the SDK's interceptors and its authenticated request path. */
export function authorize(
  file: File,
  method: string,
  url: string,
  headers: Record<string, string>,
): Promise<{ url: string; headers: Record<string, string> }> {
  type Options = Parameters<File["storage"]["makeAuthenticatedRequest"]>[0];
  // The order the SDK applies them in (Service.request_): the client's, then the file's, then the bucket's.
  const interceptors = [
    ...(file.storage.getRequestInterceptors() as Array<(options: Options) => Options>),
    ...[...file.interceptors, ...file.bucket.interceptors].map((interceptor) => interceptor.request.bind(interceptor)),
  ];
  let options: Options = { method, uri: url, headers };
  for (const intercept of interceptors) options = intercept(options);
  return new Promise((resolve, reject) => {
    file.storage.makeAuthenticatedRequest(options, {
      onAuthenticated: (error, authorized) => {
        if (error !== null) reject(error);
        else resolve({ url: authorized?.uri ?? options.uri, headers: plainHeaders(authorized?.headers ?? options.headers) });
      },
    });
  });
}

/** Headers as a plain record: google-auth-library hands back a `Headers`, interceptors may hand back objects. */
function plainHeaders(headers: unknown): Record<string, string> {
  if (headers instanceof Headers) return Object.fromEntries(headers.entries());
  const plain: Record<string, string> = {};
  if (typeof headers !== "object" || headers === null) return plain;
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && value !== null) plain[name.toLowerCase()] = String(value);
  }
  return plain;
}
