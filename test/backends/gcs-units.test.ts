/**
 * GCS backend behaviour that needs no fake-gcs-server: configuration, error mapping (recorded SDK error shapes),
 * lazy loading, fast failure on unreachable or silent endpoints, the start-up probe refusing a store that
 * ignores ifGenerationMatch, conditional copies as server-side rewrites on a store that enforces it there, and
 * rejected credentials answered by a stub endpoint through the real SDK.
 */
import { checkedBackend } from "../../src/backends/layers/checked.ts";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createServer, type Server } from "node:net";
import { Readable } from "node:stream";
import { after, describe, it } from "node:test";
import { inspect, promisify } from "node:util";
import { pathToFileURL } from "node:url";
import { CREATE_ONLY, ifRevision, OVERWRITE, type WriteMode } from "../../src/backends/backend.ts";
import { GcsBackend } from "../../src/backends/gcs/index.ts";
import { isAmbiguousFailure, toGcsError, UnsettledWriteError, type GcsErrorContext } from "../../src/backends/gcs/errors.ts";
import { emulatorEndpoint, resolveGcsSettings, GOOGLE_ENDPOINT } from "../../src/backends/gcs/options.ts";
import { TIMEOUT_HEADER } from "../../src/backends/gcs/socket-timeouts.ts";
import { NotFoundError, isOpenCrateError, type ErrorCode } from "../../src/errors.ts";
import { parseLocation } from "../../src/uri.ts";
import { rejectsWithCode } from "../conformance/helpers.ts";
import { startUnacceptingEndpoint } from "../support/unaccepting-endpoint.ts";
import { startCarelessGcs, startRefusingGcs, startStrictGcs, type StubRequest, type StubServer } from "../support/gcs-stub.ts";

const LOCATION = "gs://team-bucket/runs/v0/claim.json";
const context = (extra: Partial<GcsErrorContext> = {}): GcsErrorContext => ({
  action: "write",
  location: LOCATION,
  bucket: "team-bucket",
  endpoint: "http://127.0.0.1:4443",
  requestTimeoutMs: 60_000,
  ...extra,
});

function mapped(error: unknown, extra: Partial<GcsErrorContext> = {}): { code: ErrorCode; message: string } {
  const result = toGcsError(error, context(extra));
  assert.ok(isOpenCrateError(result), `an OpenCrateError, got ${String(result)}`);
  const original = (error as { message?: unknown }).message;
  if (typeof original === "string") assert.equal((result.cause as Error).message, original, "the SDK error is kept as cause (redacted)");
  return { code: result.code, message: result.message };
}

/** Error shapes as @google-cloud/storage 8.4.0 produced them against fake-gcs-server and in its source. */
const recorded = {
  /** ApiError from the JSON API or a multipart upload (nodejs-common/util.ts). */
  apiError(code: number, message: string, reason: string) {
    return Object.assign(new Error(message), { code, errors: [{ domain: "global", reason, message }], response: { statusCode: code } });
  },
  /** A resumable upload's failure: the response's `error` object, thrown as a plain object. */
  resumableBody(code: number, message: string, reason: string) {
    return { code, message, errors: [{ domain: "global", reason, message }] };
  },
  /** A GaxiosError from a resumable session request. */
  gaxios(status: number, message: string) {
    return Object.assign(new Error(message), {
      status,
      code: String(status),
      response: { status, statusText: message, data: { error: { code: status, message } } },
      config: { headers: { Authorization: "Bearer ya29.secret-token" } },
    });
  },
  network(code: string) {
    return Object.assign(new Error(`request to http://127.0.0.1:4443/storage/v1/b failed, reason: connect ${code}`), { code, errno: code });
  },
  /** node-fetch's FetchError (through teeny-request) when a 200 answer's body breaks off. */
  cutAnswer() {
    return Object.assign(new Error("Invalid response body while trying to fetch http://127.0.0.1:4443/storage/v1/b/bkt/o/x?: aborted"), {
      name: "FetchError",
      type: "system",
      errno: "ECONNRESET",
      code: "ECONNRESET",
      response: { statusCode: 200 },
    });
  },
};

