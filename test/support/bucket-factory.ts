/** A BackendFactory on a test server's bucket: each `make()` is a fresh prefix `t-<uuid>`, `cleanup()` empties them. */
import { randomUUID } from "node:crypto";
import type { StorageBackend } from "../../src/backends/backend.ts";
import type { BackendFactory } from "./backends.ts";

export interface BucketFactoryOptions {
  readonly label: string;
  /** From skipUnless: false when the server runs. */
  readonly skip: false | string;
  /** Creates the bucket if needed; run once, before the first backend. */
  readonly prepareBucket: () => Promise<void>;
  /** A backend on the bucket, under `prefix` ("" for the whole bucket). */
  readonly open: (prefix: string) => StorageBackend;
}

export function bucketFactory(options: BucketFactoryOptions): BackendFactory {
  const prefixes: string[] = [];
  let bucketReady: Promise<void> | undefined;
  return {
    label: options.label,
    skip: options.skip,
    make: async () => {
      if (options.skip !== false) throw new Error(`${options.label}: no server (the suite should have been skipped)`);
      bucketReady ??= options.prepareBucket();
      await bucketReady;
      const prefix = `t-${randomUUID()}`;
      prefixes.push(prefix);
      return options.open(prefix);
    },
    cleanup: async () => {
      if (options.skip !== false) return;
      const cleaner = options.open("");
      try {
        await deleteUnder(cleaner, prefixes.splice(0));
      } finally {
        await cleaner.close();
      }
    },
  };
}

/** Deletes every object under each `<prefix>/` (the prefixes a test made on a shared bucket). */
export async function deleteUnder(backend: StorageBackend, prefixes: readonly string[]): Promise<void> {
  for (const prefix of prefixes) {
    const keys: string[] = [];
    for await (const info of backend.list(`${prefix}/`)) keys.push(info.key);
    await backend.deleteMany(keys);
  }
}
