/** Every scheme a root may have is served by a backend that runs the conformance suite in this repository. */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, it } from "node:test";
import { backendFromUri } from "../../src/index.ts";
import { LOCATION_SCHEMES } from "../../src/uri.ts";

/** For each scheme: a root of it, the backend kind it gives, and the test files running the suite on that kind. */
const SUITES: Record<(typeof LOCATION_SCHEMES)[number], { root: string; kind: string; files: string[] }> = {
  file: { root: "file:///tmp/oc-schemes", kind: "local", files: ["../backends/local.test.ts"] },
  s3: { root: "s3://oc-schemes/x", kind: "s3", files: ["../backends/s3-minio.test.ts", "../backends/s3-moto.test.ts"] },
  gs: { root: "gs://oc-schemes/x", kind: "gcs", files: ["../backends/gcs.test.ts"] },
  memory: { root: "memory://oc-schemes/x", kind: "memory", files: ["../backends/memory.test.ts", "../backends/prefixed.test.ts"] },
};

describe("conformance coverage", () => {
  it("runs the suite for every scheme backendFromUri knows", async () => {
    assert.deepEqual(Object.keys(SUITES).sort(), [...LOCATION_SCHEMES].sort(), "a scheme without a conformance run");
    for (const scheme of LOCATION_SCHEMES) {
      const { root, kind, files } = SUITES[scheme];
      assert.equal(backendFromUri(root).kind, kind, `${scheme}:// gives the ${kind} backend`);
      for (const file of files) {
        const source = await readFile(new URL(file, import.meta.url), "utf8");
        assert.match(source, /^describeBackendConformance\(/m, `${file} runs the conformance suite for ${scheme}://`);
      }
    }
  });
});