describe("GCS error mapping", () => {
  const create: WriteMode = CREATE_ONLY;
  const replace: WriteMode = ifRevision("1795664884170176");

  it("maps 412 in every SDK shape to ALREADY_EXISTS for create-only and PRECONDITION_FAILED for replace", () => {
    const shapes = [
      recorded.apiError(412, "Precondition failed", "conditionNotMet"),
      recorded.resumableBody(412, "Precondition failed", "conditionNotMet"),
      recorded.gaxios(412, "Precondition Failed"),
      { response: { status: 412 } },
      { status: 412 },
    ];
    for (const shape of shapes) {
      assert.equal(mapped(shape, { mode: create }).code, "ALREADY_EXISTS", inspect(shape));
      const lost = mapped(shape, { mode: replace });
      assert.equal(lost.code, "PRECONDITION_FAILED");
      assert.match(lost.message, /1795664884170176/);
      assert.ok(lost.message.includes(LOCATION));
    }
  });

  it("maps 404 to NOT_FOUND naming the object, or the bucket and endpoint when the bucket is missing", () => {
    const notFound = recorded.apiError(404, "Not Found", "notFound");
    const object = mapped(notFound, { action: "read" });
    assert.equal(object.code, "NOT_FOUND");
    assert.equal(object.message, `No object at ${LOCATION}.`);
    const bucket = toGcsError(notFound, context({ action: "write", bucketMissing: true }));
    assert.equal(bucket.code, "NOT_FOUND");
    assert.match(bucket.message, /bucket gs:\/\/team-bucket does not exist at http:\/\/127\.0\.0\.1:4443/);
    assert.equal(bucket.path, "gs://team-bucket");
  });

  it("maps 401 and 403 to PERMISSION_DENIED without the request's credentials", () => {
    const unauthorized = mapped(recorded.gaxios(401, "Invalid Credentials"), { action: "read" });
    assert.equal(unauthorized.code, "PERMISSION_DENIED");
    assert.match(unauthorized.message, /Application Default Credentials/);
    assert.ok(!unauthorized.message.includes("secret-token"));
    const printed = inspect(toGcsError(recorded.gaxios(401, "Invalid Credentials"), context()), { depth: 10 });
    assert.ok(!printed.includes("secret-token"), "the cause keeps no request headers");
    assert.match(printed, /Invalid Credentials/);
    const forbidden = mapped(
      recorded.apiError(403, "ci@proj.iam.gserviceaccount.com does not have storage.objects.create access.", "forbidden"),
    );
    assert.equal(forbidden.code, "PERMISSION_DENIED");
    assert.match(forbidden.message, /storage\.objects\.create/);
    assert.ok(forbidden.message.includes(LOCATION));
    const noAdc = mapped(new Error("Could not load the default credentials. Browse to https://cloud.google.com/docs/authentication"));
    assert.equal(noAdc.code, "PERMISSION_DENIED");
    assert.match(noAdc.message, /gcloud auth application-default login/);
    const revoked = mapped(Object.assign(new Error("invalid_grant"), { response: { status: 400, data: { error: "invalid_grant" } } }));
    assert.equal(revoked.code, "PERMISSION_DENIED");
  });

  it("maps a file that cannot be read to PERMISSION_DENIED naming it (and what names it), never to an unreachable endpoint", () => {
    const fileError = (code: string, path: string) => Object.assign(new Error(`${code}: no such file or directory, open '${path}'`), { code, errno: -2, syscall: "open", path });
    const token = "/var/run/service-account/token";
    // As google-auth-library rethrows it while reading a workload identity token file.
    const missing = mapped(fileError("ENOENT", token), {
      action: "list",
      credentialFiles: [{ path: token, namedBy: "credential_source.file in /etc/gcp/wif.json (GOOGLE_APPLICATION_CREDENTIALS)" }],
    });
    assert.equal(missing.code, "PERMISSION_DENIED");
    assert.match(missing.message, /\/var\/run\/service-account\/token cannot be read \(ENOENT\)/);
    assert.match(missing.message, /credential_source\.file in \/etc\/gcp\/wif\.json \(GOOGLE_APPLICATION_CREDENTIALS\)/);
    assert.doesNotMatch(missing.message, /unreachable/);
    const unreadable = mapped(fileError("EACCES", "/data/source.bin"), { action: "write" });
    assert.equal(unreadable.code, "PERMISSION_DENIED");
    assert.match(unreadable.message, /the local file \/data\/source\.bin cannot be read \(EACCES\)/);
  });

  it("maps 408, 429, 5xx, resets, refused connections and time-outs to TRANSIENT", () => {
    for (const status of [408, 429, 500, 502, 503, 504]) {
      assert.equal(mapped(recorded.apiError(status, "Backend Error", "backendError")).code, "TRANSIENT", String(status));
    }
    const refused = mapped(recorded.network("ECONNREFUSED"));
    assert.equal(refused.code, "TRANSIENT");
    assert.match(refused.message, /endpoint 127\.0\.0\.1:4443|endpoint http:\/\/127\.0\.0\.1:4443 is unreachable \(ECONNREFUSED\)/);
    assert.match(mapped(recorded.network("ENOTFOUND")).message, /unreachable \(ENOTFOUND\)/);
    assert.match(mapped(recorded.network("ECONNRESET")).message, /unreachable \(ECONNRESET\)/);
    // teeny-request's time-out (JSON API, multipart uploads) and gaxios' (resumable uploads).
    const teeny = Object.assign(new Error("network timeout at: http://127.0.0.1:4443/storage/v1/b/x"), {
      name: "AbortError",
      type: "request-timeout",
      code: "ETIMEDOUT",
    });
    assert.match(mapped(teeny).message, /did not answer within 60000 ms/);
    const gaxiosTimeout = Object.assign(new Error("The operation was aborted due to timeout"), {
      cause: Object.assign(new Error("The operation was aborted due to timeout"), { name: "TimeoutError" }),
    });
    assert.equal(mapped(gaxiosTimeout).code, "TRANSIENT");
    assert.match(mapped(gaxiosTimeout).message, /did not answer/);
    // A resumable session the SDK could not resume (its final response was lost): the outcome is unknown.
    assert.equal(mapped(new RangeError("The offset is lower than the number of bytes written.")).code, "TRANSIENT");
  });

  it("maps checksum mismatches to CORRUPT_DATA, other refusals to INVALID_ARGUMENT, and a 416 to INVALID_ARGUMENT", () => {
    const mismatch = Object.assign(new Error("The downloaded data did not match the data from the server."), {
      code: "CONTENT_DOWNLOAD_MISMATCH",
    });
    assert.equal(mapped(mismatch, { action: "read" }).code, "CORRUPT_DATA");
    assert.equal(mapped(Object.assign(new Error("mismatch"), { code: "FILE_NO_UPLOAD" })).code, "CORRUPT_DATA");
    assert.equal(mapped(recorded.apiError(400, "Invalid argument.", "invalid")).code, "INVALID_ARGUMENT");
    assert.equal(mapped(recorded.apiError(416, "Requested range not satisfiable", "invalid"), { action: "read" }).code, "INVALID_ARGUMENT");
  });

  it("maps a success answer that broke off (HTTP 200) to TRANSIENT, and counts it as possibly applied", () => {
    const cut = mapped(recorded.cutAnswer(), { action: "read" });
    assert.equal(cut.code, "TRANSIENT");
    assert.match(cut.message, /answer \(HTTP 200\) broke off/);
    assert.ok(isAmbiguousFailure(recorded.cutAnswer()), "a write whose answer broke off may have landed");
  });

  it("maps a conditional write whose outcome is unknown to TRANSIENT, never to a guessed 412 meaning", () => {
    const unsettled = new UnsettledWriteError(recorded.apiError(412, "Precondition failed", "conditionNotMet"), recorded.network("ECONNRESET"));
    for (const mode of [create, replace]) {
      const error = toGcsError(unsettled, context({ mode }));
      assert.equal(error.code, "TRANSIENT");
      assert.match(error.message, /Cannot tell whether the write to gs:\/\/team-bucket\/runs\/v0\/claim\.json landed/);
      assert.match(error.message, /Precondition failed/);
      assert.match(error.message, /It may have: read gs:\/\/team-bucket\/runs\/v0\/claim\.json before relying on either outcome/);
      assert.doesNotMatch(error.message, /Nothing is known to have changed|repeating the call is safe/, "the write may have landed");
      assert.equal((error.cause as { code?: unknown }).code, 412, "the write's own failure is the cause");
    }
  });

  it("passes opencrate errors through unchanged", () => {
    const original = new NotFoundError("already mapped");
    assert.equal(toGcsError(original, context()), original);
  });
});

