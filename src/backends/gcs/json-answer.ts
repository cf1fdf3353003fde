/**
 * Checks that what the SDK read as a JSON API answer was one. The SDK hands on a body it cannot parse as JSON as
 * a string, so an HTML page (a captive portal, a proxy's login page, a web server on the wrong port) would read as
 * an empty listing or an object with no metadata. Such an answer fails with ForeignAnswerError (errors.ts maps it).
 */
import type { File, FileMetadata } from "@google-cloud/storage";
import { ForeignAnswerError } from "../foreign-answer.ts";

/** Throws unless `resource` is a JSON object of the `kind` given (a store may leave `kind` out). */
export function expectResource(resource: unknown, kind: "storage#objects" | "storage#object"): void {
  if (typeof resource === "object" && resource !== null && !Array.isArray(resource)) {
    const found = (resource as { readonly kind?: unknown }).kind;
    if (found === undefined || found === kind) return;
  }
  throw new ForeignAnswerError({ body: typeof resource === "string" ? resource : (JSON.stringify(resource) ?? String(resource)) });
}

/** The object's resource (its metadata), read through the SDK and checked to be one. */
export async function objectResource(file: File): Promise<FileMetadata> {
  const [resource] = await file.getMetadata();
  expectResource(resource, "storage#object");
  return resource;
}
