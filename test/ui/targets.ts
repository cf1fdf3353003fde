/**
 * Where the viewer tests run: a local folder, MinIO (s3://) and fake-gcs-server (gs://), each seeded with the
 * guide's snapshots (examples/snapshot-guide.ts) under a fresh root, with raw writes for keys the backends refuse.
 */
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { rawClient } from "../support/s3.ts";
import { gcsEnv, minioEnv, skipUnless, type GcsServerEnv, type S3ServerEnv } from "../support/servers.ts";

const run = promisify(execFile);
const guide = fileURLToPath(new URL("../../examples/snapshot-guide.ts", import.meta.url));
const useSources = fileURLToPath(new URL("../../scripts/use-sources.ts", import.meta.url));

export interface UiTarget {
  readonly label: string;
  readonly skip: false | string;
  /** Variables the store's SDK needs (set in this process for the viewer, passed to the guide). */
  readonly env: Readonly<Record<string, string>>;
  /** Makes a fresh root; returns its URI or path. */
  prepare(): Promise<string>;
  /** Writes `body` at `<root>/<key>`, past the backends' key checks. */
  putRaw(key: string, body: string): Promise<void>;
  /** Keys (under a version folder) this store can hold and the viewer must refuse. */
  readonly craftedKeys: readonly string[];
  cleanup(): Promise<void>;
}

/** Runs the guide on `root`: two versions of `snapshot_guide` with every artifact type, backups and a history. */
export async function seedGuide(root: string, env: Readonly<Record<string, string>>, cwd: string = tmpdir()): Promise<void> {
  await run(process.execPath, ["--import", useSources, guide, "--root", root], {
    cwd,
    env: { ...process.env, NO_COLOR: "1", OPENCRATE_ROOT: "", ...env },
    timeout: 240_000,
    maxBuffer: 32 * 1024 * 1024,
  });
}

export function localTarget(): UiTarget {
  let dir: string | undefined;
  return {
    label: "local disk",
    skip: false,
    env: {},
    async prepare() {
      dir = await mkdtemp(join(tmpdir(), "opencrate-ui-"));
      return join(dir, "snapshots");
    },
    async putRaw(key, body) {
      if (dir === undefined) throw new Error("prepare() first");
      const path = join(dir, "snapshots", key);
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, body);
    },
    craftedKeys: ["..\\escaped.txt", "a\\..\\..\\escaped.txt", "bad\nname.txt"],
    async cleanup() {
      if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    },
  };
}

export function minioTarget(): UiTarget {
  const server = minioEnv();
  const prefix = `ui-${randomUUID()}`;
  const running = (): S3ServerEnv => {
    if (server === undefined) throw new Error("MinIO is not running");
    return server;
  };
  return {
    label: "MinIO",
    skip: skipUnless(server, "MinIO", "TEST_MINIO_ENDPOINT"),
    env:
      server === undefined
        ? {}
        : {
            AWS_ENDPOINT_URL_S3: server.endpoint,
            AWS_ACCESS_KEY_ID: server.accessKeyId,
            AWS_SECRET_ACCESS_KEY: server.secretAccessKey,
            AWS_REGION: server.region,
          },
    prepare: async () => `s3://${running().bucket}/${prefix}`,
    async putRaw(key, body) {
      const { PutObjectCommand } = await import("@aws-sdk/client-s3");
      const client = await rawClient(running());
      try {
        await client.send(new PutObjectCommand({ Bucket: running().bucket, Key: `${prefix}/${key}`, Body: body }));
      } finally {
        client.destroy();
      }
    },
    // MinIO refuses "." and ".." segments and "//" in keys; these are the crafted names it holds.
    craftedKeys: ["a\\b.txt", "bad\nname.txt", "C:/escaped.txt"],
    async cleanup() {
      if (server === undefined) return;
      const { DeleteObjectCommand, ListObjectsV2Command } = await import("@aws-sdk/client-s3");
      const client = await rawClient(server);
      try {
        let token: string | undefined;
        do {
          const page = await client.send(new ListObjectsV2Command({ Bucket: server.bucket, Prefix: `${prefix}/`, ContinuationToken: token }));
          for (const object of page.Contents ?? []) await client.send(new DeleteObjectCommand({ Bucket: server.bucket, Key: object.Key }));
          token = page.NextContinuationToken;
        } while (token !== undefined);
      } finally {
        client.destroy();
      }
    },
  };
}

export function gcsTarget(): UiTarget {
  const server = gcsEnv();
  const prefix = `ui-${randomUUID()}`;
  const running = (): GcsServerEnv => {
    if (server === undefined) throw new Error("fake-gcs-server is not running");
    return server;
  };
  return {
    label: "fake-gcs-server",
    skip: skipUnless(server, "fake-gcs-server", "TEST_GCS_ENDPOINT"),
    env: server === undefined ? {} : { STORAGE_EMULATOR_HOST: server.endpoint, GOOGLE_CLOUD_PROJECT: server.projectId },
    prepare: async () => `gs://${running().bucket}/${prefix}`,
    async putRaw(key, body) {
      const { endpoint, bucket } = running();
      const url = `${endpoint}/upload/storage/v1/b/${bucket}/o?uploadType=media&name=${encodeURIComponent(`${prefix}/${key}`)}`;
      const response = await fetch(url, { method: "POST", body, headers: { "content-type": "text/plain" } });
      if (!response.ok) throw new Error(`raw upload of ${JSON.stringify(key)}: ${response.status} ${await response.text()}`);
    },
    craftedKeys: ["../../escaped.txt", "a/../../escaped.txt", "./escaped.txt", "a//b.txt", "..\\escaped.txt", "bad\nname.txt", "C:/escaped.txt"],
    async cleanup() {
      if (server === undefined) return;
      const list = await fetch(`${server.endpoint}/storage/v1/b/${server.bucket}/o?prefix=${encodeURIComponent(`${prefix}/`)}`);
      const { items = [] } = (await list.json()) as { items?: { name: string }[] };
      for (const item of items) {
        await fetch(`${server.endpoint}/storage/v1/b/${server.bucket}/o/${encodeURIComponent(item.name)}`, { method: "DELETE" });
      }
    },
  };
}