describe("GCS configuration", () => {
  it("takes the endpoint from apiEndpoint, then STORAGE_EMULATOR_HOST, else Google's", () => {
    const fromOption = resolveGcsSettings({ bucket: "bkt", apiEndpoint: "http://127.0.0.1:4443/" }, { STORAGE_EMULATOR_HOST: "other:1" });
    assert.equal(fromOption.endpoint, "http://127.0.0.1:4443");
    assert.equal(fromOption.endpointSource, "option");
    const fromEnv = resolveGcsSettings({ bucket: "bkt" }, { STORAGE_EMULATOR_HOST: "localhost:9023" });
    assert.equal(fromEnv.endpoint, "http://localhost:9023");
    assert.equal(fromEnv.endpointSource, "STORAGE_EMULATOR_HOST");
    assert.equal(fromEnv.customEndpoint, true);
    const google = resolveGcsSettings({ bucket: "bkt" }, {});
    assert.equal(google.endpoint, GOOGLE_ENDPOINT);
    assert.equal(google.customEndpoint, false);
    assert.equal(google.authenticate, true);
  });

  it("reads STORAGE_EMULATOR_HOST as host:port or a URL, with or without /storage/v1", () => {
    assert.equal(emulatorEndpoint("127.0.0.1:4443"), "http://127.0.0.1:4443");
    assert.equal(emulatorEndpoint("http://127.0.0.1:4443/"), "http://127.0.0.1:4443");
    assert.equal(emulatorEndpoint("https://gcs.internal:8443/storage/v1/"), "https://gcs.internal:8443");
  });

  it("sends no credentials to a custom endpoint unless asked, and finds the project in the usual variables", () => {
    assert.equal(resolveGcsSettings({ bucket: "bkt", apiEndpoint: "http://127.0.0.1:1" }, {}).authenticate, false);
    assert.equal(resolveGcsSettings({ bucket: "bkt", apiEndpoint: "https://proxy", authenticate: true }, {}).authenticate, true);
    assert.equal(resolveGcsSettings({ bucket: "bkt", projectId: "mine" }, { GOOGLE_CLOUD_PROJECT: "env" }).projectId, "mine");
    assert.equal(resolveGcsSettings({ bucket: "bkt" }, { GOOGLE_CLOUD_PROJECT: "env", GCLOUD_PROJECT: "old" }).projectId, "env");
    assert.equal(resolveGcsSettings({ bucket: "bkt" }, { GCLOUD_PROJECT: "old" }).projectId, "old");
    assert.equal(resolveGcsSettings({ bucket: "bkt" }, {}).projectId, undefined, "left to the SDK's discovery");
  });

  it("has sensible defaults and rejects bad options as INVALID_ARGUMENT", () => {
    const defaults = resolveGcsSettings({ bucket: "bkt" }, {});
    assert.equal(defaults.resumableThreshold, 8 * 1024 * 1024);
    assert.equal(defaults.chunkSize, 8 * 1024 * 1024);
    assert.equal(defaults.maxRetries, 3);
    const bad = [
      { bucket: "" },
      { bucket: "Bad_Bucket!" },
      { bucket: "bkt", prefix: "/abs" },
      { bucket: "bkt", prefix: "a/../b" },
      { bucket: "bkt", chunkSize: 1000 },
      { bucket: "bkt", resumableThreshold: -1 },
      { bucket: "bkt", requestTimeoutMs: 0 },
      { bucket: "bkt", apiEndpoint: "ftp://host" },
      { bucket: "bkt", apiEndpoint: "http://user:secret@host" },
    ];
    for (const options of bad) {
      assert.throws(() => new GcsBackend(options), (error: unknown) => isOpenCrateError(error, "INVALID_ARGUMENT"), JSON.stringify(options));
    }
    try {
      new GcsBackend({ bucket: "bkt", apiEndpoint: "http://user:secret@host" });
    } catch (error) {
      assert.ok(!(error as Error).message.includes("secret"), "the message leaves the password out");
    }
  });

  it("builds from gs:// URIs and describes keys as gs:// URIs", () => {
    const backend = GcsBackend.fromUri("gs://team-bucket/snapshots/train", { apiEndpoint: "http://127.0.0.1:1" });
    assert.equal(backend.kind, "gcs");
    assert.equal(backend.bucket, "team-bucket");
    assert.equal(backend.prefix, "snapshots/train");
    assert.equal(backend.describe(""), "gs://team-bucket/snapshots/train");
    assert.equal(backend.describe("v0:initial/data.json"), "gs://team-bucket/snapshots/train/v0:initial/data.json");
    assert.equal(GcsBackend.fromUri("gs://team-bucket").describe("a"), "gs://team-bucket/a");
    assert.equal(GcsBackend.fromUri("gs://team-bucket/").describe(""), "gs://team-bucket");
    for (const uri of ["s3://team-bucket/x", "gs://", "gs://b/../x", "gs://user@bucket/x"]) {
      assert.throws(() => GcsBackend.fromUri(uri), (error: unknown) => isOpenCrateError(error, "INVALID_ARGUMENT"), uri);
    }
  });

  it("rejects malformed gs:// URIs through parseLocation and fromUri", () => {
    const part63 = "a".repeat(63);
    const cases: [string, string][] = [
      ["gs://", "needs a bucket"],
      ["gs:///prefix", "needs a bucket"],
      ["gs://ab", "not a valid bucket name"],
      [`gs://${"a".repeat(64)}`, "not a valid bucket name"],
      [`gs://${part63}.${"b".repeat(64)}`, "not a valid bucket name"],
      [`gs://${[part63, part63, part63, "a".repeat(40)].join(".")}`, "not a valid bucket name"],
      ["gs://Upper-Case", "not a valid bucket name"],
      ["gs://-bucket", "not a valid bucket name"],
      ["gs://bucket_", "not a valid bucket name"],
      ["gs://bucket..dots", "not a valid bucket name"],
      ["gs://.bucket", "not a valid bucket name"],
      ["gs://bucket name", "not a valid bucket name"],
      ["gs://192.168.1.1", "not a valid bucket name"],
      ["gs://buck%65t/x", "not a valid bucket name"],
      ["gs://bucket/x?generation=1", "query strings"],
      ["gs://bucket?userProject=p", "query strings"],
      ["gs://bucket/x#frag", "query strings"],
      ["gs://bucket/a/../b", "'..' segment"],
      ["gs://bucket/..", "'..' segment"],
      ["gs://bucket/./a", "'.' segment"],
      ["gs://bucket/a//b", "empty segment"],
      ["gs://bucket//a", "start with '/'"],
      ["gs://bucket/%zz", "malformed %-escape"],
      ["gs://bucket/%2e%2e/x", "'..' segment"],
      ["gs://bucket/a%2F%2Fb", "empty segment"],
      ["gs://bucket/a%00b", "control characters"],
      ["gs://bucket/a%5Cb", "'\\'"],
    ];
    for (const [uri, why] of cases) {
      for (const [via, parse] of [
        ["parseLocation", () => parseLocation(uri)],
        ["fromUri", () => GcsBackend.fromUri(uri, { apiEndpoint: "http://127.0.0.1:1" })],
      ] as const) {
        assert.throws(
          parse,
          (error: unknown) => isOpenCrateError(error, "INVALID_ARGUMENT") && error.message.includes(why),
          `${via}(${uri.length > 80 ? `${uri.slice(0, 20)}… (${uri.length} characters)` : uri}) should say ${why}`,
        );
      }
    }
    // At the edges of the naming rules: 63 characters plain, 63 per dot-separated part, "_" and "." inside.
    for (const uri of [`gs://${part63}`, `gs://${part63}.${part63}`, "gs://a_b.c-d/x", "gs://abc", "gs://bucket/runs/user@example.com"]) {
      assert.equal(GcsBackend.fromUri(uri, { apiEndpoint: "http://127.0.0.1:1" }).kind, "gcs", uri);
    }
  });

  it("refuses credentials in a gs:// URI without repeating them", () => {
    const secret = "hmacSECRET/with+slash";
    for (const uri of [
      `gs://GOOG1EXAMPLE:${secret}@bucket/x`,
      `gs://GOOG1EXAMPLE:${secret}@bucket`,
      `gs://:${secret}@bucket/x`,
      // A bare token with no ":" is only told apart from a bucket up to its first "/".
      "gs://hmacSECRETwith+slash@bucket/x",
      `gs://GOOG1EXAMPLE:${secret}@bucket/x?alt=json`,
    ]) {
      for (const parse of [() => parseLocation(uri), () => GcsBackend.fromUri(uri, { apiEndpoint: "http://127.0.0.1:1" })]) {
        assert.throws(parse, (error: unknown) => {
          assert.ok(isOpenCrateError(error, "INVALID_ARGUMENT"), `${String(error)}`);
          for (const fragment of ["hmacSECRET", "with+slash"]) {
            assert.ok(!error.message.includes(fragment), `the message repeats the secret: ${error.message}`);
            assert.ok(!String(error.path).includes(fragment), `the path repeats the secret: ${String(error.path)}`);
          }
          assert.match(error.message, /gs:\/\/\*\*\*@bucket/);
          return true;
        });
      }
    }
  });

  it("states its capabilities", () => {
    const backend = new GcsBackend({ bucket: "bkt", apiEndpoint: "http://127.0.0.1:1", resumableThreshold: 1024 * 1024 });
    assert.deepEqual(backend.capabilities, {
      createOnly: true,
      compareAndSwap: true,
      copyCreateOnly: true,
      serverSideCopy: true,
      multipartThreshold: 1024 * 1024,
      userMetadata: true,
      settlesConditionalWrites: true,
      conditionalDelete: true,
    });
  });
});

