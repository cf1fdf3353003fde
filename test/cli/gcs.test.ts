/**
 * The CLI against fake-gcs-server through gs:// URIs (endpoint from STORAGE_EMULATOR_HOST). GCS holds almost any
 * UTF-8 object name, so this is where pull meets every crafted name the emulator can hold. fake-gcs-server 1.55.1
 * stores, lists and reads back exactly every candidate tried: "..", "." and empty segments, leading "/" and "//",
 * backslashes, control characters (tab, DEL, LF) and drive letters; none had to be left out. One is wider than
 * GCS itself: real GCS refuses object names containing CR or LF.
 */
import type { Bucket, File as GcsFile } from "@google-cloud/storage";
import type { StorageBackend } from "../../src/backends/backend.ts";
import { GcsBackend } from "../../src/backends/gcs/index.ts";
import { gcsFactory } from "../support/gcs.ts";
import { gcsEnv, type GcsServerEnv } from "../support/servers.ts";
import { cloudSmokeSuite } from "./cloud-smoke.ts";

const server = gcsEnv();

let rawBucket: Promise<Bucket> | undefined;

/** The test bucket through a bare SDK client, so no key check of opencrate's stands in the way. */
function bareBucket(running: GcsServerEnv): Promise<Bucket> {
  rawBucket ??= (async () => {
    const { Storage } = await import("@google-cloud/storage");
    const storage = new Storage({ apiEndpoint: running.endpoint, projectId: running.projectId });
    // If STORAGE_EMULATOR_HOST is set, the SDK takes it verbatim as the JSON API base (src/backends/gcs/client.ts).
    storage.baseUrl = `${running.endpoint}/storage/v1`;
    return storage.bucket(running.bucket);
  })();
  return rawBucket;
}

/** Runs `use` on the object `<prefix>/<key>` of `backend`'s bucket, whatever the key. */
async function withRawObject(backend: StorageBackend, key: string, use: (file: GcsFile) => Promise<unknown>): Promise<void> {
  if (server === undefined || !(backend instanceof GcsBackend)) {
    throw new Error(`raw writes need fake-gcs-server, not ${backend.describe("")}`);
  }
  const bucket = await bareBucket(server);
  await use(bucket.file(backend.prefix === "" ? key : `${backend.prefix}/${key}`));
}

cloudSmokeSuite({
  label: "fake-gcs-server",
  factory: gcsFactory(),
  scheme: "gs",
  env: () => ({ STORAGE_EMULATOR_HOST: server?.endpoint, GOOGLE_CLOUD_PROJECT: server?.projectId }),
  rawWrites: {
    put: (backend, key, body) => withRawObject(backend, key, (file) => file.save(body, { resumable: false })),
    delete: (backend, key) => withRawObject(backend, key, (file) => file.delete()),
    craftedKeys: [
      { path: "../../escaped.txt", problem: "the path has a '..' segment" },
      { path: "../escaped.txt", problem: "the path has a '..' segment" },
      { path: "a/../../escaped.txt", problem: "the path has a '..' segment" },
      { path: "..", problem: "the path has a '..' segment" },
      { path: "./escaped.txt", problem: "the path has a '.' segment" },
      { path: ".git/config", problem: 'the path has a ".git" segment: a file there could change a git repository\'s configuration (git refuses such paths too)' },
      { path: "a/./b.txt", problem: "the path has a '.' segment" },
      { path: "//etc/x", problem: "the path is absolute" },
      { path: "/etc/x", problem: "the path is absolute" },
      { path: "a//b.txt", problem: "the path has an empty segment" },
      { path: "..\\escaped.txt", problem: "the path contains a backslash" },
      { path: "a\\b.txt", problem: "the path contains a backslash" },
      { path: "bad\tname.txt", problem: "the path contains a control character" },
      { path: "bad\u007fname.txt", problem: "the path contains a control character" },
      // Real GCS refuses this name (no CR or LF in object names); the emulator holds it, so pull is tested on it too.
      { path: "bad\nname.txt", problem: "the path contains a control character" },
      { path: "C:/escaped.txt", problem: "the path starts with a drive letter" },
    ],
  },
  resume: true,
});
