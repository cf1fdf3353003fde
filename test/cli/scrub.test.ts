import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { removeDir, runCli, tempDir } from "./helpers.ts";

const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const TOKEN = "FwoGZXIvYXdzEBYaDExampleSessionToken";
const PRIVATE_KEY_LINE = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7";

describe("credentials never appear in CLI output", () => {
  let dir: string;
  let credentialsFile: string;

  before(async () => {
    dir = await tempDir("scrub");
    credentialsFile = join(dir, "service-account.json");
    writeFileSync(
      credentialsFile,
      JSON.stringify({
        type: "service_account",
        private_key_id: "0123456789abcdef0123456789abcdef01234567",
        private_key: `-----BEGIN PRIVATE KEY-----\n${PRIVATE_KEY_LINE}\n-----END PRIVATE KEY-----\n`,
      }),
    );
  });
  after(() => removeDir(dir));

  it("redacts user:secret@ in URIs", async () => {
    const result = await runCli(["ls", "s3://AKIAEXAMPLE:hunter2hunter2@bucket/snapshots"]);
    assert.equal(result.code, 2);
    assert.ok(!result.stderr.includes("hunter2"), result.stderr);
    assert.match(result.stderr, /^opencrate: Malformed location s3:\/\/\*\*\*@bucket\/snapshots: credentials do not belong in the URI/);
  });

  it("redacts a URI secret that holds '/' (as AWS secret keys do), also with --debug", async () => {
    for (const args of [["ls"], ["--debug", "ls"]]) {
      const result = await runCli([...args, "s3://AKIAEXAMPLE:wJal/K7MDENG+bPx@bucket/snapshots"]);
      assert.equal(result.code, 2);
      assert.ok(!result.stderr.includes("K7MDENG"), result.stderr);
      assert.ok(!result.stderr.includes("wJal"), result.stderr);
    }
  });

  it("blanks the values of secret variables and of the service-account file, with and without --debug", async () => {
    const env = { AWS_SECRET_ACCESS_KEY: SECRET, AWS_SESSION_TOKEN: TOKEN, GOOGLE_APPLICATION_CREDENTIALS: credentialsFile };
    for (const flags of [[], ["--debug"]]) {
      // Each secret ends up in an error message (and, with --debug, in the stack) by way of a missing path.
      for (const secret of [SECRET, TOKEN, PRIVATE_KEY_LINE, "0123456789abcdef0123456789abcdef01234567"]) {
        const result = await runCli(["tree", join(dir, `no-such-${secret}`), ...flags], { env });
        assert.equal(result.code, 1, result.stderr);
        assert.ok(!result.stderr.includes(secret), result.stderr);
        assert.match(result.stderr, /^opencrate: No folder at .*no-such-\*\*\*\.\n/);
        if (flags.length > 0) assert.match(result.stderr, /\n {4}at /);
      }
    }
  });
});