describe("GCS backend without a server", () => {
  const stubs: StubServer[] = [];
  after(() => Promise.all(stubs.map((stub) => stub.close())));

  it("rejects invalid keys, ranges and revisions before any I/O", async () => {
    const backend = checkedBackend(new GcsBackend({ bucket: "bkt", apiEndpoint: "http://127.0.0.1:1" }));
    await rejectsWithCode(backend.head("/abs"), "INVALID_ARGUMENT", "leading slash");
    await rejectsWithCode(backend.put("a//b", "x"), "INVALID_ARGUMENT", "empty segment");
    await rejectsWithCode(backend.get("a", { range: { offset: -1 } }), "INVALID_ARGUMENT", "negative range");
    await rejectsWithCode(backend.put("a", "x", { mode: ifRevision('"etag-from-s3"') }), "PRECONDITION_FAILED", "not a generation");
  });

  it("fails within seconds, as TRANSIENT naming the endpoint, when the endpoint refuses connections", { timeout: 60_000 }, async () => {
    const port = await closedPort();
    const backend = new GcsBackend({ bucket: "bkt", apiEndpoint: `http://127.0.0.1:${port}` });
    for (const attempt of [
      () => backend.head("x"),
      () => backend.put("x", "small body"),
      () => backend.putStream("x", Readable.from([Buffer.alloc(9 * 1024 * 1024)])),
      () => backend.put("x", "claim", { mode: CREATE_ONLY }),
    ]) {
      const error = await rejectsWithCode(attempt(), "TRANSIENT", "refused");
      assert.match(error.message, new RegExp(`http://127\\.0\\.0\\.1:${port} is unreachable \\(ECONNREFUSED\\)`));
      assert.ok(error.message.includes("gs://bkt"), error.message);
    }
  });

  it("gives up on an endpoint that accepts connections but never answers, instead of hanging", { timeout: 60_000 }, async () => {
    const silent = await silentServer();
    try {
      const backend = new GcsBackend({ bucket: "bkt", apiEndpoint: silent.endpoint, requestTimeoutMs: 300, maxRetries: 1 });
      const head = await rejectsWithCode(backend.head("x"), "TRANSIENT", "silent JSON API");
      assert.match(head.message, /did not answer within 300 ms/);
      // Downloads go through the backend's own requests (not the SDK's stream); they must time out too.
      const get = await rejectsWithCode(backend.get("x"), "TRANSIENT", "silent download");
      assert.match(get.message, /did not answer within 300 ms/);
      // Resumable uploads go through another HTTP stack (gaxios); it must time out too.
      const upload = await rejectsWithCode(
        backend.putStream("x", Readable.from([Buffer.alloc(9 * 1024 * 1024)])),
        "TRANSIENT",
        "silent upload endpoint",
      );
      assert.ok(upload.message.includes("gs://bkt/x"), upload.message);
    } finally {
      await silent.close();
    }
  });

  it("gives up on an endpoint that never completes a connection, on each HTTP path, with the connect time-out", { timeout: 60_000 }, async () => {
    const listener = await startUnacceptingEndpoint();
    try {
      // The idle time-out is far away: only the connect time-out can end these calls in time.
      const backend = new GcsBackend({ bucket: "bkt", apiEndpoint: listener.endpoint, connectTimeoutMs: 300, requestTimeoutMs: 120_000, maxRetries: 0 });
      for (const [label, attempt] of [
        ["JSON API (the SDK's requests)", () => backend.head("x")],
        ["download (the backend's own requests)", () => backend.get("x")],
        ["resumable session (the SDK's upload requests)", () => backend.putStream("x", Readable.from([Buffer.alloc(9 * 1024 * 1024)]))],
      ] as const) {
        const error = await rejectsWithCode(attempt(), "TRANSIENT", label);
        assert.match(error.message, /is unreachable \(no connection within 300 ms\)/, `${label}: ${error.message}`);
        assert.ok(error.message.includes("gs://bkt"), error.message);
      }
      await backend.close();
    } finally {
      await listener.close();
    }
  });

  it("maps rejected credentials (401) and a denied permission (403) from the endpoint, never echoing the token", async () => {
    const { Storage } = await import("@google-cloud/storage");
    for (const [status, message, reason] of [
      [401, "Invalid Credentials", "authError"],
      [403, "ci@proj.iam.gserviceaccount.com does not have storage.objects.get access to the object.", "forbidden"],
    ] as const) {
      const stub = await startRefusingGcs(status, message, reason);
      stubs.push(stub);
      // A client whose every request (JSON API and resumable sessions alike) carries a bad bearer token.
      const storage = new Storage({
        apiEndpoint: stub.endpoint,
        retryOptions: { autoRetry: false },
        interceptors_: [
          {
            request: (options) => ({ ...options, headers: { ...options.headers, Authorization: "Bearer ya29.not-a-real-token" } }) as typeof options & { uri: string },
          },
        ],
      });
      const backend = new GcsBackend({ bucket: "team-bucket", prefix: "runs", storage });
      for (const [label, attempt] of [
        ["head", () => backend.head("a.json")],
        ["get", () => backend.get("a.json")],
        ["put", () => backend.put("a.json", "x")],
        ["putStream", () => backend.putStream("big.bin", Readable.from([Buffer.alloc(9 * 1024 * 1024)]))],
        ["list", () => backend.listPage("")],
        ["delete", () => backend.delete("a.json")],
      ] as const) {
        const error = await rejectsWithCode(attempt(), "PERMISSION_DENIED", `${status} ${label}`);
        assert.ok(error.message.includes("gs://team-bucket/runs"), `${label}: ${error.message}`);
        assert.ok(!inspect(error, { depth: 8 }).includes("not-a-real-token"), `${label}: the token stays out of the error`);
      }
      assert.ok(
        stub.requests.every((request) => request.headers.authorization === "Bearer ya29.not-a-real-token"),
        "every request carried the token",
      );
    }
  });

  it("importing the GCS backend loads no @google-cloud module; the first request does", { timeout: 60_000 }, async () => {
    // In a child process, a module.registerHooks resolve hook records the URL of every module resolved (ESM
    // imports and require() calls alike, in the same thread), so "was any @google-cloud module loaded?" is a
    // lookup that cannot miss a module however it was loaded. The second check proves the hook sees the SDK.
    const script = `
      import { registerHooks } from "node:module";
      const seen = [];
      registerHooks({ resolve(specifier, context, next) { const result = next(specifier, context); seen.push(result.url); return result; } });
      const sdkLoaded = () => seen.some((url) => url.includes("/@google-cloud/") || url.includes("google-auth-library"));
      const { GcsBackend } = await import(process.argv[1]);
      const backend = GcsBackend.fromUri("gs://bucket/prefix", { apiEndpoint: "http://127.0.0.1:1", maxRetries: 0 });
      backend.describe("x");
      const afterImport = sdkLoaded();
      await backend.head("x").catch(() => {});
      console.log(JSON.stringify({ afterImport, afterRequest: sdkLoaded() }));
    `;
    const entry = pathToFileURL(new URL("../../src/backends/gcs/index.ts", import.meta.url).pathname).href;
    const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", script, entry], {
      env: { ...process.env, NODE_OPTIONS: "" },
    });
    const result = JSON.parse(stdout.trim()) as { afterImport: boolean; afterRequest: boolean };
    assert.equal(result.afterImport, false, "no @google-cloud module after importing and constructing the backend");
    assert.equal(result.afterRequest, true, "the hook does see the SDK once a request needs it (the check works)");
  });
});

