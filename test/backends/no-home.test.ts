/**
 * A process with no home folder (HOME unset and a uid the system's user database does not know, where Node's
 * homedir() throws): there are no config files there, so the S3 reads that need no SDK and the GCS credentials
 * check go on without them, and what the AWS SDK cannot do without one is PERMISSION_DENIED saying to set HOME.
 * homedir() is made to fail as it does then (its ESM binding is synced, so the modules under test see it too).
 */
import assert from "node:assert/strict";
import { syncBuiltinESMExports } from "node:module";
import os from "node:os";
import { after, before, describe, it, mock } from "node:test";
import { GcsBackend } from "../../src/backends/gcs/index.ts";
import { resolveS3Settings } from "../../src/backends/s3/options.ts";
import { plainRoute } from "../../src/backends/s3/plain-route.ts";
import { S3Backend } from "../../src/backends/s3/index.ts";
import { rejectsWithCode } from "../conformance/helpers.ts";

const CLEARED = ["HOME", "STORAGE_EMULATOR_HOST", "GOOGLE_APPLICATION_CREDENTIALS", "CLOUDSDK_CONFIG", "GCE_METADATA_HOST", "GCE_METADATA_IP", "AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"];

/** What homedir() throws with HOME unset for a uid that has no passwd entry. */
function noHomedir(): never {
  throw Object.assign(new Error("A system error occurred: uv_os_homedir returned ENOENT (no such file or directory)"), {
    name: "SystemError",
    code: "ERR_SYSTEM_ERROR",
    errno: -2,
    syscall: "uv_os_homedir",
    info: { errno: -2, code: "ENOENT", message: "no such file or directory", syscall: "uv_os_homedir" },
  });
}

describe("no home folder", () => {
  const saved = new Map<string, string | undefined>();
  before(() => {
    for (const name of [...CLEARED, "AWS_EC2_METADATA_DISABLED"]) saved.set(name, process.env[name]);
    for (const name of CLEARED) delete process.env[name];
    process.env.AWS_EC2_METADATA_DISABLED = "true";
    mock.method(os, "homedir", noHomedir);
    syncBuiltinESMExports();
    assert.throws(() => os.homedir(), /uv_os_homedir/);
  });
  after(() => {
    mock.restoreAll();
    syncBuiltinESMExports();
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it("S3: reads without the SDK find no shared config file there and sign for the fallback region", () => {
    const options = { bucket: "bucket", endpoint: "http://127.0.0.1:9000", credentials: { accessKeyId: "id", secretAccessKey: "secret" } };
    const route = plainRoute(resolveS3Settings(options), options);
    assert.equal(route?.region, "us-east-1");
    const backend = new S3Backend(options);
    void backend.close();
  });

  it("S3: a request through the SDK, which needs a home folder, is PERMISSION_DENIED saying to set HOME", async () => {
    const credentials = async () => ({ accessKeyId: "id", secretAccessKey: "secret" });
    const backend = new S3Backend({ bucket: "bucket", endpoint: "http://127.0.0.1:9", region: "us-east-1", credentials, maxAttempts: 1 });
    try {
      const error = await rejectsWithCode(backend.listPage(""), "PERMISSION_DENIED", "a listing through the SDK");
      assert.match(error.message, /HOME is not set and .* has no home folder/);
      assert.match(error.message, /Set HOME/);
    } finally {
      await backend.close();
    }
  });

  it("GCS: no credentials file is looked for there; no credentials at all is PERMISSION_DENIED saying why", async () => {
    const error = await rejectsWithCode(new GcsBackend({ bucket: "oc-no-such-bucket" }).head("x"), "PERMISSION_DENIED", "no credentials");
    assert.match(error.message, /GOOGLE_APPLICATION_CREDENTIALS is not set, there is no gcloud credentials file \(HOME is not set/);
  });
});
