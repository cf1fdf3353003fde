/**
 * S3 backend behaviour that needs no S3 server: configuration, key mapping, error mapping, settling conditional
 * writes whose outcome is unknown, lazy loading, the start-up probe against a store that ignores preconditions,
 * and an unreachable endpoint.
 */
import { checkedBackend } from "../../src/backends/layers/checked.ts";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { startSilentEndpoint } from "../support/unaccepting-endpoint.ts";
import { Readable } from "node:stream";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { after, describe, it } from "node:test";
import { CREATE_ONLY, ifRevision } from "../../src/backends/backend.ts";
import { S3Backend } from "../../src/backends/s3/index.ts";
import { mapS3Error, type S3ErrorContext } from "../../src/backends/s3/errors.ts";
import { resolveS3Settings } from "../../src/backends/s3/options.ts";
import { partRanges } from "../../src/backends/s3/multipart-copy.ts";
import { partSizeFor } from "../../src/backends/s3/checks.ts";
import { forgetProbeVerdicts } from "../../src/backends/s3/probe.ts";
import { runConditionalWrite } from "../../src/backends/s3/conditional.ts";
import { NO_RETRY } from "../../src/backends/retry-policy.ts";
import { isOpenCrateError, type ErrorCode } from "../../src/errors.ts";
import { parseLocation } from "../../src/uri.ts";
import { rejectsWithCode } from "../conformance/helpers.ts";
import { startCarelessStore, startStoreRefusingConditionalDeletes, type RunningServer } from "../support/s3-proxy.ts";
import { deleteAtRevision } from "../../src/backends/delete-at-revision.ts";

const MiB = 1024 * 1024;
const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/** An SDK-shaped error: what @aws-sdk/client-s3 throws for a service error. */
function sdkError(name: string, status: number | undefined, message = "", attempts = 1): Error {
  return Object.assign(new Error(message), {
    name,
    $fault: "client",
    $metadata: { ...(status === undefined ? {} : { httpStatusCode: status }), attempts },
  });
}

const context: S3ErrorContext = {
  action: "write",
  uri: "s3://bucket/prefix/claims/0001.json",
  bucket: "bucket",
  endpoint: "http://127.0.0.1:9000",
};

function expectCode(error: Error, code: ErrorCode): void {
  assert.ok(isOpenCrateError(error, code), `expected ${code}, got ${error.name}: ${error.message}`);
}