describe("GCS start-up probe", () => {
  const stubs: StubServer[] = [];
  after(() => Promise.all(stubs.map((stub) => stub.close())));

  it("refuses a store that ignores ifGenerationMatch, remembers the verdict, deletes its probe, and still allows plain writes", async () => {
    const store = await startCarelessGcs();
    stubs.push(store);
    const backend = new GcsBackend({ bucket: "team-bucket", prefix: "runs", apiEndpoint: store.endpoint, maxRetries: 0 });
    const refusal = await rejectsWithCode(backend.put("v1.json", "claim", { mode: CREATE_ONLY }), "NOT_SUPPORTED", "careless store");
    assert.match(refusal.message, /does not enforce ifGenerationMatch/);
    assert.match(refusal.message, /create-only multipart upload/);
    assert.match(refusal.message, /create-only resumable upload/);
    assert.ok(refusal.message.includes("gs://team-bucket"), refusal.message);

    const probeWrites = store.requests.filter((request) => request.method === "POST" && request.url.includes(".opencrate-probe-"));
    assert.equal(probeWrites.length, 4, "plain write, create-only multipart, create-only resumable, stale-generation write");
    assert.ok(probeWrites.every((request) => request.url.includes("name=runs%2F.opencrate-probe-")), "the probe lives under the prefix");
    assert.ok(
      store.requests.some((request) => request.method === "DELETE" && request.url.includes(".opencrate-probe-")),
      "the probe object is deleted",
    );
    assert.ok(!store.requests.some((request) => request.url.includes("v1.json")), "the real claim was never sent");
    assert.ok(
      store.requests.every((request) => request.headers[TIMEOUT_HEADER] === undefined),
      "the time-out header is removed before requests leave the process",
    );

    // Remembered: a second backend on the same store and bucket is refused without probing again.
    const before = store.requests.length;
    const again = new GcsBackend({ bucket: "team-bucket", apiEndpoint: store.endpoint, maxRetries: 0 });
    await rejectsWithCode(again.put("v2.json", "claim", { mode: ifRevision("7") }), "NOT_SUPPORTED", "remembered");
    assert.equal(store.requests.length, before, "no new request");

    // Plain overwrites need no precondition and still work.
    const written = await backend.put("notes.txt", "plain", { mode: OVERWRITE });
    assert.equal(written.size, 5);
  });
});

