/**
 * Reads without the AWS SDK (plain-route.ts): which settings qualify, how a listing answer is read, and, against
 * MinIO, that a read-only process never loads the SDK while heads, listings, reads and their errors come out as
 * they do through the SDK.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { S3Backend, type S3BackendOptions } from "../../src/backends/s3/index.ts";
import { decodedListing, parseListing } from "../../src/backends/s3/list-answer.ts";
import { resolveS3Settings } from "../../src/backends/s3/options.ts";
import { plainRoute } from "../../src/backends/s3/plain-route.ts";
import { isOpenCrateError } from "../../src/errors.ts";
import { rejectsWithCode } from "../conformance/helpers.ts";
import { s3Options } from "../support/s3.ts";
import { startSilentEndpoint, startUnacceptingEndpoint } from "../support/unaccepting-endpoint.ts";
import { minioEnv, skipUnless } from "../support/servers.ts";

const fixed = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" };
const noFiles = { AWS_CONFIG_FILE: "/nonexistent/config", AWS_SHARED_CREDENTIALS_FILE: "/nonexistent/credentials", AWS_EC2_METADATA_DISABLED: "true" };

function routeFor(options: Omit<S3BackendOptions, "bucket">, env: Record<string, string | undefined> = noFiles) {
  const full = { bucket: "bucket", ...options };
  return plainRoute(resolveS3Settings(full, env), full, env);
}

describe("S3 reads without the SDK: which settings qualify", () => {
  it("a plain-HTTP endpoint, path-style, fixed credentials and a region give a route to endpoint/bucket", () => {
    const route = routeFor({ endpoint: "http://127.0.0.1:9000", region: "eu-west-1", credentials: fixed });
    assert.deepEqual(route, {
      hostname: "127.0.0.1",
      port: 9000,
      host: "127.0.0.1:9000",
      bucketPath: "/bucket",
      region: "eu-west-1",
      credentials: { ...fixed, sessionToken: undefined },
    });
    assert.equal(routeFor({ endpoint: "http://[::1]:9000", region: "r", credentials: fixed })?.hostname, "::1");
    assert.equal(routeFor({ endpoint: "http://minio", region: "r", credentials: fixed })?.port, 80);
  });

  it("takes the endpoint, keys, session token and region from the environment as the SDK does", () => {
    const env = { ...noFiles, AWS_ENDPOINT_URL_S3: "http://minio:9000", AWS_ACCESS_KEY_ID: "id", AWS_SECRET_ACCESS_KEY: "key", AWS_SESSION_TOKEN: "token", AWS_REGION: "ap-south-1" };
    const route = routeFor({}, env);
    assert.equal(route?.host, "minio:9000");
    assert.equal(route?.region, "ap-south-1");
    assert.deepEqual(route?.credentials, { accessKeyId: "id", secretAccessKey: "key", sessionToken: "token" });
  });

  it("with no region anywhere, signs for the backend's fallback region; with a shared config file or instance metadata, leaves it to the SDK", () => {
    const env = { ...noFiles, AWS_ACCESS_KEY_ID: "id", AWS_SECRET_ACCESS_KEY: "key", AWS_ENDPOINT_URL: "http://minio:9000" };
    assert.equal(routeFor({}, env)?.region, "us-east-1");
    assert.equal(routeFor({}, { ...env, AWS_DEFAULT_REGION: "ca-central-1" })?.region, "ca-central-1");
    assert.equal(routeFor({}, { ...env, AWS_EC2_METADATA_DISABLED: undefined }), undefined, "the SDK would ask instance metadata");
    const folder = mkdtempSync(join(tmpdir(), "opencrate-aws-config-"));
    try {
      writeFileSync(join(folder, "config"), "[default]\nregion = eu-north-1\n");
      assert.equal(routeFor({}, { ...env, AWS_CONFIG_FILE: join(folder, "config") }), undefined);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it("gives no route when only the SDK knows the URL, the credentials or the region", () => {
    const base = { endpoint: "http://127.0.0.1:9000", region: "us-east-1", credentials: fixed };
    const envKeys = { ...noFiles, AWS_ACCESS_KEY_ID: "id", AWS_SECRET_ACCESS_KEY: "key", AWS_REGION: "us-east-1" };
    const cases: [string, Omit<S3BackendOptions, "bucket">, Record<string, string | undefined>][] = [
      ["AWS itself (no endpoint)", { region: "us-east-1", credentials: fixed }, noFiles],
      ["an https endpoint", { ...base, endpoint: "https://minio.example.com" }, noFiles],
      ["an endpoint with a base path", { ...base, endpoint: "http://127.0.0.1:9000/s3" }, noFiles],
      ["virtual-hosted addressing", { ...base, forcePathStyle: false }, noFiles],
      ["a credentials provider", { ...base, credentials: async () => fixed }, noFiles],
      ["credentials that expire", { ...base, credentials: { ...fixed, expiration: new Date() } }, noFiles],
      ["no credentials anywhere", { endpoint: base.endpoint, region: "us-east-1" }, noFiles],
      ["AWS_PROFILE beside the key variables", { endpoint: base.endpoint }, { ...envKeys, AWS_PROFILE: "dev" }],
      ["AWS_PROFILE=false (a profile named so, for the SDK)", { endpoint: base.endpoint }, { ...envKeys, AWS_PROFILE: "false" }],
      ["AWS_PROFILE of blanks (set, for the SDK)", { endpoint: base.endpoint }, { ...envKeys, AWS_PROFILE: " " }],
      ["expiring key variables", { endpoint: base.endpoint }, { ...envKeys, AWS_CREDENTIAL_EXPIRATION: "2030-01-01T00:00:00Z" }],
      ["FIPS endpoints", base, { ...noFiles, AWS_USE_FIPS_ENDPOINT: "true" }],
      ["dual-stack endpoints", base, { ...noFiles, AWS_USE_DUALSTACK_ENDPOINT: "true" }],
    ];
    for (const [what, options, env] of cases) assert.equal(routeFor(options, env), undefined, what);
    assert.notEqual(routeFor({ endpoint: base.endpoint }, envKeys), undefined, "the same key variables without a profile qualify");
  });

  it("gives no route for a backend on a caller's own client", () => {
    const client = {} as NonNullable<S3BackendOptions["client"]>;
    assert.equal(routeFor({ endpoint: "http://127.0.0.1:9000", region: "us-east-1", credentials: fixed, client }), undefined);
  });
});

describe("S3 reads without the SDK: a ListObjectsV2 answer", () => {
  it("reads keys, sizes, ETags, dates, folders and the continuation, with entities decoded", () => {
    const xml =
      '<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
      "<Name>bucket</Name><Prefix>run/</Prefix><KeyCount>4</KeyCount><MaxKeys>4</MaxKeys><Delimiter>/</Delimiter>" +
      "<IsTruncated>true</IsTruncated><NextContinuationToken>next&amp;token</NextContinuationToken>" +
      "<Contents><Key>run/a &amp; b &lt;c&gt; &quot;d&quot; &#39;e&#39;.txt</Key><LastModified>2026-12-04T10:11:12.000Z</LastModified>" +
      "<ETag>&#34;0cc175b9c0f1b6a831c399e269772661&#34;</ETag><Size>1</Size><StorageClass>STANDARD</StorageClass></Contents>" +
      "<Contents>\n  <Key>run/é/ü</Key>\n  <LastModified>2026-12-04T10:11:13.000Z</LastModified>\n  <ETag>\"abc-2\"</ETag>\n  <Size>12345678901</Size>\n</Contents>" +
      "<CommonPrefixes><Prefix>run/v0/</Prefix></CommonPrefixes><CommonPrefixes><Prefix>run/v1:tag/</Prefix></CommonPrefixes>" +
      "</ListBucketResult>";
    assert.deepEqual(parseListing(xml), {
      Contents: [
        { Key: "run/a & b <c> \"d\" 'e'.txt", Size: 1, ETag: '"0cc175b9c0f1b6a831c399e269772661"', LastModified: new Date("2026-12-04T10:11:12.000Z") },
        { Key: "run/é/ü", Size: 12345678901, ETag: '"abc-2"', LastModified: new Date("2026-12-04T10:11:13.000Z") },
      ],
      CommonPrefixes: [{ Prefix: "run/v0/" }, { Prefix: "run/v1:tag/" }],
      IsTruncated: true,
      NextContinuationToken: "next&token",
    });
  });

  it("reads an empty, final page, and refuses a document that is not a listing", () => {
    const empty = parseListing("<ListBucketResult><Name>b</Name><Prefix>x/</Prefix><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>");
    assert.deepEqual(empty, { Contents: [], CommonPrefixes: [], IsTruncated: false, NextContinuationToken: undefined });
    assert.equal(parseListing("<Error><Code>NoSuchBucket</Code></Error>"), undefined);
  });

  it("gives up on a page it cannot read whole, so that the SDK reads it instead of an object going missing", () => {
    const entry = (inner: string) => `<Contents>${inner}<LastModified>2026-12-04T10:11:12.000Z</LastModified><ETag>"e"</ETag></Contents>`;
    const page = (count: number, ...entries: string[]) => `<ListBucketResult><KeyCount>${count}</KeyCount>${entries.join("")}<IsTruncated>false</IsTruncated></ListBucketResult>`;
    assert.equal(parseListing(page(1, entry("<Key>a</Key><Size>1</Size>")))?.Contents?.length, 1, "the well-formed page is read");
    const unread: [string, string][] = [
      ["more keys counted than found (an entry in a form not matched)", page(2, entry("<Key>a</Key><Size>1</Size>"), '<Contents xmlns:x="y"><Key>b</Key></Contents>')],
      ["an entry without its size", page(1, entry("<Key>a</Key>"))],
      ["an entry whose key is not plain text", page(1, entry("<Key><![CDATA[a]]></Key><Size>1</Size>"))],
      ["a common prefix without its prefix", page(1, "<CommonPrefixes><Prefix/></CommonPrefixes>")],
      ["an entity that names no character", page(1, entry("<Key>&#1114112;</Key><Size>1</Size>"))],
    ];
    for (const [what, xml] of unread) assert.equal(parseListing(xml), undefined, what);
  });
});

describe("S3 listings asked for with encoding-type=url", () => {
  const page = (encoding: string) =>
    "<ListBucketResult><KeyCount>2</KeyCount><IsTruncated>true</IsTruncated><NextContinuationToken>a%2Bb</NextContinuationToken>" +
    encoding +
    "<Contents><Key>run/esc%1B+sp%2Bplus%25caf%C3%A9</Key><Size>1</Size></Contents>" +
    "<CommonPrefixes><Prefix>run/d%20ir/</Prefix></CommonPrefixes></ListBucketResult>";

  it("decodes keys and folder prefixes when the answer says it encoded them, never the continuation token", () => {
    const decoded = decodedListing(parseListing(page("<EncodingType>url</EncodingType>")) ?? {}, "s3://b/run");
    assert.equal(decoded.Contents?.[0]?.Key, "run/esc\u001b sp+plus%café");
    assert.equal(decoded.CommonPrefixes?.[0]?.Prefix, "run/d ir/");
    assert.equal(decoded.NextContinuationToken, "a%2Bb");
  });

  it("leaves the keys of a store that ignored the request as they came", () => {
    const plain = decodedListing(parseListing(page("")) ?? {}, "s3://b/run");
    assert.equal(plain.Contents?.[0]?.Key, "run/esc%1B+sp%2Bplus%25caf%C3%A9");
    assert.equal(plain.CommonPrefixes?.[0]?.Prefix, "run/d%20ir/");
  });

  it("fails CORRUPT_DATA on a key that is not percent-encoded UTF-8", () => {
    const listing = { EncodingType: "url", Contents: [{ Key: "run/%FF" }] };
    assert.throws(() => decodedListing(listing, "s3://b/run"), (error: unknown) => isOpenCrateError(error, "CORRUPT_DATA") && error.message.includes('"run/%FF"'));
  });
});

describe("S3 reads without the SDK: a store whose clock is far from ours", () => {
  /** A store whose first answer is RequestTimeTooSkewed, dated `skewMs` from now; later answers say "ok". */
  async function skewedStore(skewMs: number) {
    const signedAt: string[] = [];
    const server = createServer((request, response) => {
      signedAt.push(String(request.headers["x-amz-date"]));
      if (signedAt.length === 1) {
        const body = "<Error><Code>RequestTimeTooSkewed</Code><Message>The difference is too large.</Message></Error>";
        response.writeHead(403, { date: new Date(Date.now() + skewMs).toUTCString(), "content-type": "application/xml", "content-length": Buffer.byteLength(body) });
        response.end(body);
        return;
      }
      response.writeHead(200, { "content-length": 2 });
      response.end("ok");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const backend = new S3Backend({ bucket: "bucket", endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, region: "us-east-1", credentials: fixed });
    const close = async () => {
      await backend.close();
      server.closeAllConnections();
      server.close();
    };
    return { signedAt, backend, close };
  }
  const asDate = (amz: string | undefined) => Date.parse((amz ?? "").replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, "$1-$2-$3T$4:$5:$6Z"));

  for (const [name, read] of [
    ["a small read", async (backend: S3Backend) => Buffer.from(await backend.get("a.txt")).toString()],
    ["a stream", async (backend: S3Backend) => {
      const chunks: Buffer[] = [];
      for await (const chunk of await backend.getStream("a.txt")) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString();
    }],
  ] as const) {
    it(`${name}: takes the store's time from a RequestTimeTooSkewed answer and signs the retry with it`, async () => {
      const skewMs = 3_600_000;
      const store = await skewedStore(skewMs);
      try {
        assert.equal(await read(store.backend), "ok");
        assert.equal(store.signedAt.length, 2, "one refused request, one retry");
        const moved = asDate(store.signedAt[1]) - asDate(store.signedAt[0]);
        assert.ok(Math.abs(moved - skewMs) < 60_000, `the retry was signed ${moved} ms after the first request, not about ${skewMs}`);
      } finally {
        await store.close();
      }
    });
  }

  it("does not send again a request refused for skew by a store whose clock is within minutes of ours", async () => {
    const store = await skewedStore(60_000);
    try {
      await assert.rejects(store.backend.get("a.txt"), (error: unknown) => isOpenCrateError(error));
      assert.equal(store.signedAt.length, 1, "the clock was not moved, so the same request would be refused again");
    } finally {
      await store.close();
    }
  });
});

