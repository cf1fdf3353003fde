/**
 * Missing or unreadable credentials are PERMISSION_DENIED naming the file or variable, on GCS and S3, without a
 * round of retries against an endpoint (the endpoints here are Google's and AWS's own, which this test never
 * reaches: the check fails first).
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { GcsBackend } from "../../src/backends/gcs/index.ts";
import { S3Backend } from "../../src/backends/s3/index.ts";
import { rejectsWithCode } from "../conformance/helpers.ts";

const CLEARED = [
  "STORAGE_EMULATOR_HOST",
  "GOOGLE_APPLICATION_CREDENTIALS",
  "CLOUDSDK_CONFIG",
  "GCE_METADATA_HOST",
  "GCE_METADATA_IP",
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
  "AWS_PROFILE",
  "AWS_ENDPOINT_URL",
  "AWS_ENDPOINT_URL_S3",
  "AWS_SHARED_CREDENTIALS_FILE",
  "AWS_CONFIG_FILE",
  "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
  "AWS_CONTAINER_CREDENTIALS_FULL_URI",
  "AWS_WEB_IDENTITY_TOKEN_FILE",
];

describe("credentials problems", () => {
  let folder = "";
  const saved = new Map<string, string | undefined>();
  before(async () => {
    folder = await mkdtemp(join(tmpdir(), "oc-credentials-"));
    for (const name of [...CLEARED, "HOME", "AWS_EC2_METADATA_DISABLED"]) saved.set(name, process.env[name]);
    for (const name of CLEARED) delete process.env[name];
    process.env.HOME = folder; // no ~/.aws, no ~/.config/gcloud
    process.env.CLOUDSDK_CONFIG = join(folder, "gcloud");
    process.env.AWS_EC2_METADATA_DISABLED = "true"; // off EC2, the instance-metadata probe could only time out
  });
  after(async () => {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    await rm(folder, { recursive: true, force: true });
  });

  it("GCS: a missing key file named by GOOGLE_APPLICATION_CREDENTIALS is PERMISSION_DENIED naming it", async () => {
    const missing = join(folder, "absent-key.json");
    process.env.GOOGLE_APPLICATION_CREDENTIALS = missing;
    try {
      const error = await rejectsWithCode(new GcsBackend({ bucket: "oc-no-such-bucket" }).head("x"), "PERMISSION_DENIED", "missing key file");
      assert.ok(error.message.includes(missing) && error.message.includes("GOOGLE_APPLICATION_CREDENTIALS"), error.message);
    } finally {
      delete process.env.GOOGLE_APPLICATION_CREDENTIALS;
    }
  });

  it("GCS: a key file that is not a credentials file is PERMISSION_DENIED naming it", async () => {
    const broken = join(folder, "broken-key.json");
    await writeFile(broken, "not json");
    process.env.GOOGLE_APPLICATION_CREDENTIALS = broken;
    try {
      const error = await rejectsWithCode(new GcsBackend({ bucket: "oc-no-such-bucket" }).put("x", "y"), "PERMISSION_DENIED", "broken key file");
      assert.ok(error.message.includes(broken), error.message);
    } finally {
      delete process.env.GOOGLE_APPLICATION_CREDENTIALS;
    }
  });

  it("GCS: no credentials at all is PERMISSION_DENIED naming the variable and the default file", async () => {
    const error = await rejectsWithCode(new GcsBackend({ bucket: "oc-no-such-bucket" }).head("x"), "PERMISSION_DENIED", "no credentials");
    assert.ok(error.message.includes("GOOGLE_APPLICATION_CREDENTIALS"), error.message);
    assert.ok(error.message.includes(join(folder, "gcloud", "application_default_credentials.json")), error.message);
  });

  it("S3: no credentials at all is PERMISSION_DENIED naming the variables, and the profile when one is set", async () => {
    const backend = new S3Backend({ bucket: "oc-no-such-bucket", region: "us-east-1" });
    const error = await rejectsWithCode(backend.head("x"), "PERMISSION_DENIED", "no credentials");
    assert.ok(error.message.includes("AWS_ACCESS_KEY_ID"), error.message);
    await backend.close();
    process.env.AWS_PROFILE = "oc-absent-profile";
    try {
      const withProfile = new S3Backend({ bucket: "oc-no-such-bucket", region: "us-east-1" });
      const named = await rejectsWithCode(withProfile.head("x"), "PERMISSION_DENIED", "absent profile");
      assert.ok(named.message.includes("AWS_PROFILE=oc-absent-profile"), named.message);
      await withProfile.close();
    } finally {
      delete process.env.AWS_PROFILE;
    }
  });
});