describe("GCS conditional copies on a store that enforces ifGenerationMatch on rewrite (as Google Cloud Storage does)", () => {
  const stubs: StubServer[] = [];
  after(() => Promise.all(stubs.map((stub) => stub.close())));
  const BUCKET = "team-bucket";
  const isRewrite = (request: StubRequest) => request.method === "POST" && request.url.includes("/rewriteTo/");
  const isUpload = (request: StubRequest) => request.url.startsWith("/upload/");
  const rewritesTo = (requests: readonly StubRequest[], name: string) =>
    requests.filter((request) => isRewrite(request) && request.url.split("/rewriteTo/")[1]?.includes(encodeURIComponent(name)));

  it("probes once, then makes create-only and compare-and-swap copies as conditional rewrites, never uploads", async () => {
    const store = await startStrictGcs();
    stubs.push(store);
    const backend = new GcsBackend({ bucket: BUCKET, prefix: "runs", apiEndpoint: store.endpoint, maxRetries: 0 });
    assert.equal(await backend.conditionalCopiesServerSide(), true);
    assert.equal(backend.capabilities.serverSideCopy, true);
    assert.equal(backend.capabilities.copyCreateOnly, true);
    const probeRewrites = store.requests.filter((request) => isRewrite(request) && request.url.includes(".opencrate-probe-"));
    assert.equal(probeRewrites.length, 2, "a create-only and a stale-generation rewrite onto an existing probe object");
    const probeNames = store.requests
      .filter((request) => isUpload(request) && request.url.includes(".opencrate-probe-"))
      .map((request) => new URL(request.url, "http://stub").searchParams.get("name") ?? "");
    assert.equal(probeNames.length, 2);
    assert.ok(probeNames.every((name) => name.startsWith("runs/.opencrate-probe-") && store.stored(BUCKET, name) === undefined), "probes deleted");

    await backend.put("src.bin", "checkpoint bytes", { contentType: "application/x-safetensors", metadata: { step: "100" } });
    await backend.put("taken.bin", "theirs");
    const before = store.requests.length;
    const copied = await backend.copy("src.bin", "backup.bin", { mode: CREATE_ONLY });
    const during = store.requests.slice(before);
    assert.equal(during.filter(isUpload).length, 0, "no bytes went through this process");
    const [rewrite] = rewritesTo(during, "runs/backup.bin");
    assert.ok(rewrite !== undefined && /[?&]ifGenerationMatch=0(&|$)/.test(rewrite.url), `a create-only rewrite: ${rewrite?.url}`);
    assert.match(rewrite.url, /[?&]sourceGeneration=\d+/, "pinned to the source generation whose metadata it copies");
    const stored = store.stored(BUCKET, "runs/backup.bin");
    assert.equal(stored?.data.toString(), "checkpoint bytes");
    assert.equal(stored?.contentType, "application/x-safetensors");
    assert.equal(stored?.metadata.step, "100");
    assert.match(stored?.metadata["oc-token"] ?? "", /^[0-9a-f-]{36}$/, "the writer token that settles a lost answer");
    assert.equal(copied.revision, stored?.generation);
    assert.deepEqual((await backend.head("backup.bin")).metadata, { step: "100" }, "the token stays hidden");

    await rejectsWithCode(backend.copy("src.bin", "taken.bin", { mode: CREATE_ONLY }), "ALREADY_EXISTS", "taken");
    assert.equal(store.stored(BUCKET, "runs/taken.bin")?.data.toString(), "theirs", "the old content is intact");
    const taken = await backend.head("taken.bin");
    await backend.copy("src.bin", "taken.bin", { mode: ifRevision(taken.revision) });
    assert.equal(store.stored(BUCKET, "runs/taken.bin")?.data.toString(), "checkpoint bytes");
    await rejectsWithCode(backend.copy("src.bin", "taken.bin", { mode: ifRevision(taken.revision) }), "PRECONDITION_FAILED", "stale");
    await rejectsWithCode(backend.copy("missing.bin", "x.bin", { mode: CREATE_ONLY }), "NOT_FOUND", "missing source");
    assert.equal(store.requests.slice(before).filter(isUpload).length, 0, "still no uploads");

    // Remembered: another backend on the same endpoint and bucket does not probe again.
    const count = store.requests.length;
    const again = new GcsBackend({ bucket: BUCKET, apiEndpoint: store.endpoint, maxRetries: 0 });
    assert.equal(await again.conditionalCopiesServerSide(), true);
    assert.equal(store.requests.length, count, "no new request");
    await Promise.all([backend.close(), again.close()]);
  });

  it("a conditional rewrite whose answer was lost and whose retry met 412 succeeds when the copy holds our token", async () => {
    let lost = false;
    const store = await startStrictGcs({
      loseAnswer: (request) => {
        if (lost || !isRewrite(request) || request.url.includes(".opencrate-probe-")) return false;
        lost = true; // the rewrite landed; the client sees a 503 and retries, which meets 412
        return true;
      },
    });
    stubs.push(store);
    const backend = new GcsBackend({ bucket: BUCKET, prefix: "runs", apiEndpoint: store.endpoint, maxRetries: 1 });
    await backend.put("src.bin", "mine");
    await backend.put("other.bin", "theirs");
    const info = await backend.copy("src.bin", "backup.bin", { mode: CREATE_ONLY });
    assert.ok(lost, "the first answer was dropped");
    assert.equal(rewritesTo(store.requests, "runs/backup.bin").length, 2, "retried once, and met 412");
    assert.equal(store.stored(BUCKET, "runs/backup.bin")?.data.toString(), "mine");
    assert.equal(info.revision, store.stored(BUCKET, "runs/backup.bin")?.generation);
    // Someone else's object at the key (no token of ours) stays ALREADY_EXISTS.
    await rejectsWithCode(backend.copy("src.bin", "other.bin", { mode: CREATE_ONLY }), "ALREADY_EXISTS", "someone else's");
    await backend.close();
  });
});

