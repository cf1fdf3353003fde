/**
 * A server-side multipart copy (S3 UploadPartCopy, on MinIO) whose second part fails on every attempt, through the
 * fault proxy: the copy fails, starts no part once the upload is aborted, and leaves no open upload, no orphan
 * part and no target object. The fault is aimed at one request of one protocol, which the exported conformance
 * suite cannot do generically, so the case lives here.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { CREATE_ONLY, type WriteMode } from "../../src/backends/backend.ts";
import { S3Backend } from "../../src/backends/s3/index.ts";
import { isOpenCrateError } from "../../src/errors.ts";
import { startFaultProxy, type FaultProxy, type RequestLine } from "../support/fault-proxy.ts";
import { s3Options } from "../support/s3.ts";
import { minioEnv, type S3ServerEnv } from "../support/servers.ts";
import { pseudoRandomBytes, sha256 } from "./support.ts";
import { cloudTargets, MiB, openUploads } from "./targets.ts";

const PART = 5 * MiB;
const SOURCE_SIZE = 3 * PART + 12_345;
const target = cloudTargets().find((candidate) => candidate.kind === "s3");

describe("a multipart copy that fails part-way on MinIO", { skip: target?.skip ?? "no S3 target" }, () => {
  const proxies: FaultProxy[] = [];
  const backends: S3Backend[] = [];
  after(async () => {
    await Promise.all(backends.map((backend) => backend.close()));
    await Promise.all(proxies.map((proxy) => proxy.close()));
    await target?.cleanup();
  });

  const copies: ReadonlyArray<{ readonly name: string; readonly mode: WriteMode }> = [
    { name: "a create-only copy", mode: CREATE_ONLY },
    { name: "an overwriting copy above multipartCopyThreshold", mode: { kind: "overwrite" } },
  ];
  for (const { name, mode } of copies) {
    it(`${name} leaves no open upload, no orphan part and no target`, async () => {
      assert.ok(target !== undefined);
      const server = minioEnv() as S3ServerEnv;
      const prefix = await target.freshPrefix();
      const proxy = await startFaultProxy({ target: target.endpoint, seed: 3 });
      proxies.push(proxy);
      const settings = { prefix, copyPartSize: PART, multipartCopyThreshold: PART, queueSize: 2, maxAttempts: 3 };
      const clean = new S3Backend(s3Options(server, settings));
      const faulty = new S3Backend(s3Options(server, { ...settings, endpoint: proxy.endpoint }));
      backends.push(clean, faulty);
      const body = pseudoRandomBytes(SOURCE_SIZE, 5);
      await clean.put("source.bin", body);

      // The requests about the target in arrival order (not the backend's own probe of the store); part 2 of the
      // copy fails on every attempt.
      const seen: string[] = [];
      proxy.setPlan({
        decide: (request: RequestLine) => {
          if (target.objectOf(request) !== `${prefix}/target.bin`) return "pass";
          const role = target.roleOf(request);
          const part = new URLSearchParams(request.url.split("?")[1] ?? "").get("partNumber");
          seen.push(part === null ? role : `${role} ${part}`);
          return role === "multipart-part" && part === "2" ? "status-500" : "pass";
        },
      });
      let failure: unknown;
      try {
        await faulty.copy("source.bin", "target.bin", { mode });
      } catch (error) {
        failure = error;
      }
      proxy.setPlan({});
      assert.ok(isOpenCrateError(failure), `the copy failed with an OpenCrateError: ${String(failure)} (${seen.join(", ")})`);
      assert.ok(seen.includes("multipart-part 2"), `the copy went through UploadPartCopy: ${seen.join(", ")}`);
      const abort = seen.indexOf("multipart-abort");
      assert.ok(abort >= 0, `the upload was aborted: ${seen.join(", ")}`);
      assert.deepEqual(seen.slice(abort + 1).filter((request) => request.startsWith("multipart-part")), [], `no part started after the abort: ${seen.join(", ")}`);
      assert.deepEqual(await openUploads(server, prefix), [], "no open upload and so no orphan part");
      await assert.rejects(clean.head("target.bin"), (error: unknown) => isOpenCrateError(error, "NOT_FOUND"));
      assert.equal(sha256(await clean.get("source.bin")), sha256(body), "the source is intact");
    });
  }
});