describe("S3 reads without the SDK: requests as the SDK sends them", () => {
  it("a listing goes to the bucket's path with a trailing slash and its parameters in the query; a head to the object's path", async () => {
    const seen: string[] = [];
    const listing = "<ListBucketResult><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>";
    const server = createServer((request, response) => {
      seen.push(`${request.method} ${request.url}`);
      const body = request.method === "HEAD" ? "" : listing;
      response.writeHead(200, { "content-length": request.method === "HEAD" ? 7 : Buffer.byteLength(body), etag: '"e"' });
      response.end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const backend = new S3Backend({ bucket: "bucket", prefix: "run", endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, region: "us-east-1", credentials: fixed });
    try {
      assert.deepEqual(await backend.listPage("a b/", { pageSize: 5 }), { objects: [], prefixes: [] });
      assert.equal((await backend.head("a b/c+d.txt")).size, 7);
      assert.deepEqual(seen, ["GET /bucket/?list-type=2&prefix=run%2Fa%20b%2F&max-keys=5&delimiter=%2F&encoding-type=url", "HEAD /bucket/run/a%20b/c%2Bd.txt"]);
    } finally {
      await backend.close();
      server.closeAllConnections();
      server.close();
    }
  });
});

describe("S3 reads without the SDK: time-outs", () => {
  it("a stream, a head and a listing give up on a store that never completes a connection or never answers", { timeout: 60_000 }, async () => {
    const unaccepting = await startUnacceptingEndpoint();
    const silent = await startSilentEndpoint();
    try {
      for (const endpoint of [unaccepting.endpoint, silent.endpoint]) {
        const backend = new S3Backend({ bucket: "bucket", endpoint, region: "us-east-1", credentials: fixed, connectionTimeoutMs: 300, requestTimeoutMs: 300, maxAttempts: 1 });
        const calls = [
          ["stream", () => backend.getStream("a.bin")],
          ["head", () => backend.head("a.bin")],
          ["listing", () => backend.listPage("")],
        ] as const;
        for (const [name, call] of calls) {
          const error = await rejectsWithCode(call(), "TRANSIENT", `${name} on ${endpoint}`);
          assert.match(error.message, /unreachable \(timed out\)/, `${name}: ${error.message}`);
        }
        await backend.close();
      }
    } finally {
      await unaccepting.close();
      await silent.close();
    }
  });

  it("a head, a listing, a read and a stream waiting on a silent store end when their signal fires", { timeout: 60_000 }, async () => {
    const silent = await startSilentEndpoint();
    const backend = new S3Backend({ bucket: "bucket", endpoint: silent.endpoint, region: "us-east-1", credentials: fixed, requestTimeoutMs: 120_000 });
    try {
      const calls = [
        ["head", (signal: AbortSignal) => backend.head("a.bin", { signal })],
        ["listing", (signal: AbortSignal) => backend.listPage("", { signal })],
        ["read", (signal: AbortSignal) => backend.get("a.bin", { signal })],
        ["stream", (signal: AbortSignal) => backend.getStream("a.bin", { signal })],
      ] as const;
      for (const [name, call] of calls) {
        const controller = new AbortController();
        setTimeout(() => controller.abort(), 100);
        await assert.rejects(call(controller.signal), (error: unknown) => (error as Error).name === "AbortError", name);
      }
    } finally {
      await backend.close();
      await silent.close();
    }
  });

  it("a stream whose body stops midway fails TRANSIENT instead of waiting", { timeout: 60_000 }, async () => {
    const server = createServer((_request, response) => {
      response.writeHead(200, { "content-length": 100 });
      response.write(Buffer.alloc(10));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const backend = new S3Backend({ bucket: "bucket", endpoint, region: "us-east-1", credentials: fixed, requestTimeoutMs: 300, maxAttempts: 1 });
    try {
      const body = await backend.getStream("a.bin");
      const reading = (async () => {
        for await (const chunk of body) void chunk;
      })();
      await rejectsWithCode(reading, "TRANSIENT", "the stalled body");
    } finally {
      await backend.close();
      server.closeAllConnections();
      server.close();
    }
  });
});

const minio = minioEnv();
const MID_BODY = randomBytes(2 * 1024 * 1024 + 3);
const LARGE_BODY = randomBytes(9 * 1024 * 1024 + 5);

describe("S3 reads without the SDK, on MinIO", { skip: skipUnless(minio, "MinIO", "TEST_MINIO_ENDPOINT") }, () => {
  const prefix = `plain-reads-${process.pid}-${Date.now()}`;
  const keys = ["a.json", "folder/b & c.txt", "folder/é ü/d.bin", "folder/sub/e.bin", "odd +&=*é'(x)/f.txt", "odd +&=*é'(x)/g <h>.txt"];
  let backend: S3Backend;
  let viaSdk: S3Backend;

  before(async () => {
    if (minio === undefined) return;
    backend = new S3Backend(s3Options(minio, { prefix }));
    viaSdk = new S3Backend(s3Options(minio, { prefix, credentials: async () => ({ accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey }) }));
    for (const [index, key] of keys.entries()) await viaSdk.put(key, `body ${index} of ${key}`, { metadata: { "run-id": `r${index}` } });
    await viaSdk.put("large.bin", LARGE_BODY);
  });

  after(async () => {
    if (minio === undefined) return;
    await viaSdk.deleteMany([...keys, "large.bin"]);
    await Promise.all([backend.close(), viaSdk.close()]);
  });

  it("heads, lists and reads exactly what the SDK path does", async () => {
    for (const key of keys) {
      assert.deepEqual(await backend.head(key), await viaSdk.head(key), key);
      assert.deepEqual(await backend.get(key), await viaSdk.get(key), key);
      assert.deepEqual(await backend.get(key, { range: { offset: 2, length: 3 } }), await viaSdk.get(key, { range: { offset: 2, length: 3 } }), key);
    }
    const all = async (from: S3Backend, under: string, pageSize?: number) => {
      const found = [];
      for await (const info of from.list(under, pageSize === undefined ? {} : { pageSize })) found.push(info);
      return found;
    };
    const streamed = async (from: S3Backend, key: string, options: Parameters<S3Backend["getStream"]>[1] = {}) => {
      const chunks: Buffer[] = [];
      for await (const chunk of await from.getStream(key, options)) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    };
    for (const key of [...keys, "large.bin"]) {
      assert.deepEqual(await streamed(backend, key), await streamed(viaSdk, key), key);
      assert.deepEqual(await streamed(backend, key, { range: { offset: 3 } }), await streamed(viaSdk, key, { range: { offset: 3 } }), key);
    }
    assert.ok(Buffer.from(await backend.get("large.bin")).equals(LARGE_BODY), "a read past 8 MiB streams into memory");
    assert.equal((await streamed(backend, "a.json", { range: { offset: 10_000 } })).byteLength, 0, "a range past the end is empty");
    assert.deepEqual(await all(backend, ""), await all(viaSdk, ""));
    assert.deepEqual(await all(backend, "folder/", 1), await all(viaSdk, "folder/"), "pages of one key follow the continuation");
    assert.deepEqual(await backend.listPage("folder/"), await viaSdk.listPage("folder/"));
    assert.deepEqual(await all(backend, "odd +&=*é'(x)/"), await all(viaSdk, "odd +&=*é'(x)/"), "a prefix every character of which needs escaping");
    assert.equal((await all(backend, "odd +&=*é'(x)/")).length, 2);
    assert.deepEqual(await backend.listPage(""), await viaSdk.listPage(""));
    assert.deepEqual((await backend.listPage("folder/")).prefixes, ["folder/sub/", "folder/é ü/"].sort());
  });

  it("fails a missing key, a missing bucket and wrong keys with the SDK path's typed errors", async () => {
    if (minio === undefined) return;
    const missing = await rejectsWithCode(backend.head("missing.json"), "NOT_FOUND", "head of a missing key");
    assert.match(missing.message, /missing\.json/);
    await rejectsWithCode(backend.get("missing.json"), "NOT_FOUND", "get of a missing key");
    const noBucket = new S3Backend(s3Options(minio, { bucket: `no-such-bucket-${process.pid}` }));
    const listing = (async () => {
      for await (const info of noBucket.list("")) return info;
      return undefined;
    })();
    const noBucketError = await rejectsWithCode(listing, "NOT_FOUND", "listing a missing bucket");
    assert.match(noBucketError.message, /Bucket "no-such-bucket-\d+" does not exist/);
    const wrongKeys = new S3Backend(s3Options(minio, { prefix, credentials: { accessKeyId: minio.accessKeyId, secretAccessKey: "wrong-secret" }, maxAttempts: 1 }));
    await rejectsWithCode(wrongKeys.get("a.json"), "PERMISSION_DENIED", "get with a wrong secret");
    await rejectsWithCode(wrongKeys.head("a.json"), "PERMISSION_DENIED", "head with a wrong secret");
    await rejectsWithCode(wrongKeys.listPage(""), "PERMISSION_DENIED", "listing with a wrong secret");
    await rejectsWithCode(wrongKeys.getStream("a.json"), "PERMISSION_DENIED", "a stream with a wrong secret");
    await rejectsWithCode(backend.getStream("missing.json"), "NOT_FOUND", "a stream of a missing key");
    await Promise.all([noBucket.close(), wrongKeys.close()]);
  });

  it("a read-only process (open a snapshot, list it, download a checkpoint) never loads the SDK", { timeout: 60_000 }, async () => {
    if (minio === undefined) return;
    const source = new S3Backend(s3Options(minio, { prefix }));
    await source.put("plain/v0/checkpoints/model.bin", "weights");
    await source.put("plain/v0/plain.log", "a line\n");
    await source.put("plain/v0/checkpoints/empty.bin", "");
    // From 1 MiB a download streams one GET (getStream) until it is large enough for parallel ranges.
    await source.put("plain/v0/checkpoints/mid.bin", MID_BODY);
    const script = `
      import { registerHooks } from "node:module";
      import { readFileSync } from "node:fs";
      const seen = [];
      registerHooks({ resolve(specifier, context, next) { const result = next(specifier, context); seen.push(result.url); return result; } });
      const { Snapshot } = await import(process.argv[1]);
      const snapshot = await Snapshot.open(process.argv[2]);
      await snapshot.checkpoint("model.bin").downloadTo(process.argv[3]);
      // An empty object's ranged read is refused (416) with an error body longer than the one byte asked for.
      await snapshot.checkpoint("empty.bin").downloadTo(process.argv[3] + ".empty");
      await snapshot.checkpoint("mid.bin").downloadTo(process.argv[3] + ".mid");
      const midBytes = readFileSync(process.argv[3] + ".mid").length;
      const bytes = readFileSync(process.argv[3], "utf8");
      const empty = readFileSync(process.argv[3] + ".empty", "utf8");
      console.log(JSON.stringify({ bytes, empty, midBytes, sdk: seen.filter((url) => url.includes("@aws-sdk")).length }));
    `;
    const folder = mkdtempSync(join(tmpdir(), "opencrate-plain-reads-"));
    try {
      const entry = pathToFileURL(new URL("../../src/index.ts", import.meta.url).pathname).href;
      const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("AWS_")));
      const env = { ...inherited, NODE_OPTIONS: "", AWS_ENDPOINT_URL_S3: minio.endpoint, AWS_ACCESS_KEY_ID: minio.accessKeyId, AWS_SECRET_ACCESS_KEY: minio.secretAccessKey, AWS_REGION: minio.region };
      const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", script, entry, `s3://${minio.bucket}/${prefix}/plain@0`, join(folder, "model.bin")], { env });
      assert.deepEqual(JSON.parse(stdout.trim()), { bytes: "weights", empty: "", midBytes: MID_BODY.byteLength, sdk: 0 });
    } finally {
      rmSync(folder, { recursive: true, force: true });
      await source.deleteMany(["plain/v0/checkpoints/model.bin", "plain/v0/checkpoints/empty.bin", "plain/v0/checkpoints/mid.bin", "plain/v0/plain.log"]);
      await source.close();
    }
  });
});
