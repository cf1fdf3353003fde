/**
 * Keys other tools wrote, as S3 listings give them back, on MinIO and moto, through the plain reads and through the
 * SDK: a key holding a control character, "%", "+", a space or non-ASCII is listed exactly as written and can be
 * read under that name; a zero-byte "folder" marker ("jsons/", as consoles make) is not listed, and an object
 * ending in "/" that holds bytes is.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, describe, it } from "node:test";
import type { S3Client } from "@aws-sdk/client-s3";
import { S3Backend } from "../../src/backends/s3/index.ts";
import { readText } from "../conformance/helpers.ts";
import { ensureBucket, rawClient, s3Options } from "../support/s3.ts";
import { minioEnv, motoEnv, skipUnless, type S3ServerEnv } from "../support/servers.ts";
import { assertFolderMarkersListed } from "../support/assertions.ts";

/** Keys as another tool writes them, under the test's prefix, with their bodies. */
const WRITTEN: Readonly<Record<string, string>> = {
  "k/esc\u001b[2K\u001b[1Ahide.txt": "esc",
  "k/per%41cent.txt": "percent",
  "k/plus+sign.txt": "plus",
  "k/with space.txt": "space",
  "k/café 😀.txt": "non-ascii",
  "k/sub dir+%/f.txt": "in a folder",
  "m/full/": "a marker that holds bytes",
  "m/sub/f.txt": "in a folder with a marker",
};
/** Zero-byte folder markers. */
const MARKERS = ["m/jsons/", "m/sub/"];
const NAMES = Object.keys(WRITTEN).filter((key) => key.startsWith("k/")).sort(byBytes);

const servers: [string, S3ServerEnv | undefined, string][] = [
  ["MinIO", minioEnv(), "TEST_MINIO_ENDPOINT"],
  ["moto", motoEnv(), "TEST_MOTO_ENDPOINT"],
];

for (const [name, env, variable] of servers) {
  describe(`S3 listings on ${name} name keys as stored`, { skip: skipUnless(env, name, variable) }, () => {
    const server = env as S3ServerEnv;
    const prefix = `t-${randomUUID()}`;
    let client: S3Client | undefined;

    async function written(): Promise<S3Client> {
      if (client !== undefined) return client;
      await ensureBucket(server);
      const { PutObjectCommand } = await import("@aws-sdk/client-s3");
      const raw = await rawClient(server);
      client = raw;
      for (const [key, body] of Object.entries(WRITTEN)) await raw.send(new PutObjectCommand({ Bucket: server.bucket, Key: `${prefix}/${key}`, Body: Buffer.from(body) }));
      for (const key of MARKERS) await raw.send(new PutObjectCommand({ Bucket: server.bucket, Key: `${prefix}/${key}`, Body: Buffer.alloc(0) }));
      return raw;
    }

    after(async () => {
      if (client === undefined) return;
      const { DeleteObjectCommand } = await import("@aws-sdk/client-s3");
      // One at a time: a DeleteObjects body is XML, which cannot carry the control characters.
      for (const key of [...Object.keys(WRITTEN), ...MARKERS]) await client.send(new DeleteObjectCommand({ Bucket: server.bucket, Key: `${prefix}/${key}` }));
      client.destroy();
    });

    const readPaths: [string, (backend: ReturnType<typeof s3Options>) => ReturnType<typeof s3Options>][] = [
      ["plain reads", (options) => options],
      // Credentials from a provider send every read through the SDK (plain-route.ts).
      ["reads through the SDK", (options) => ({ ...options, credentials: async () => ({ accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey }) })],
    ];

    for (const [readPath, adapt] of readPaths) {
      it(`list and listPage give every key as written (${readPath})`, async () => {
        const raw = await written();
        const backend = new S3Backend(adapt(s3Options(server, { prefix })));
        try {
          const listed: string[] = [];
          for await (const info of backend.list("k/", { pageSize: 2 })) listed.push(info.key);
          assert.deepEqual(listed, NAMES);
          const rest: string[] = [];
          for await (const info of backend.list("k/", { startAfter: NAMES[2] ?? "" })) rest.push(info.key);
          assert.deepEqual(rest, NAMES.slice(3));
          const top = await backend.listPage("k/");
          assert.deepEqual(top.objects.map((info) => info.key), NAMES.filter((key) => !key.slice(2).includes("/")));
          assert.deepEqual(top.prefixes, ["k/sub dir+%/"]);
          assert.deepEqual((await backend.listPage("k/sub dir+%/")).objects.map((info) => info.key), ["k/sub dir+%/f.txt"]);

          // Every listed key reads back under that name: through the backend where a key may be named, raw otherwise.
          const { GetObjectCommand } = await import("@aws-sdk/client-s3");
          for (const key of listed) {
            if (/[\u0000-\u001f]/.test(key)) {
              const answer = await raw.send(new GetObjectCommand({ Bucket: server.bucket, Key: `${prefix}/${key}` }));
              assert.equal(await answer.Body?.transformToString(), WRITTEN[key], key);
            } else {
              assert.equal(await readText(backend, key), WRITTEN[key], key);
            }
          }
        } finally {
          await backend.close();
        }
      });

      it(`leaves out zero-byte folder markers and lists an object ending in "/" that holds bytes (${readPath})`, async () => {
        await written();
        const backend = new S3Backend(adapt(s3Options(server, { prefix })));
        try {
          await assertFolderMarkersListed(backend);
        } finally {
          await backend.close();
        }
      });
    }
  });
}

function byBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}
