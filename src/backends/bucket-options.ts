/** The options every bucket backend (S3, GCS) shares, checked by one rule: the URI parser's for buckets, the key rules for prefixes. */
import { InvalidArgumentError } from "../errors.ts";
import { parseLocation } from "../uri.ts";
import { validateKey } from "./keys.ts";

/** `bucket` and `prefix` (trailing "/" dropped; "" for the whole bucket) of a `scheme` backend named `backend`. */
export function checkBucketAndPrefix(scheme: "s3" | "gs", backend: string, bucket: unknown, prefix: unknown): { bucket: string; prefix: string } {
  if (typeof bucket !== "string" || bucket === "") {
    throw new InvalidArgumentError(`${backend} needs a bucket name, as in { bucket: "my-bucket" }.`);
  }
  const uri = `${scheme}://${bucket}`;
  const location = parseLocation(uri);
  if (location.scheme !== scheme || location.bucket !== bucket || location.prefix !== "") {
    throw new InvalidArgumentError(`"${bucket}" is not a valid ${scheme === "s3" ? "S3" : "GCS"} bucket name.`, { path: uri });
  }
  if (typeof prefix !== "string") throw new InvalidArgumentError(`The prefix for ${uri} must be a string.`);
  const trimmed = prefix.replace(/\/+$/, "");
  if (trimmed === "" && prefix !== "") throw new InvalidArgumentError(`Invalid prefix "${prefix}" for ${uri}.`, { path: prefix });
  return { bucket, prefix: trimmed === "" ? "" : validateKey(trimmed, uri) };
}

/** The trimmed value, or undefined when it is absent or blank. */
export function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}
