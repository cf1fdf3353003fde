/**
 * S3Backend.append as the conformance suite cannot see it, through a recording proxy: from 5 MiB only the new bytes
 * cross the network (UploadPartCopy of the object + UploadPart of the bytes); a writer that gets in during the
 * append wins and no multipart upload is left open; below 5 MiB, and on moto (which ignores If-Match on
 * CompleteMultipartUpload), the object is rewritten conditionally instead.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { S3Client } from "@aws-sdk/client-s3";
import { S3Backend } from "../../src/backends/s3/index.ts";
import { assertSameBytes, randomBody, readText, rejectsWithCode } from "../conformance/helpers.ts";
import { ensureBucket, rawClient, rawListing, s3Options } from "../support/s3.ts";
import { startS3Proxy, type Interceptor, type ProxiedRequest, type RunningServer } from "../support/s3-proxy.ts";
import { minioEnv, motoEnv, skipUnless, type S3ServerEnv } from "../support/servers.ts";
import { deleteUnder } from "../support/bucket-factory.ts";

const MiB = 1024 * 1024;
const KEY = "logs/run.history.log";
const TEXT = "text/plain; charset=utf-8";

/** Request bodies sent in PUTs (PutObject, UploadPart) from `from` on: the bytes this process uploaded. */
function uploadedBytes(requests: readonly ProxiedRequest[], from: number): number {
  return requests.slice(from).reduce((sum, request) => sum + (request.method === "PUT" ? request.body.byteLength : 0), 0);
}

function partCopies(requests: readonly ProxiedRequest[], from: number): number {
  return requests.slice(from).filter((request) => request.headers["x-amz-copy-source"] !== undefined).length;
}

const isComplete = (request: ProxiedRequest) => request.method === "POST" && request.url.includes("uploadId=");
const isPartCopy = (request: ProxiedRequest) => request.method === "PUT" && request.headers["x-amz-copy-source"] !== undefined;

function describeOn(label: string, server: S3ServerEnv | undefined, variable: string, body: (context: AppendContext) => void): void {
  describe(`S3Backend.append on ${label}`, { skip: skipUnless(server, label, variable) }, () => {
    const context = new AppendContext(server as S3ServerEnv);
    before(() => context.setUp());
    after(() => context.tearDown());
    body(context);
  });
}

class AppendContext {
  readonly server: S3ServerEnv;
  readonly #backends: S3Backend[] = [];
  readonly #proxies: RunningServer[] = [];
  readonly #prefixes: string[] = [];
  raw: S3Client | undefined;

  constructor(server: S3ServerEnv) {
    this.server = server;
  }

  async setUp(): Promise<void> {
    await ensureBucket(this.server);
    this.raw = await rawClient(this.server);
  }

