/**
 * GCS test backends on fake-gcs-server: each `make()` is a GcsBackend on the test bucket under a fresh prefix
 * `t-<uuid>`, and `cleanup()` deletes everything under the prefixes it made.
 */
import { GcsBackend } from "../../src/backends/gcs/index.ts";
import type { GcsBackendOptions } from "../../src/backends/gcs/index.ts";
import type { BackendFactory } from "./backends.ts";
import { bucketFactory } from "./bucket-factory.ts";
import { gcsEnv, skipUnless, type GcsServerEnv } from "./servers.ts";

export function gcsFactory(): BackendFactory {
  const server = gcsEnv();
  const running = (): GcsServerEnv => {
    if (server === undefined) throw new Error("gcs: no server (the suite should have been skipped)");
    return server;
  };
  return bucketFactory({
    label: "gcs (fake-gcs-server)",
    skip: skipUnless(server, "fake-gcs-server", "TEST_GCS_ENDPOINT"),
    prepareBucket: () => ensureGcsBucket(running()),
    open: (prefix) => new GcsBackend(gcsOptions(running(), prefix === "" ? {} : { prefix })),
  });
}

/**
 * fake-gcs-server answers each resumable chunk only after hashing everything the session holds (MD5 and CRC32C of
 * the whole body so far), so on a busy machine the chunks of a large upload can take longer to answer than the
 * default idle time-out; the tests give it this one (the stall tests set their own).
 */
export const EMULATOR_REQUEST_TIMEOUT_MS = 30_000;

/** Options for a GcsBackend on `server`'s test bucket (explicit, so STORAGE_EMULATOR_HOST does not leak in). */
export function gcsOptions(server: GcsServerEnv, extra: Partial<GcsBackendOptions> = {}): GcsBackendOptions {
  return {
    bucket: server.bucket,
    apiEndpoint: server.endpoint,
    projectId: server.projectId,
    requestTimeoutMs: EMULATOR_REQUEST_TIMEOUT_MS,
    ...extra,
  };
}

/** Creates the test bucket unless it exists (the server scripts usually have). */
export async function ensureGcsBucket(server: GcsServerEnv, bucket: string = server.bucket): Promise<void> {
  const url = `${server.endpoint}/storage/v1/b?project=${encodeURIComponent(server.projectId)}`;
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: bucket }),
    signal: AbortSignal.timeout(10_000),
  });
  if (response.ok || response.status === 409) return;
  throw new Error(`could not create bucket ${bucket} at ${server.endpoint}: ${response.status} ${await response.text()}`);
}

/** An object's raw bytes straight from the emulator's JSON API (no SDK, no backend), or undefined when absent. */
export async function rawObject(server: GcsServerEnv, name: string): Promise<Buffer | undefined> {
  const url = `${server.endpoint}/storage/v1/b/${server.bucket}/o/${encodeURIComponent(name)}?alt=media`;
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  if (response.status === 404) return undefined;
  if (!response.ok) throw new Error(`GET ${url}: ${response.status} ${await response.text()}`);
  return Buffer.from(await response.arrayBuffer());
}

/** Writes an object straight through the emulator's JSON API, under any name (as another tool or a console would). */
export async function rawPut(server: GcsServerEnv, name: string, body: string): Promise<void> {
  const url = `${server.endpoint}/upload/storage/v1/b/${server.bucket}/o?uploadType=media&name=${encodeURIComponent(name)}`;
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/octet-stream" }, body, signal: AbortSignal.timeout(10_000) });
  if (!response.ok) throw new Error(`POST ${url}: ${response.status} ${await response.text()}`);
}

/** Deletes an object straight through the emulator's JSON API; a missing one is no error. */
export async function rawDelete(server: GcsServerEnv, name: string): Promise<void> {
  const url = `${server.endpoint}/storage/v1/b/${server.bucket}/o/${encodeURIComponent(name)}`;
  const response = await fetch(url, { method: "DELETE", signal: AbortSignal.timeout(10_000) });
  if (!response.ok && response.status !== 404) throw new Error(`DELETE ${url}: ${response.status} ${await response.text()}`);
}
