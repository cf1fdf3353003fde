/**
 * Missing or unreadable credentials are PERMISSION_DENIED naming the file or variable, on GCS and S3, without a
 * round of retries against an endpoint (the endpoints here are Google's and AWS's own, which this test never
 * reaches: the check fails first).
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
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
  "AWS_ROLE_ARN",
  "AWS_ENDPOINT_URL_STS",
];

/** A local port nothing listens on: connections to it are refused at once. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Runs `use` with these environment variables set, then removes them. */
async function withEnv<T>(values: Record<string, string>, use: () => Promise<T>): Promise<T> {
  Object.assign(process.env, values);
  try {
    return await use();
  } finally {
    for (const name of Object.keys(values)) delete process.env[name];
  }
}

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

  /** A workload identity configuration (`external_account`) reading its token from `tokenFile`, exchanged at `tokenUrl`. */
  async function workloadIdentity(name: string, tokenFile: string, tokenUrl: string): Promise<string> {
    const config = join(folder, `${name}.json`);
    const audience = "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/pool/providers/k8s";
    const credentials = { type: "external_account", audience, subject_token_type: "urn:ietf:params:oauth:token-type:jwt", token_url: tokenUrl, credential_source: { file: tokenFile } };
    await writeFile(config, JSON.stringify(credentials));
    return config;
  }

  it("GCS: a workload identity token file that is missing or not a file is PERMISSION_DENIED naming it and the setting", async () => {
    const token = join(folder, "absent-token");
    const asFolder = join(folder, "token-folder");
    await mkdir(asFolder);
    for (const [what, file, code] of [["missing", token, "ENOENT"], ["a folder", asFolder, "not a file"]] as const) {
      const config = await workloadIdentity(`wif-${code.replace(/ /g, "-")}`, file, "https://sts.googleapis.com/v1/token");
      await withEnv({ GOOGLE_APPLICATION_CREDENTIALS: config }, async () => {
        const error = await rejectsWithCode(new GcsBackend({ bucket: "oc-no-such-bucket" }).head("x"), "PERMISSION_DENIED", what);
        assert.ok(error.message.includes(`${file} cannot be read (${code})`), `${what}: ${error.message}`);
        assert.ok(error.message.includes(`credential_source.file in ${config} (GOOGLE_APPLICATION_CREDENTIALS)`), `${what}: ${error.message}`);
      });
    }
  });

  it("GCS: a token service out of reach is named as such, and a token file gone since is PERMISSION_DENIED naming it", async () => {
    const token = join(folder, "wif-token");
    await writeFile(token, "header.payload.signature");
    const port = await closedPort();
    const config = await workloadIdentity("wif-sts", token, `http://127.0.0.1:${port}/v1/token`);
    await withEnv({ GOOGLE_APPLICATION_CREDENTIALS: config }, async () => {
      const backend = new GcsBackend({ bucket: "oc-no-such-bucket", retry: { attempts: 1 } });
      try {
        const unreachable = await rejectsWithCode(backend.head("x"), "TRANSIENT", "token service refusing connections");
        assert.ok(unreachable.message.includes(`token service at 127.0.0.1:${port} is unreachable (ECONNREFUSED)`), unreachable.message);
        assert.doesNotMatch(unreachable.message, /storage\.googleapis\.com is unreachable/);
        await rm(token);
        const gone = await rejectsWithCode(backend.head("x"), "PERMISSION_DENIED", "token file removed");
        assert.ok(gone.message.includes(`${token} cannot be read (ENOENT)`), gone.message);
        assert.ok(gone.message.includes("GOOGLE_APPLICATION_CREDENTIALS"), gone.message);
        assert.doesNotMatch(gone.message, /unreachable/);
      } finally {
        await backend.close();
      }
    });
  });

  it("S3: a web identity token file that cannot be read is PERMISSION_DENIED naming AWS_WEB_IDENTITY_TOKEN_FILE and the file", async () => {
    const token = join(folder, "absent-eks-token");
    await withEnv({ AWS_ROLE_ARN: "arn:aws:iam::123456789012:role/trainer", AWS_WEB_IDENTITY_TOKEN_FILE: token }, async () => {
      const backend = new S3Backend({ bucket: "oc-no-such-bucket", region: "us-east-1", maxAttempts: 1 });
      try {
        const error = await rejectsWithCode(backend.listPage(""), "PERMISSION_DENIED", "missing token file");
        assert.ok(error.message.includes(`AWS_WEB_IDENTITY_TOKEN_FILE names ${token}, which cannot be read (ENOENT)`), error.message);
      } finally {
        await backend.close();
      }
    });
  });

  it("S3: AWS STS out of reach is named as such, not the S3 endpoint", async () => {
    const token = join(folder, "eks-token");
    await writeFile(token, "header.payload.signature");
    const port = await closedPort();
    const env = { AWS_ROLE_ARN: "arn:aws:iam::123456789012:role/trainer", AWS_WEB_IDENTITY_TOKEN_FILE: token, AWS_ENDPOINT_URL_STS: `http://127.0.0.1:${port}` };
    await withEnv(env, async () => {
      const backend = new S3Backend({ bucket: "oc-no-such-bucket", region: "us-east-1", endpoint: "http://127.0.0.1:9", maxAttempts: 1 });
      try {
        const error = await rejectsWithCode(backend.listPage(""), "TRANSIENT", "STS refusing connections");
        assert.ok(error.message.includes(`AWS STS at 127.0.0.1:${port} is unreachable (ECONNREFUSED)`), error.message);
        assert.match(error.message, /AWS_WEB_IDENTITY_TOKEN_FILE/);
        assert.doesNotMatch(error.message, /The S3 endpoint .* is unreachable/);
      } finally {
        await backend.close();
      }
    });
  });

  it("S3: a web identity token file without AWS_ROLE_ARN says the role is missing", async () => {
    const token = join(folder, "lone-token");
    await writeFile(token, "header.payload.signature");
    await withEnv({ AWS_WEB_IDENTITY_TOKEN_FILE: token }, async () => {
      const backend = new S3Backend({ bucket: "oc-no-such-bucket", region: "us-east-1" });
      try {
        const error = await rejectsWithCode(backend.head("x"), "PERMISSION_DENIED", "token without a role");
        assert.match(error.message, /AWS_ROLE_ARN is not/);
      } finally {
        await backend.close();
      }
    });
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
