/**
 * opencrate and the raw AWS SDK as a user's script calls them, one operation per process (so its wall time and peak
 * RSS are measured as the other tools' are). The endpoint and keys come from the AWS_* variables. opencrate is the
 * built package (dist/, as users install it; the scenario builds it first), not the TypeScript sources, whose type
 * stripping at load adds tens of MiB to a process. The bench runs this file compiled to JavaScript (tools.ts,
 * `oursScript`), for the same reason.
 *
 *   load <snapshot-uri> <file>           Snapshot.open(uri).checkpoint("model.bin").downloadTo(file)
 *   save <root-uri> <file>               a new snapshot "anchors" under root: checkpoint("model.bin").saveFile(file)
 *   raw-get <bucket> <key> <file>        one GetObject piped to the file
 *   lib-storage <file> <bucket> <key>    @aws-sdk/lib-storage Upload with its defaults
 */
import { createReadStream, createWriteStream } from "node:fs";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type * as Library from "../../src/index.ts";

const built = (path: string): string => new URL(`../../dist/${path}`, import.meta.url).href;
const { GcsBackend, Snapshot } = (await import(built("index.js"))) as typeof Library;

const [operation, ...args] = process.argv.slice(2);
const [first = "", second = "", third = ""] = args;

switch (operation) {
  case "load": {
    const snapshot = await Snapshot.open(first);
    await snapshot.checkpoint("model.bin").downloadTo(second);
    break;
  }
  case "save": {
    // fake-gcs-server goes quiet for seconds while it hashes a large upload at its end: give it the idle time-out
    // the test helpers give it, not the 4 s default meant for real GCS.
    const emulated = first.startsWith("gs://") ? { backend: await emulatorGcs(first) } : { root: first };
    const snapshot = await Snapshot.setup({ name: "anchors", ...emulated, console: false });
    await snapshot.checkpoint("model.bin").saveFile(second);
    await snapshot.close();
    break;
  }
  case "raw-get": {
    const { S3Client, GetObjectCommand } = await import("@aws-sdk/client-s3");
    const client = new S3Client({ forcePathStyle: true });
    const response = await client.send(new GetObjectCommand({ Bucket: first, Key: second }));
    await pipeline(response.Body as Readable, createWriteStream(third));
    client.destroy();
    break;
  }
  case "lib-storage": {
    const { S3Client } = await import("@aws-sdk/client-s3");
    const { Upload } = await import("@aws-sdk/lib-storage");
    const client = new S3Client({ forcePathStyle: true });
    await new Upload({ client, params: { Bucket: second, Key: third, Body: createReadStream(first) } }).done();
    client.destroy();
    break;
  }
  default:
    throw new Error(`unknown operation ${String(operation)}`);
}

async function emulatorGcs(root: string): Promise<Library.GcsBackend> {
  const { protocol, host: bucket, pathname } = new URL(root);
  if (protocol !== "gs:") throw new Error(`not a gs:// root: ${root}`);
  return new GcsBackend({ bucket, prefix: pathname.replace(/^\/|\/$/g, ""), requestTimeoutMs: 60_000 });
}