describe("GCS writes below the resumable threshold", () => {
  const stubs: StubServer[] = [];
  after(() => Promise.all(stubs.map((stub) => stub.close())));
  const BUCKET = "team-bucket";
  const uploadsOf = (requests: readonly StubRequest[], name: string) =>
    requests.filter((request) => request.method === "POST" && request.url.startsWith("/upload/") && request.url.includes(encodeURIComponent(name)));

  it("are one multipart request whose resource carries the body's CRC32C, conditions in the query", async () => {
    const store = await startStrictGcs();
    stubs.push(store);
    const backend = new GcsBackend({ bucket: BUCKET, prefix: "runs", apiEndpoint: store.endpoint, maxRetries: 0 });
    const info = await backend.put("claim.json", '{"v":1}', { mode: CREATE_ONLY, contentType: "application/json", metadata: { Step: "3" } });
    const [upload, ...more] = uploadsOf(store.requests, "runs/claim.json");
    assert.equal(more.length, 0, "one request");
    const query = new URL(upload?.url ?? "", "http://stub").searchParams;
    assert.equal(query.get("uploadType"), "multipart");
    assert.equal(query.get("ifGenerationMatch"), "0");
    assert.match(upload?.headers["content-type"] ?? "", /^multipart\/related; boundary=/);
    const stored = store.stored(BUCKET, "runs/claim.json");
    assert.equal(stored?.data.toString(), '{"v":1}');
    assert.equal(stored?.contentType, "application/json");
    assert.equal(stored?.metadata.step, "3");
    assert.equal(info.revision, stored?.generation);
    assert.deepEqual(info.checksum, { algorithm: "crc32c", value: Buffer.from(stored?.crc32c ?? "", "base64").toString("hex") });
    await rejectsWithCode(backend.put("claim.json", "again", { mode: CREATE_ONLY }), "ALREADY_EXISTS", "taken");
    await backend.put("claim.json", "replaced", { mode: ifRevision(info.revision) });
    assert.equal(store.stored(BUCKET, "runs/claim.json")?.data.toString(), "replaced");
    await backend.close();
  });

  it("bytes damaged on the way are refused by a store that checks the CRC32C sent with them: CORRUPT_DATA", async () => {
    const store = await startStrictGcs({ damage: (data) => Buffer.concat([data, Buffer.from("!")]) });
    stubs.push(store);
    const backend = new GcsBackend({ bucket: BUCKET, prefix: "runs", apiEndpoint: store.endpoint, maxRetries: 0 });
    for (const mode of [OVERWRITE, CREATE_ONLY]) {
      await rejectsWithCode(backend.put("model.json", "{}", { mode }), "CORRUPT_DATA", "refused by the store");
      assert.equal(store.stored(BUCKET, "runs/model.json"), undefined, "nothing stored");
    }
    await backend.close();
  });

  it("a stored object whose CRC32C differs from the bytes sent fails CORRUPT_DATA and is deleted", async () => {
    const store = await startCarelessGcs({ damage: (data) => Buffer.concat([data, Buffer.from("!")]) });
    stubs.push(store);
    const backend = new GcsBackend({ bucket: BUCKET, prefix: "runs", apiEndpoint: store.endpoint, maxRetries: 0 });
    for (const mode of [OVERWRITE, CREATE_ONLY]) {
      const error = await backend.put("model.json", "{}", { mode }).then(() => undefined, (thrown: unknown) => thrown);
      assert.ok(isOpenCrateError(error), `an OpenCrateError, got ${String(error)}`);
      assert.equal(error.code, "CORRUPT_DATA");
      assert.match(error.message, /gs:\/\/team-bucket\/runs\/model\.json/);
      assert.equal(store.stored(BUCKET, "runs/model.json"), undefined, "the damaged object is gone");
    }
    await backend.close();
  });

  it("a lost answer is sent again, and a create-only write that met its own earlier attempt succeeds", async () => {
    let lost = 0;
    const store = await startStrictGcs({
      loseAnswer: (request) => request.url.startsWith("/upload/") && !request.url.includes(".opencrate-probe-") && lost++ === 0,
    });
    stubs.push(store);
    const backend = new GcsBackend({ bucket: BUCKET, apiEndpoint: store.endpoint, maxRetries: 2 });
    await backend.put("v/0000000001.json", "mine", { mode: CREATE_ONLY });
    assert.equal(uploadsOf(store.requests, "v/0000000001.json").length, 2, "sent again after the lost answer, which met 412");
    assert.equal(store.stored(BUCKET, "v/0000000001.json")?.data.toString(), "mine");
    await backend.close();
  });
});

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A TCP server that accepts connections and never answers. */
async function silentServer(): Promise<{ endpoint: string; close(): Promise<void> }> {
  const sockets = new Set<import("node:net").Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