describe("S3 error mapping", () => {
  it("maps a failed If-None-Match to ALREADY_EXISTS and a failed If-Match to PRECONDITION_FAILED", () => {
    const error = sdkError("PreconditionFailed", 412, "At least one of the pre-conditions you specified did not hold");
    const created = mapS3Error(error, { ...context, mode: "create" });
    expectCode(created, "ALREADY_EXISTS");
    assert.ok(created.message.includes(context.uri), created.message);
    assert.equal(created.cause, error, "the SDK error is the cause");
    expectCode(mapS3Error(error, { ...context, mode: "replace" }), "PRECONDITION_FAILED");
  });

  it("reads the error name before the status: a 200 with an error body arrives as 400 PreconditionFailed", () => {
    const error = sdkError("PreconditionFailed", 400);
    expectCode(mapS3Error(error, { ...context, mode: "create" }), "ALREADY_EXISTS");
    expectCode(mapS3Error(sdkError("NoSuchKey", 400), context), "NOT_FOUND");
  });

  it("treats If-Match on a missing key (404 NoSuchKey) as a lost precondition, and as NOT_FOUND otherwise", () => {
    const error = sdkError("NoSuchKey", 404, "The specified key does not exist.");
    expectCode(mapS3Error(error, { ...context, mode: "replace" }), "PRECONDITION_FAILED");
    expectCode(mapS3Error(error, { ...context, action: "read" }), "NOT_FOUND");
    expectCode(mapS3Error(sdkError("NotFound", 404), { ...context, action: "read" }), "NOT_FOUND");
  });

  it("names the bucket and the endpoint when the bucket does not exist", () => {
    const mapped = mapS3Error(sdkError("NoSuchBucket", 404, "The specified bucket does not exist"), context);
    expectCode(mapped, "NOT_FOUND");
    assert.match(mapped.message, /Bucket "bucket" does not exist at http:\/\/127\.0\.0\.1:9000/);
  });

  it("maps credential and permission failures to PERMISSION_DENIED without leaking secrets", () => {
    for (const name of ["AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"]) {
      const mapped = mapS3Error(sdkError(name, 403, "The request signature we calculated does not match"), context);
      expectCode(mapped, "PERMISSION_DENIED");
      assert.ok(mapped.message.includes(context.uri), mapped.message);
      assert.ok(!mapped.message.includes(SECRET));
    }
    expectCode(mapS3Error(sdkError("Unknown", 403), context), "PERMISSION_DENIED");
    const missing = mapS3Error(Object.assign(new Error("Could not load credentials from any providers"), { name: "CredentialsProviderError" }), context);
    expectCode(missing, "PERMISSION_DENIED");
    assert.match(missing.message, /AWS_ACCESS_KEY_ID/);
  });

  it("says that a missing AWS_PROFILE, not the key variables, is why no credentials were found", () => {
    const before = process.env.AWS_PROFILE;
    process.env.AWS_PROFILE = "no-such-profile";
    try {
      const missing = mapS3Error(Object.assign(new Error("Could not resolve credentials using profile"), { name: "CredentialsProviderError" }), context);
      expectCode(missing, "PERMISSION_DENIED");
      assert.match(missing.message, /from the profile AWS_PROFILE=no-such-profile: it is not in the AWS config and credentials files/);
      assert.match(missing.message, /AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not used; fix the profile or unset AWS_PROFILE/);
    } finally {
      if (before === undefined) delete process.env.AWS_PROFILE;
      else process.env.AWS_PROFILE = before;
    }
  });

  it("puts no stray colon before the message of an error that has neither an S3 code nor a status", () => {
    const error = mapS3Error(new Error("something broke"), context);
    assert.match(error.message, /\(something broke\)/);
    assert.doesNotMatch(error.message, /\(: /);
  });

  it("maps 409 conflicts, throttling, 5xx, time-outs and refused connections to TRANSIENT", () => {
    expectCode(mapS3Error(sdkError("ConditionalRequestConflict", 409), { ...context, mode: "create" }), "TRANSIENT");
    expectCode(mapS3Error(sdkError("SlowDown", 503), context), "TRANSIENT");
    expectCode(mapS3Error(sdkError("InternalError", 500), context), "TRANSIENT");
    expectCode(mapS3Error(sdkError("Unknown", 502), context), "TRANSIENT");
    const refused = mapS3Error(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" }), context);
    expectCode(refused, "TRANSIENT");
    assert.match(refused.message, /unreachable \(ECONNREFUSED\)/);
    assert.ok(refused instanceof Error && isOpenCrateError(refused) && refused.retryable);
    const aggregate = Object.assign(new AggregateError([Object.assign(new Error("x"), { code: "ECONNREFUSED" })]), { code: undefined });
    expectCode(mapS3Error(aggregate, context), "TRANSIENT");
    expectCode(mapS3Error(Object.assign(new Error("Socket timed out"), { name: "TimeoutError" }), context), "TRANSIENT");
    expectCode(mapS3Error(Object.assign(new Error("getaddrinfo ENOTFOUND nowhere"), { code: "ENOTFOUND" }), context), "TRANSIENT");
  });

  it("maps a rejected request to INVALID_ARGUMENT and NotImplemented to NOT_SUPPORTED", () => {
    expectCode(mapS3Error(sdkError("KeyTooLongError", 400), context), "INVALID_ARGUMENT");
    expectCode(mapS3Error(sdkError("NotImplemented", 501), context), "NOT_SUPPORTED");
  });

  it("passes opencrate errors and the caller's aborts through unchanged", () => {
    const abort = new DOMException("This operation was aborted", "AbortError");
    assert.equal(mapS3Error(abort, context), abort);
    const own = mapS3Error(sdkError("NoSuchKey", 404), context);
    assert.equal(mapS3Error(own, context), own);
  });
});

describe("S3 conditional writes whose outcome is unknown", () => {
  const settle = (writeError: Error, readBack: () => Promise<string | undefined>) =>
    runConditionalWrite<string>({ write: () => Promise.reject(writeError), readBackIfOurs: readBack, replayable: false, retry: NO_RETRY });
  const mapped = async (attempt: Promise<unknown>, mode: "create" | "replace"): Promise<Error> => {
    const error = await attempt.then(() => assert.fail("expected a failure"), (caught: unknown) => caught);
    return mapS3Error(error, { ...context, mode });
  };
  const retried412 = () => sdkError("PreconditionFailed", 412, "At least one of the pre-conditions you specified did not hold", 2);

  it("is TRANSIENT, naming the key with both failures attached, when the 412 came after a retry and the read-back fails", async () => {
    const readBackFailure = sdkError("ServiceUnavailable", 503, "", 3);
    for (const mode of ["create", "replace"] as const) {
      const error = await mapped(settle(retried412(), () => Promise.reject(readBackFailure)), mode);
      expectCode(error, "TRANSIENT");
      assert.ok(error.message.includes(context.uri), error.message);
      assert.ok(error.cause instanceof AggregateError && error.cause.errors.includes(readBackFailure), "both failures kept");
    }
  });

  it("is still settled by the read-back: our token means success, another object or none means the 412 stands", async () => {
    assert.equal(await settle(retried412(), () => Promise.resolve("ours")), "ours");
    expectCode(await mapped(settle(retried412(), () => Promise.resolve(undefined)), "create"), "ALREADY_EXISTS");
    expectCode(await mapped(settle(retried412(), () => Promise.reject(sdkError("NotFound", 404))), "replace"), "PRECONDITION_FAILED");
  });

  it("does not read back a 412 answered on the first attempt", async () => {
    let reads = 0;
    const firstTry = sdkError("PreconditionFailed", 412);
    const readBack = async () => {
      reads += 1;
      return "ours";
    };
    const error = await mapped(settle(firstTry, readBack), "create");
    expectCode(error, "ALREADY_EXISTS");
    assert.equal(reads, 0);
  });
});

describe("S3 configuration", () => {
  it("takes the endpoint from the option, then AWS_ENDPOINT_URL_S3, then AWS_ENDPOINT_URL", () => {
    const env = { AWS_ENDPOINT_URL_S3: "http://s3-specific:9000", AWS_ENDPOINT_URL: "http://generic:9000" };
    assert.equal(resolveS3Settings({ bucket: "bkt", endpoint: "http://option:1/" }, env).endpoint, "http://option:1");
    assert.equal(resolveS3Settings({ bucket: "bkt" }, env).endpoint, "http://s3-specific:9000");
    assert.equal(resolveS3Settings({ bucket: "bkt" }, { AWS_ENDPOINT_URL: "http://generic:9000" }).endpoint, "http://generic:9000");
    assert.equal(resolveS3Settings({ bucket: "bkt" }, { ...env, AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: "true" }).endpoint, undefined);
    assert.equal(resolveS3Settings({ bucket: "bkt" }, {}).endpoint, undefined);
  });

  it("uses path-style URLs with a custom endpoint unless told otherwise", () => {
    assert.equal(resolveS3Settings({ bucket: "bkt" }, {}).forcePathStyle, false);
    assert.equal(resolveS3Settings({ bucket: "bkt", endpoint: "http://minio:9000" }, {}).forcePathStyle, true);
    assert.equal(resolveS3Settings({ bucket: "bkt", endpoint: "http://minio:9000" }, { AWS_S3_FORCE_PATH_STYLE: "false" }).forcePathStyle, false);
    assert.equal(resolveS3Settings({ bucket: "bkt" }, { AWS_S3_FORCE_PATH_STYLE: "true" }).forcePathStyle, true);
    assert.equal(resolveS3Settings({ bucket: "bkt", forcePathStyle: false, endpoint: "http://minio:9000" }, {}).forcePathStyle, false);
  });

  it("leaves the region to the SDK's chain unless given, and has sensible defaults", () => {
    const settings = resolveS3Settings({ bucket: "bkt" }, {});
    assert.equal(settings.region, undefined);
    assert.equal(settings.partSize, 8 * MiB);
    assert.equal(settings.queueSize, 4);
    assert.equal(resolveS3Settings({ bucket: "bkt", region: "eu-west-1" }, {}).region, "eu-west-1");
  });

  it("rejects bad options as INVALID_ARGUMENT", () => {
    for (const options of [
      { bucket: "" },
      { bucket: "Not_A_Bucket" },
      { bucket: "bkt", prefix: "/abs" },
      { bucket: "bkt", prefix: "a/../b" },
      { bucket: "bkt", endpoint: "not a url" },
      { bucket: "bkt", endpoint: "ftp://host" },
      { bucket: "bkt", partSize: 1024 },
      { bucket: "bkt", queueSize: 0 },
    ]) {
      assert.throws(() => new S3Backend(options), (error: unknown) => isOpenCrateError(error, "INVALID_ARGUMENT"), JSON.stringify(options));
    }
    assert.throws(() => resolveS3Settings({ bucket: "bkt" }, { AWS_S3_FORCE_PATH_STYLE: "maybe" }), /AWS_S3_FORCE_PATH_STYLE/);
  });

  it("builds from s3:// URIs and describes keys as s3:// URIs", () => {
    const backend = S3Backend.fromUri("s3://team-bucket/snapshots/train/");
    assert.equal(backend.kind, "s3");
    assert.equal(backend.bucket, "team-bucket");
    assert.equal(backend.prefix, "snapshots/train");
    assert.equal(backend.describe(""), "s3://team-bucket/snapshots/train");
    assert.equal(backend.describe("v0:initial/data.json"), "s3://team-bucket/snapshots/train/v0:initial/data.json");
    assert.equal(S3Backend.fromUri("s3://team-bucket").describe("a"), "s3://team-bucket/a");
    assert.deepEqual(backend.capabilities, {
      createOnly: true,
      compareAndSwap: true,
      copyCreateOnly: true,
      serverSideCopy: true,
      multipartThreshold: 8 * MiB,
      settlesConditionalWrites: true,
      conditionalDelete: true,
    });
  });

  it("rejects malformed s3:// URIs", () => {
    for (const uri of [
      "s3://",
      "s3:///prefix",
      "s3://ab",
      "s3://Upper-Case",
      "s3://bucket_name",
      "s3://bucket..dots",
      "s3://-bucket",
      "s3://bucket/a/../b",
      "s3://bucket/a//b",
      "s3://bucket/x?versionId=1",
      "s3://bucket/x#frag",
      "s3://key:secret@bucket/x",
      "s3://bucket/%zz",
    ]) {
      assert.throws(() => parseLocation(uri), (error: unknown) => isOpenCrateError(error, "INVALID_ARGUMENT"), uri);
      assert.throws(() => S3Backend.fromUri(uri), (error: unknown) => isOpenCrateError(error, "INVALID_ARGUMENT"), uri);
    }
    assert.throws(
      () => S3Backend.fromUri("s3://key:secret@bucket/x"),
      (error: unknown) => error instanceof Error && !error.message.includes("secret"),
      "credentials never reach the message",
    );
    // AWS secret keys often hold "/": the whole secret is still refused and masked, not read as bucket "key:wJal".
    assert.throws(
      () => S3Backend.fromUri("s3://AKIAEXAMPLE:wJal/K7MDENG+bPxR@bucket/x"),
      (error: unknown) =>
        isOpenCrateError(error, "INVALID_ARGUMENT") && /credentials/.test(error.message) && !/wJal|K7MDENG|bPxR/.test(error.message),
      "a secret with '/' never reaches the message",
    );
    assert.throws(() => S3Backend.fromUri("gs://bucket/x"), /not an s3:\/\/ location/);
    assert.throws(() => S3Backend.fromUri("/local/path"), /not an s3:\/\/ location/);
  });

  it("brings a per-call part size within S3's limits and grows it to fit a known size in 10,000 parts", () => {
    assert.equal(partSizeFor(1), 5 * MiB);
    assert.equal(partSizeFor(64 * MiB), 64 * MiB);
    assert.equal(partSizeFor(8 * MiB, 200 * 1024 * MiB), Math.ceil((200 * 1024 * MiB) / 10_000));
  });

  it("splits a big copy into parts within S3's limits", () => {
    assert.deepEqual(partRanges(0, 5 * MiB), [undefined]);
    assert.deepEqual(partRanges(5 * MiB, 5 * MiB), [undefined]);
    assert.deepEqual(partRanges(11 * MiB, 5 * MiB), [
      { start: 0, end: 5 * MiB - 1 },
      { start: 5 * MiB, end: 10 * MiB - 1 },
      { start: 10 * MiB, end: 11 * MiB - 1 },
    ]);
    const huge = partRanges(5 * 1024 * 1024 * MiB, 5 * MiB);
    assert.ok(huge.length <= 10_000, `${huge.length} parts`);
  });
});

describe("S3 backend without a server", () => {
  it("rejects keys over 1024 bytes once the prefix is added, before any I/O", async () => {
    // The endpoint is unreachable: any request would fail with TRANSIENT, not INVALID_ARGUMENT.
    const backend = checkedBackend(new S3Backend({ bucket: "bucket", prefix: "p".repeat(1000), endpoint: "http://127.0.0.1:1", region: "us-east-1" }));
    const key = "k".repeat(30);
    for (const [name, call] of [
      ["head", () => backend.head(key)],
      ["get", () => backend.get(key)],
      ["put", () => backend.put(key, "x", { mode: CREATE_ONLY })],
      ["putStream", () => backend.putStream(key, Readable.from([Buffer.from("x")]))],
      ["copy", () => backend.copy("ok", key)],
      ["delete", () => backend.delete(key)],
      ["deleteMany", () => backend.deleteMany([key])],
    ] as const) {
      const error = await rejectsWithCode(call(), "INVALID_ARGUMENT", name);
      assert.match(error.message, /S3 allows at most 1024/, `${name}: ${error.message}`);
    }
    await rejectsWithCode(backend.put("k".repeat(20), "x", { mode: ifRevision("") }), "INVALID_ARGUMENT", "empty revision");
    await rejectsWithCode(backend.put("ok", "x", { metadata: { Upper: "x" } }), "INVALID_ARGUMENT", "metadata key");
    await rejectsWithCode(backend.put("ok", "x", { metadata: { note: "naïve" } }), "INVALID_ARGUMENT", "metadata value");
    await backend.close();
  });

  it("fails within seconds, as TRANSIENT naming the endpoint, when the endpoint is unreachable", { timeout: 60_000 }, async () => {
    const backend = new S3Backend({
      bucket: "bucket",
      prefix: "p",
      endpoint: "http://127.0.0.1:1",
      region: "us-east-1",
      credentials: { accessKeyId: "AKIAEXAMPLE", secretAccessKey: SECRET },
    });
    for (const [name, call] of [
      ["head", () => backend.head("a.txt")],
      ["put", () => backend.put("a.txt", "x")],
      ["create-only put", () => backend.put("a.txt", "x", { mode: CREATE_ONLY })],
    ] as const) {
      const error = await rejectsWithCode(call(), "TRANSIENT", name);
      assert.match(error.message, /http:\/\/127\.0\.0\.1:1 is unreachable/, error.message);
      assert.ok(error.message.includes("s3://bucket/p"), error.message);
      assert.ok(!error.message.includes(SECRET));
    }
    await backend.close();
    await rejectsWithCode(backend.head("a.txt"), "INVALID_ARGUMENT", "after close");
  });

  it("gives up on an endpoint that accepts connections but never answers, instead of hanging", { timeout: 60_000 }, async () => {
    const silent = await startSilentEndpoint();
    const backend = new S3Backend({
      bucket: "bucket",
      endpoint: silent.endpoint,
      region: "us-east-1",
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
      requestTimeoutMs: 300,
      maxAttempts: 2,
    });
    try {
      const error = await rejectsWithCode(backend.get("a.txt"), "TRANSIENT", "get");
      assert.match(error.message, /unreachable \(timed out\)/);
    } finally {
      await backend.close();
      await silent.close();
    }
  });

  it("importing the S3 backend loads no AWS SDK module; the first request does", { timeout: 60_000 }, async () => {
    // In a child process, a module.registerHooks resolve hook records the URL of every module resolved (ESM
    // imports and require() alike, in the same thread), so "was any @aws-sdk module loaded?" is a plain lookup.
    const script = `
      import { registerHooks } from "node:module";
      const seen = [];
      registerHooks({ resolve(specifier, context, next) { const result = next(specifier, context); seen.push(result.url); return result; } });
      const sdkLoaded = () => seen.some((url) => url.includes("@aws-sdk"));
      const { S3Backend } = await import(process.argv[1]);
      const backend = new S3Backend({ bucket: "bucket", endpoint: "http://127.0.0.1:1", region: "us-east-1", maxAttempts: 1 });
      backend.describe("x");
      const afterImport = sdkLoaded();
      await backend.head("x").catch(() => {});
      console.log(JSON.stringify({ afterImport, afterRequest: sdkLoaded(), modules: seen.length }));
    `;
    const entry = pathToFileURL(new URL("../../src/backends/s3/index.ts", import.meta.url).pathname).href;
    const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", script, entry], {
      // Without fixed credentials the head goes through the SDK (with them it would not: s3-plain-reads.test.ts).
      env: { ...process.env, NODE_OPTIONS: "", AWS_ACCESS_KEY_ID: "", AWS_SECRET_ACCESS_KEY: "" },
    });
    const result = JSON.parse(stdout.trim()) as { afterImport: boolean; afterRequest: boolean; modules: number };
    assert.equal(result.afterImport, false, "no @aws-sdk module after importing and constructing the backend");
    assert.equal(result.afterRequest, true, "the hook does see the SDK once a request needs it (the check works)");
  });
});