  async tearDown(): Promise<void> {
    await Promise.all(this.#backends.map((backend) => backend.close()));
    await Promise.all(this.#proxies.map((proxy) => proxy.close()));
    const cleaner = new S3Backend(s3Options(this.server));
    await deleteUnder(cleaner, this.#prefixes);
    await cleaner.close();
    this.raw?.destroy();
  }

  /** A backend under a fresh prefix that talks to the server through a recording proxy. */
  async proxied(intercept: Interceptor = (_request, forward) => forward()) {
    const proxy = await startS3Proxy(this.server.endpoint, intercept);
    this.#proxies.push(proxy);
    const prefix = `t-${randomUUID()}`;
    this.#prefixes.push(prefix);
    const backend = new S3Backend(s3Options(this.server, { prefix, endpoint: proxy.endpoint }));
    this.#backends.push(backend);
    return { backend, proxy, prefix };
  }

  /** Replaces `key` behind the backend's back, straight at the server. */
  async replaceDirectly(prefix: string, key: string, text: string): Promise<void> {
    const { PutObjectCommand } = await import("@aws-sdk/client-s3");
    await this.raw?.send(new PutObjectCommand({ Bucket: this.server.bucket, Key: `${prefix}/${key}`, Body: text }));
  }

  async contentType(prefix: string, key: string): Promise<string | undefined> {
    const { HeadObjectCommand } = await import("@aws-sdk/client-s3");
    return (await this.raw?.send(new HeadObjectCommand({ Bucket: this.server.bucket, Key: `${prefix}/${key}` })))?.ContentType;
  }
}

describeOn("MinIO", minioEnv(), "TEST_MINIO_ENDPOINT", (context) => {
  it("appends to a 6 MiB object by a server-side part copy: only the new bytes are uploaded", async () => {
    const { backend, proxy, prefix } = await context.proxied();
    const old = randomBody(6 * MiB);
    await backend.put(KEY, old, { contentType: TEXT, metadata: { "oc-batches": "a" } });
    const added = Buffer.from("one more line\n".repeat(20));
    const mark = proxy.requests.length;
    const info = await backend.append(KEY, added, { metadata: { "oc-batches": "a b" } });

    assert.ok(partCopies(proxy.requests, mark) >= 1, "the old bytes were copied inside the store");
    const uploaded = uploadedBytes(proxy.requests, mark);
    assert.ok(uploaded < added.byteLength + 4096, `uploaded ${uploaded} bytes for an append of ${added.byteLength}`);
    assert.equal(info.size, old.byteLength + added.byteLength);
    assertSameBytes(await backend.get(KEY), Buffer.concat([old, added]), "appended object");
    const head = await backend.head(KEY);
    assert.equal(head.revision, info.revision);
    assert.deepEqual({ ...head.metadata }, { "oc-batches": "a b" });
    assert.equal(await context.contentType(prefix, KEY), TEXT, "the content type is kept");
    assert.deepEqual((await rawListing(context.server, prefix)).uploads, []);
  });

  it("a writer that replaces the object before completion wins: PRECONDITION_FAILED, its bytes stay, no upload left open", async () => {
    let prefix = "";
    let replaced = false;
    const proxied = await context.proxied(async (request, forward) => {
      if (isComplete(request) && !replaced) {
        replaced = true;
        await context.replaceDirectly(prefix, KEY, "the other writer\n");
      }
      return forward();
    });
    prefix = proxied.prefix;
    const { backend } = proxied;
    const first = await backend.put(KEY, randomBody(5 * MiB));
    await rejectsWithCode(backend.append(KEY, Buffer.from("mine\n"), { ifRevision: first.revision }), "PRECONDITION_FAILED", "append");
    assert.ok(replaced, "the completion was reached");
    assert.equal(await readText(backend, KEY), "the other writer\n");
    assert.deepEqual((await rawListing(context.server, prefix)).uploads, [], "the upload was aborted");
  });

  it("a writer that replaces the object before the part copy wins too (CopySourceIfMatch)", async () => {
    let prefix = "";
    let replaced = false;
    const proxied = await context.proxied(async (request, forward) => {
      if (isPartCopy(request) && !replaced) {
        replaced = true;
        await context.replaceDirectly(prefix, KEY, "the other writer\n");
      }
      return forward();
    });
    prefix = proxied.prefix;
    const { backend } = proxied;
    await backend.put(KEY, randomBody(5 * MiB));
    await rejectsWithCode(backend.append(KEY, Buffer.from("mine\n")), "PRECONDITION_FAILED", "append");
    assert.ok(replaced);
    assert.equal(await readText(backend, KEY), "the other writer\n");
    assert.deepEqual((await rawListing(context.server, prefix)).uploads, []);
  });

  it("below 5 MiB the object is rewritten (get + conditional put), with no multipart upload", async () => {
    const { backend, proxy, prefix } = await context.proxied();
    const old = randomBody(64 * 1024);
    const first = await backend.put(KEY, old, { contentType: TEXT });
    const mark = proxy.requests.length;
    await backend.append(KEY, Buffer.from("x\n"), { ifRevision: first.revision });
    assert.equal(partCopies(proxy.requests, mark), 0);
    assert.ok(uploadedBytes(proxy.requests, mark) >= old.byteLength);
    assertSameBytes(await backend.get(KEY), Buffer.concat([old, Buffer.from("x\n")]), "rewritten object");
    assert.equal(await context.contentType(prefix, KEY), TEXT);
  });
});

describeOn("moto", motoEnv(), "TEST_MOTO_ENDPOINT", (context) => {
  it("moto ignores If-Match on CompleteMultipartUpload, so a large append rewrites the object conditionally", async () => {
    const { backend, proxy } = await context.proxied();
    const old = randomBody(6 * MiB);
    const first = await backend.put(KEY, old);
    const mark = proxy.requests.length;
    const info = await backend.append(KEY, Buffer.from("tail\n"), { ifRevision: first.revision });
    assert.equal(partCopies(proxy.requests, mark), 0, "no part copy on a store that would not check its completion");
    assertSameBytes(await backend.get(KEY), Buffer.concat([old, Buffer.from("tail\n")]), "rewritten object");
    await rejectsWithCode(backend.append(KEY, Buffer.from("late\n"), { ifRevision: first.revision }), "PRECONDITION_FAILED", "stale");
    assert.equal((await backend.head(KEY)).revision, info.revision);
  });
});
