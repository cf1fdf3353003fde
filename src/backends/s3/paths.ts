/** Maps backend keys to S3 object keys under the backend's prefix, and back. */
import { InvalidArgumentError } from "../../errors.ts";
import { MAX_KEY_BYTES } from "../keys.ts";

export class S3Paths {
  readonly bucket: string;
  /** "" or "a/b". */
  readonly prefix: string;
  /** "" or "a/b/": what every object key of this backend starts with. */
  readonly #root: string;

  constructor(bucket: string, prefix: string) {
    this.bucket = bucket;
    this.prefix = prefix;
    this.#root = prefix === "" ? "" : `${prefix}/`;
  }

  /** `s3://bucket/prefix/key`; the root itself for "". */
  describe(key: string): string {
    const full = key === "" ? this.prefix : this.#root + key;
    return full === "" ? `s3://${this.bucket}` : `s3://${this.bucket}/${full}`;
  }

  /** The S3 key for a (checked) backend key. InvalidArgumentError, before any I/O, for one that is too long once
   * the prefix is added (S3 allows 1024 UTF-8 bytes). */
  objectKey(key: string): string {
    return this.#checkLength(this.#root + key, key);
  }

  /** The S3 key prefix for a listing prefix (a plain string prefix, possibly ending in "/"). */
  listPrefix(prefix: string): string {
    return this.#checkLength(this.#root + prefix, prefix);
  }

  /** The backend key for an S3 key from a listing, or undefined for the keys this backend cannot name (outside
   * the prefix, or the prefix itself). Folder markers are left out by the listings (isFolderMarker). */
  relativeKey(objectKey: string): string | undefined {
    if (!objectKey.startsWith(this.#root)) return undefined;
    const key = objectKey.slice(this.#root.length);
    return key === "" ? undefined : key;
  }

  /** The backend-relative form of a CommonPrefix ("a/b/" under the root). */
  relativePrefix(objectPrefix: string): string | undefined {
    if (!objectPrefix.startsWith(this.#root)) return undefined;
    const prefix = objectPrefix.slice(this.#root.length);
    return prefix === "" ? undefined : prefix;
  }

  #checkLength(objectKey: string, key: string): string {
    const bytes = Buffer.byteLength(objectKey, "utf8");
    if (bytes > MAX_KEY_BYTES) {
      throw new InvalidArgumentError(
        `Invalid storage key ${JSON.stringify(key.length > 80 ? `${key.slice(0, 80)}…` : key)} under ${this.describe("")}: with the prefix it is ${bytes} UTF-8 bytes, and S3 allows at most ${MAX_KEY_BYTES}.`,
        { path: this.describe("") },
      );
    }
    return objectKey;
  }
}