describe("S3 start-up probe", () => {
  const servers: RunningServer[] = [];
  after(async () => {
    await Promise.all(servers.map((server) => server.close()));
    forgetProbeVerdicts();
  });

  it("does not take a 400 about the caller's credentials for a store without conditional deletes", async () => {
    const store = await startStoreRefusingConditionalDeletes(400, "ExpiredToken");
    servers.push(store);
    const backend = new S3Backend({ bucket: "expired", endpoint: store.endpoint, region: "us-east-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } });
    const error = await backend.delete("a.json", { ifRevision: '"abc"' }).then(
      () => assert.fail("the delete went through"),
      (failure: unknown) => failure,
    );
    assert.ok(!isOpenCrateError(error, "NOT_SUPPORTED"), String(error));
  });

  for (const [status, code] of [[400, "InvalidRequest"], [501, "NotImplemented"]] as const) {
    it(`takes a store answering ${status} ${code} to If-Match on DeleteObject for one without conditional deletes, and falls back to plain deletes`, async () => {
      const store = await startStoreRefusingConditionalDeletes(status, code);
      servers.push(store);
      const backend = new S3Backend({
        bucket: "plain",
        endpoint: store.endpoint,
        region: "us-east-1",
        credentials: { accessKeyId: "test", secretAccessKey: "test" },
      });
      const error = await rejectsWithCode(backend.delete("a.json", { ifRevision: '"abc"' }), "NOT_SUPPORTED", "conditional delete");
      assert.match(error.message, new RegExp(`answers ${status} ${code} to If-Match on DeleteObject`));
      assert.equal(await deleteAtRevision(backend, "a.json", '"abc"'), "deleted");
      const deletes = store.requests.filter((request) => request.method === "DELETE" && request.url.includes("a.json"));
      assert.deepEqual(deletes.map((request) => request.headers["if-match"] ?? "plain"), ["plain"], "only the fallback's plain delete reached a.json");
    });
  }

  it("refuses a store that ignores If-None-Match, remembers the verdict, and still allows plain writes", async () => {
    const store = await startCarelessStore();
    servers.push(store);
    const options = {
      bucket: "careless",
      prefix: "runs",
      endpoint: store.endpoint,
      region: "us-east-1",
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
    };
    const backend = new S3Backend(options);
    const error = await rejectsWithCode(backend.put("claims/0001.json", "x", { mode: CREATE_ONLY }), "NOT_SUPPORTED", "create");
    assert.match(error.message, /ignores If-None-Match/);
    assert.match(error.message, /opencrate refuses to allocate versions on it/);
    assert.ok(error.message.includes(store.endpoint), error.message);
    const probePuts = store.requests.filter((request) => request.method === "PUT");
    assert.equal(probePuts.length, 2, "two create-only puts of the probe key, then the verdict");
    assert.match(probePuts[0]?.url ?? "", /^\/careless\/runs\/\.opencrate\/probe\/[0-9a-f-]{36}/);
    assert.equal(probePuts[0]?.headers["if-none-match"], "*");
    const probePath = (probePuts[0]?.url ?? "").split("?")[0];
    assert.ok(store.requests.some((request) => request.method === "DELETE" && request.url.split("?")[0] === probePath), "probe deleted");
    assert.ok(!store.requests.some((request) => request.url.includes("claims")), "the real write was never sent");

    const before = store.requests.length;
    const again = new S3Backend({ ...options, prefix: "other" });
    await rejectsWithCode(again.put("a", "x", { mode: CREATE_ONLY }), "NOT_SUPPORTED", "second backend, same store");
    await rejectsWithCode(again.put("a", "x", { mode: ifRevision('"abc"') }), "NOT_SUPPORTED", "compare-and-swap");
    await rejectsWithCode(again.copy("a", "b", { mode: CREATE_ONLY }), "NOT_SUPPORTED", "copy-create");
    assert.equal(store.requests.length, before, "the verdict is cached per endpoint and bucket: no new requests");

    const plain = await backend.put("logs/run.log", "plain writes need no precondition");
    assert.equal(plain.key, "logs/run.log");
    await backend.close();
    await again.close();
  });
});
