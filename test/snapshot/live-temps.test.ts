/**
 * A temp file a live writer may still write is never removed by the sweeps of leftovers (version claims, `replace`,
 * `reset()`), however long the writer has been silent; a killed writer's goes at the next sweep. On local disk with
 * real writer processes; on MinIO and fake-gcs-server for the temp objects of busy copies, which `reset()` and
 * `replace` list with the version's objects.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { after, describe, it } from "node:test";
import type { StorageBackend } from "../../src/backends/backend.ts";
import { GcsBackend } from "../../src/backends/gcs/index.ts";
import { S3Backend } from "../../src/backends/s3/index.ts";
import { tempNameOf, UNJUDGED_TEMP_AGE_MS } from "../../src/backends/temp-names.ts";
import { isOpenCrateError } from "../../src/errors.ts";
import { Snapshot } from "../../src/index.ts";
import { gcsOptions, rawDelete, rawPut } from "../support/gcs.ts";
import { rawClient, s3Options } from "../support/s3.ts";
import { gcsEnv, minioEnv, skipUnless, useTestServersForUris } from "../support/servers.ts";

const pausedWriter = fileURLToPath(new URL("./fixtures/paused-writer.ts", import.meta.url));
const tempNameChild = fileURLToPath(new URL("./fixtures/temp-name-child.ts", import.meta.url));
const HOUR = 60 * 60_000;
/** Past every age a sweep has ever used. */
const LONG_SILENT_MS = UNJUDGED_TEMP_AGE_MS + HOUR;
/** A writer on another host, as its name says: a place hash that is not this host's. */
const FOREIGN_WRITER = tempNameOf({ place: "0123456789ab", pid: 4242, start: "linux:77" }, "");

const roots: string[] = [];
async function freshRoot(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), "opencrate-live-temps-"));
  roots.push(root);
  return root;
}

/** Every temp file under `folder`, relative to it. */
async function tempsOnDisk(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && entry.name.startsWith(".~oc-tmp-"))
    .map((entry) => relative(folder, join(entry.parentPath, entry.name)))
    .sort();
}

async function backdate(path: string, ageMs: number): Promise<void> {
  const then = new Date(Date.now() - ageMs);
  await utimes(path, then, then);
}

/** The lines a child prints, one at a time. */
function linesOf(child: ChildProcess): () => Promise<string> {
  if (child.stdout === null) throw new Error("no stdout");
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return async () => {
    const next = await lines.next();
    if (next.done === true) throw new Error("the child ended without a line");
    return next.value;
  };
}

/** A paused-writer child streaming to `keys` under `root`, once every save's temp file holds its first chunk. */
async function pausedWriterOn(root: string, keys: readonly string[]): Promise<{ child: ChildProcess; nextLine(): Promise<string> }> {
  const child = spawn(process.execPath, [pausedWriter, root, ...keys], { stdio: ["pipe", "pipe", "inherit"] });
  const nextLine = linesOf(child);
  assert.equal(await nextLine(), "paused");
  return { child, nextLine };
}

/** A temp name of another process, which stays alive until `end()`. */
async function nameOfAnotherProcess(kind: "" | "copy-"): Promise<{ name: string; end(): Promise<void> }> {
  const child = spawn(process.execPath, [tempNameChild, kind], { stdio: ["pipe", "pipe", "inherit"] });
  const name = await linesOf(child)();
  return {
    name,
    async end() {
      const exited = once(child, "exit");
      child.stdin?.end();
      await exited;
    },
  };
}

async function setUp(root: string, start: "new" | "last" | 0, replace = false): Promise<Snapshot> {
  return Snapshot.setup({ name: "t", root, start, console: false, ...(replace ? { replace } : {}) });
}

const SAVED = ["t/v0/checkpoints/model.bin", "t/.opencrate/versions/slow.bin"];

