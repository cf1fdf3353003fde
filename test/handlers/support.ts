/**
 * Runs handler suites over every test backend (memory, local, MinIO, moto, fake-gcs-server) through
 * BackendArtifactStorage. A cloud suite whose server is missing is skipped loudly, or fails under CI=true.
 */
import assert from "node:assert/strict";
import { after, describe } from "node:test";
import type { StorageBackend } from "../../src/backends/backend.ts";
import type { ErrorCode } from "../../src/errors.ts";
import { isOpenCrateError } from "../../src/errors.ts";
import { BackendArtifactStorage } from "../../src/handlers/backend-storage.ts";
import type { ArtifactHandler, ArtifactStorage, HandlerContext } from "../../src/handlers/types.ts";
import { allBackendFactories } from "../support/backends.ts";

export interface HandlerHarness<In, Out, SaveOptions, LoadOptions> {
  readonly backend: () => Promise<StorageBackend>;
  /** Storage and context for an artifact named `name` (its folder is `<type>s/`). */
  at(name: string): Promise<{ storage: ArtifactStorage; context: HandlerContext }>;
  save(name: string, data: In, options?: SaveOptions): Promise<ArtifactStorage>;
  load(name: string, options?: LoadOptions): Promise<Out>;
  /** Writes raw bytes where the artifact lives (to plant corrupt files). */
  plant(name: string, bytes: Uint8Array | string): Promise<ArtifactStorage>;
}

/** `describe` once per backend with a harness for `handler`; each suite gets its own fresh prefix. */
export function describeOverBackends<In, Out, SaveOptions, LoadOptions>(
  title: string,
  handler: ArtifactHandler<In, Out, SaveOptions, LoadOptions>,
  body: (harness: HandlerHarness<In, Out, SaveOptions, LoadOptions>, label: string) => void,
): void {
  for (const factory of allBackendFactories()) {
    describe(`${title} [${factory.label}]`, { skip: factory.skip }, () => {
      let backendPromise: Promise<StorageBackend> | undefined;
      const backend = (): Promise<StorageBackend> => (backendPromise ??= factory.make());
      after(async () => {
        try {
          if (backendPromise !== undefined) await (await backendPromise).close();
        } finally {
          await factory.cleanup();
        }
      });
      const at = async (name: string) => ({
        storage: new BackendArtifactStorage({ backend: await backend(), key: `run/v0/${handler.type}s/${name}` }),
        context: { name, extension: extensionOf(name) },
      });
      body(
        {
          backend,
          at,
          async save(name, data, options) {
            const { storage, context } = await at(name);
            await handler.save(data, storage, options, context);
            return storage;
          },
          async load(name, options) {
            const { storage, context } = await at(name);
            return handler.load(storage, options, context);
          },
          async plant(name, bytes) {
            const { storage } = await at(name);
            await storage.write(bytes);
            return storage;
          },
        },
        factory.label,
      );
    });
  }
}

export function extensionOf(name: string): string {
  const base = name.slice(name.lastIndexOf("/") + 1);
  const dot = base.lastIndexOf(".");
  return dot <= 0 ? "" : base.slice(dot).toLowerCase();
}

/** Asserts the promise rejects with an opencrate error of `code` whose message contains every `parts`. */
export async function rejectsWith(promise: Promise<unknown>, code: ErrorCode, ...parts: string[]): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    assert.ok(isOpenCrateError(error, code), `expected ${code}, got ${String(error)}`);
    for (const part of parts) assert.ok(error.message.includes(part), `message ${JSON.stringify(error.message)} lacks ${JSON.stringify(part)}`);
    return error;
  }
  assert.fail(`expected ${code}, but it resolved`);
}

/** Asserts nothing was stored at the artifact. */
export async function assertNothingStored(storage: ArtifactStorage): Promise<void> {
  assert.equal(await storage.exists(), false, `${storage.path} should not exist`);
}
