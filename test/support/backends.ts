/**
 * The backends the shared suites (conformance, snapshot, logs, handlers) run over. Memory and local always;
 * the cloud ones when their server is running (see servers.ts).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import type { StorageBackend } from "../../src/backends/backend.ts";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { gcsFactory } from "./gcs.ts";
import { minioFactory, motoFactory } from "./s3.ts";

export interface BackendFactory {
  readonly label: string;
  /** `false` to run; a reason string to skip (servers.ts decides; under CI a missing server throws). */
  readonly skip: false | string;
  /** A fresh, empty backend rooted at a unique prefix. */
  make(): Promise<StorageBackend>;
  /** Deletes what `make` created. */
  cleanup(): Promise<void>;
}

export function memoryFactory(): BackendFactory {
  return {
    label: "memory",
    skip: false,
    make: async () => new MemoryBackend({ name: `test-${randomUUID()}` }),
    cleanup: async () => {},
  };
}

export function localFactory(): BackendFactory {
  const dirs: string[] = [];
  return {
    label: "local",
    skip: false,
    make: async () => {
      const { LocalBackend } = await import("../../src/backends/local/index.ts");
      const dir = await mkdtemp(join(tmpdir(), "opencrate-test-"));
      dirs.push(dir);
      return new LocalBackend({ root: dir });
    },
    cleanup: async () => {
      await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
    },
  };
}

/** Every backend factory for shared suites. Cloud factories are added as their backends land. */
export function allBackendFactories(): BackendFactory[] {
  return [memoryFactory(), localFactory(), minioFactory(), motoFactory(), gcsFactory()];
}