describe("temp files of live and killed writers on local disk", () => {
  after(() => Promise.all(roots.splice(0).map((root) => rm(root, { recursive: true, force: true }))));

  it("a save silent for longer than any sweep age keeps its temp files through other processes' claims, replace and reset, and completes", async () => {
    const root = await freshRoot();
    const first = await setUp(root, "new");
    await first.json("metrics.json").save({ a: 1 });
    await first.close();
    const { child: writer, nextLine } = await pausedWriterOn(root, SAVED);
    try {
      const temps = await tempsOnDisk(root);
      assert.equal(temps.length, 2, `one temp file per save: ${temps.join(", ")}`);
      // The writer is silent: nothing written to its temp files since long ago, as after a stop or a stalled source.
      for (const temp of temps) await backdate(join(root, temp), LONG_SILENT_MS);

      await (await setUp(root, "new")).close(); // a new claim sweeps beside the claims
      await (await setUp(root, 0, true)).close(); // replace sweeps v0
      await (await setUp(root, "last")).reset({ confirm: true }); // reset sweeps every version and the claims
      assert.deepEqual(await tempsOnDisk(root), temps, "the live writer's temp files are all there");

      const exited = once(writer, "exit");
      writer.stdin?.write("go on\n");
      assert.equal(await nextLine(), "saved");
      assert.deepEqual(await exited, [0, null]);
    } finally {
      writer.kill("SIGKILL");
    }
    for (const key of SAVED) assert.equal(await readFile(join(root, key), "utf8"), "first half, second half", key);
  });

  it("a killed save's temp files go at the next claim and replace, however recent", async () => {
    const root = await freshRoot();
    const first = await setUp(root, "new");
    await first.json("metrics.json").save({ a: 1 });
    await first.close();
    const { child: writer } = await pausedWriterOn(root, SAVED);
    const exited = once(writer, "exit");
    writer.kill("SIGKILL");
    await exited;
    assert.deepEqual((await tempsOnDisk(root)).length, 2);

    await (await setUp(root, "new")).close();
    assert.deepEqual(await tempsOnDisk(join(root, "t", ".opencrate")), [], "the claim's sweep removed the killed save's temp file");
    await (await setUp(root, 0, true)).close();
    assert.deepEqual(await tempsOnDisk(root), [], "replace removed the killed save's temp file");
    assert.deepEqual((await readdir(join(root, "t", "v0"))).includes("checkpoints"), false, "and the folder it leaves empty");
  });

  it("a temp file whose writer cannot be judged here (another host, an older version) goes only once a day old", async () => {
    const root = await freshRoot();
    await (await setUp(root, "new")).close();
    const v0 = join(root, "t", "v0");
    const planted = {
      recentForeign: join(v0, "recent", FOREIGN_WRITER),
      recentOlderVersion: join(v0, "recent", `.~oc-tmp-${randomUUID()}`),
      oldForeign: join(v0, "old", FOREIGN_WRITER),
      oldOlderVersion: join(v0, "old", `.~oc-tmp-${randomUUID()}`),
    };
    for (const [label, path] of Object.entries(planted)) {
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, "part of a write");
      await backdate(path, label.startsWith("recent") ? 2 * HOUR : LONG_SILENT_MS);
    }
    await (await setUp(root, 0, true)).close();
    assert.deepEqual(await tempsOnDisk(v0), [join("recent", FOREIGN_WRITER), relative(v0, planted.recentOlderVersion)].sort());
  });

  it("a temp file named by a live process of this host is kept by reset(), one of a process that ended goes", async () => {
    const root = await freshRoot();
    await (await setUp(root, "new")).close();
    const live = await nameOfAnotherProcess("");
    const ended = await nameOfAnotherProcess("");
    try {
      await ended.end();
      for (const name of [live.name, ended.name]) {
        const path = join(root, "t", "v0", name);
        await writeFile(path, "part of a write");
        await backdate(path, LONG_SILENT_MS);
      }
      await (await setUp(root, "last")).reset({ confirm: true });
      assert.deepEqual(await tempsOnDisk(root), [join("t", "v0", live.name)]);
      assert.equal((await stat(join(root, "t", "v0", live.name))).size, "part of a write".length);
    } finally {
      await live.end();
    }
  });
});

interface CloudStore {
  readonly label: string;
  readonly skip: false | string;
  backend(prefix: string): StorageBackend;
  putRaw(key: string, body: string): Promise<void>;
  deleteRaw(key: string): Promise<void>;
  keys(prefix: string): Promise<string[]>;
  /** The root URI of `prefix` in the test bucket (see useTestServersForUris). */
  uri(prefix: string): string;
}

function minioStore(): CloudStore {
  const server = minioEnv();
  return {
    label: "MinIO",
    uri: (prefix) => `s3://${server!.bucket}/${prefix}`,
    skip: skipUnless(server, "MinIO", "TEST_MINIO_ENDPOINT"),
    backend: (prefix) => new S3Backend(s3Options(server!, { prefix })),
    async putRaw(key, body) {
      const { PutObjectCommand } = await import("@aws-sdk/client-s3");
      const client = await rawClient(server!);
      try {
        await client.send(new PutObjectCommand({ Bucket: server!.bucket, Key: key, Body: body }));
      } finally {
        client.destroy();
      }
    },
    async deleteRaw(key) {
      const { DeleteObjectCommand } = await import("@aws-sdk/client-s3");
      const client = await rawClient(server!);
      try {
        await client.send(new DeleteObjectCommand({ Bucket: server!.bucket, Key: key }));
      } finally {
        client.destroy();
      }
    },
    async keys(prefix) {
      const { ListObjectsV2Command } = await import("@aws-sdk/client-s3");
      const client = await rawClient(server!);
      try {
        const page = await client.send(new ListObjectsV2Command({ Bucket: server!.bucket, Prefix: prefix }));
        return (page.Contents ?? []).map((object) => object.Key ?? "").sort();
      } finally {
        client.destroy();
      }
    },
  };
}

