/**
 * The SigV4 signer of the direct S3 requests (src/backends/s3/sigv4.ts) signs exactly as the AWS SDK's own signer,
 * taken from a real S3Client: the same headers and Authorization for reads and writes, escaped keys, session
 * tokens, whitespace in header values, a signing key that changes with the day and with the credentials.
 * (That the store accepts them is shown against MinIO and moto by the S3 backend suites.)
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { S3Client } from "@aws-sdk/client-s3";
import { type RequestToSign, type SigningCredentials, SigV4Signer } from "../../src/backends/s3/sigv4.ts";

interface SdkSigner {
  sign(
    request: { method: string; protocol: string; hostname: string; port?: number; path: string; query: Record<string, string>; headers: Record<string, string> },
    options: { signingDate: Date; signingRegion: string; signingService: string },
  ): Promise<{ headers: Record<string, string> }>;
}

const REGION = "eu-west-3";
const DAY_ONE = new Date("2026-12-04T06:01:02.345Z");
const DAY_TWO = new Date("2026-12-05T00:00:01.000Z");

function sdkSigner(credentials: SigningCredentials): SdkSigner {
  const client = new S3Client({ region: REGION, credentials });
  const Signer = (client.config as unknown as { signerConstructor: new (options: Record<string, unknown>) => SdkSigner }).signerConstructor;
  const signer = new Signer({
    credentials,
    region: REGION,
    service: "s3",
    sha256: (client.config as unknown as { sha256: unknown }).sha256,
    uriEscapePath: false,
    applyChecksum: false,
  });
  client.destroy();
  return signer;
}

/** The SDK's headers for `request`, signed at `at`, names in lower case. */
async function signedBySdk(credentials: SigningCredentials, request: RequestToSign, at: Date): Promise<Record<string, string>> {
  const headers: Record<string, string> = { ...request.headers, "x-amz-content-sha256": request.payloadHash };
  const query = Object.fromEntries(Object.entries(request.query).map(([name, value]) => [name, String(value)]));
  const signed = await sdkSigner(credentials).sign(
    { method: request.method, protocol: "http:", hostname: "127.0.0.1", port: 9000, path: request.path, query, headers },
    { signingDate: at, signingRegion: REGION, signingService: "s3" },
  );
  return Object.fromEntries(Object.entries(signed.headers).map(([name, value]) => [name.toLowerCase(), value]));
}

const KEYS: SigningCredentials = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" };
const EMPTY = createHash("sha256").update("").digest("hex");

const read: RequestToSign = {
  method: "GET",
  path: "/bucket/runs/a%20b%21%27%28%29%2A~%2B%3D%26%C3%A9/v0/model.bin",
  query: { "x-id": "GetObject" },
  headers: { host: "127.0.0.1:9000", range: "bytes=0-1536", "if-match": '"9b2cf535f27731c974343645a3985328"' },
  payloadHash: EMPTY,
};

const body = Buffer.from('{"step": 3}');
const write: RequestToSign = {
  method: "PUT",
  path: "/bucket/runs/.claims/v7",
  query: { "x-id": "GetObject" },
  headers: {
    host: "127.0.0.1:9000",
    "content-type": "application/json",
    "content-length": String(body.byteLength),
    "content-md5": createHash("md5").update(body).digest("base64"),
    "if-none-match": "*",
    "x-amz-meta-opencrate-run": "  run  with   spaces ",
  },
  payloadHash: createHash("sha256").update(body).digest("hex"),
};

describe("SigV4 signing of direct S3 requests", () => {
  it("signs a pinned ranged read of an escaped key as the SDK does", async () => {
    const ours = await new SigV4Signer({ credentials: KEYS, region: REGION, service: "s3" }).sign(read, DAY_ONE);
    assert.deepEqual(ours, await signedBySdk(KEYS, read, DAY_ONE));
    assert.match(ours.authorization ?? "", /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/20261204\/eu-west-3\/s3\/aws4_request, SignedHeaders=host;if-match;range;x-amz-content-sha256;x-amz-date, Signature=[0-9a-f]{64}$/);
  });

  it("signs a conditional write with its metadata (whitespace collapsed) as the SDK does", async () => {
    const ours = await new SigV4Signer({ credentials: KEYS, region: REGION, service: "s3" }).sign(write, DAY_ONE);
    assert.deepEqual(ours, await signedBySdk(KEYS, write, DAY_ONE));
  });

  it("sends and signs a session token from a credentials provider", async () => {
    const temporary = { ...KEYS, sessionToken: "FwoGZXIvYXdzEXAMPLE//token=" };
    let calls = 0;
    const signer = new SigV4Signer({ credentials: async () => (calls++, temporary), region: REGION, service: "s3" });
    const ours = await signer.sign(read, DAY_ONE);
    assert.equal(ours["x-amz-security-token"], temporary.sessionToken);
    assert.match(ours.authorization ?? "", /SignedHeaders=[^,]*x-amz-security-token/);
    assert.deepEqual(ours, await signedBySdk(temporary, read, DAY_ONE));
    await signer.sign(read, DAY_ONE);
    assert.equal(calls, 2, "the provider is asked at every request (it caches and refreshes itself)");
  });

  it("derives a new signing key when the day or the secret changes", async () => {
    let current: SigningCredentials = KEYS;
    const signer = new SigV4Signer({ credentials: async () => current, region: REGION, service: "s3" });
    assert.deepEqual(await signer.sign(read, DAY_ONE), await signedBySdk(KEYS, read, DAY_ONE));
    assert.deepEqual(await signer.sign(read, DAY_TWO), await signedBySdk(KEYS, read, DAY_TWO));
    current = { accessKeyId: "AKIDROTATED", secretAccessKey: "rotated-secret" };
    assert.deepEqual(await signer.sign(read, DAY_TWO), await signedBySdk(current, read, DAY_TWO));
  });

  it("sorts and escapes query parameters as the SDK does", async () => {
    const listing: RequestToSign = { ...read, query: { "list-type": "2", prefix: "runs/a b/", "continuation-token": "x+y/z=" } };
    const ours = await new SigV4Signer({ credentials: KEYS, region: REGION, service: "s3" }).sign(listing, DAY_ONE);
    assert.deepEqual(ours, await signedBySdk(KEYS, listing, DAY_ONE));
  });
});