function gcsStore(): CloudStore {
  const server = gcsEnv();
  return {
    label: "fake-gcs-server",
    uri: (prefix) => `gs://${server!.bucket}/${prefix}`,
    skip: skipUnless(server, "fake-gcs-server", "TEST_GCS_ENDPOINT"),
    backend: (prefix) => new GcsBackend(gcsOptions(server!, { prefix })),
    putRaw: (key, body) => rawPut(server!, key, body),
    deleteRaw: (key) => rawDelete(server!, key),
    async keys(prefix) {
      const url = `${server!.endpoint}/storage/v1/b/${server!.bucket}/o?prefix=${encodeURIComponent(prefix)}`;
      const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
      if (!response.ok) throw new Error(`GET ${url}: ${response.status} ${await response.text()}`);
      const { items = [] } = (await response.json()) as { items?: Array<{ name: string }> };
      return items.map((item) => item.name).sort();
    },
  };
}

for (const store of [minioStore(), gcsStore()]) {
  describe(`temp objects of busy copies on ${store.label}`, { skip: store.skip }, () => {
    it("reset() and replace keep the temp object of a live copy of another process, and delete one whose process ended", async () => {
      const prefix = `live-temps-${randomUUID()}`;
      const backend = store.backend(prefix);
      const live = await nameOfAnotherProcess("copy-");
      const ended = await nameOfAnotherProcess("copy-");
      await ended.end();
      try {
        const first = await Snapshot.setup({ name: "t", backend, start: "new", console: false });
        await first.json("metrics.json").save({ a: 1 });
        await first.close();
        for (const name of [live.name, ended.name]) await store.putRaw(`${prefix}/t/v0/jsons/${name}`, "a snapshot of a busy source");
        await (await Snapshot.setup({ name: "t", backend, start: 0, replace: true, console: false })).close();
        const afterReplace = (await store.keys(`${prefix}/t/v0/`)).filter((key) => key.includes(".~oc-tmp-"));
        assert.deepEqual(afterReplace, [`${prefix}/t/v0/jsons/${live.name}`], "replace kept the live one only");

        await store.putRaw(`${prefix}/t/v0/jsons/${ended.name}`, "a snapshot of a busy source");
        await (await Snapshot.setup({ name: "t", backend, start: "last", console: false })).reset({ confirm: true });
        assert.deepEqual(await store.keys(`${prefix}/`), [`${prefix}/t/v0/jsons/${live.name}`], "reset kept the live one only");
      } finally {
        await live.end();
        for (const key of await store.keys(`${prefix}/`)) await store.deleteRaw(key);
        await backend.close();
      }
    });

    it("a version folder reset() leaves holding only a live copy's temp object is no version: listings, start \"last\" and its number pass over it", async () => {
      const prefix = `live-temps-${randomUUID()}`;
      const backend = store.backend(prefix);
      const live = await nameOfAnotherProcess("copy-");
      try {
        for (const run of [0, 1]) {
          const snapshot = await Snapshot.setup({ name: "t", backend, start: "new", console: false });
          await snapshot.json("metrics.json").save({ run });
          await snapshot.close();
        }
        await store.putRaw(`${prefix}/t/v1/jsons/${live.name}`, "a snapshot of a busy source");
        await (await Snapshot.setup({ name: "t", backend, start: "last", console: false })).reset({ confirm: true });
        assert.deepEqual(await store.keys(`${prefix}/`), [`${prefix}/t/v1/jsons/${live.name}`], "reset kept the live copy's temp object");
        useTestServersForUris();
        await assert.rejects(Snapshot.open(`${store.uri(prefix)}/t@latest`), (error: unknown) => isOpenCrateError(error, "NOT_FOUND"));

        const versionOf = async (start: "new" | "last"): Promise<{ versionName: string; listed: string[] }> => {
          const snapshot = await Snapshot.setup({ name: "t", backend, start, console: false });
          try {
            await snapshot.json("metrics.json").save({ start });
            const listed = (await snapshot.listVersions()).map((version) => `${version.versionName} claimed=${version.claimed} hasFolder=${version.hasFolder}`);
            return { versionName: snapshot.versionName, listed };
          } finally {
            await snapshot.close();
          }
        };
        assert.deepEqual(await versionOf("new"), { versionName: "v0", listed: ["v0 claimed=true hasFolder=true"] }, "numbering restarted");
        assert.equal((await versionOf("last")).versionName, "v0", "start \"last\" resumes the run made after the reset, not the emptied folder");
        assert.equal((await Snapshot.open(`${store.uri(prefix)}/t@latest`)).versionName, "v0");
        await assert.rejects(Snapshot.setup({ name: "t", backend, start: 1, console: false }), (error: unknown) => isOpenCrateError(error, "VERSION_NOT_FOUND"));
        // A new number still passes over the folder, where the copy may yet land its backup.
        assert.equal((await versionOf("new")).versionName, "v2");
      } finally {
        await live.end();
        for (const key of await store.keys(`${prefix}/`)) await store.deleteRaw(key);
        await backend.close();
      }
    });
  });
}
