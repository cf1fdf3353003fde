/**
 * The lowest version each optional peer's range in package.json allows really works: the packed package and
 * exactly those releases (from the registry) go into a fresh project, where fixtures/peer-floors-smoke.mjs uses
 * them against MinIO and fake-gcs-server, the command lists what it made, and the declarations type-check
 * against theirs.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { copyFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { gcsEnv, minioEnv, skipUnless } from "../support/servers.ts";
import { startUnacceptingEndpoint } from "../support/unaccepting-endpoint.ts";
import { npm, ok, pack, project, repo, run } from "./packed.ts";

const minio = minioEnv();
const gcs = gcsEnv();

/** Each alternative of a peer range is a caret range; the first one's version is the floor. */
function floorOf(name: string, range: string): string {
  const alternatives = range.split("||").map((part) => part.trim());
  for (const alternative of alternatives) assert.match(alternative, /^\^\d+\.\d+\.\d+$/, `${name}'s peer range ${range}: each part is ^x.y.z`);
  return (alternatives[0] ?? "").slice(1);
}

async function peerFloors(): Promise<Map<string, string>> {
  const manifest = JSON.parse(await readFile(join(repo, "package.json"), "utf8")) as { peerDependencies: Record<string, string> };
  return new Map(Object.entries(manifest.peerDependencies).map(([name, range]) => [name, floorOf(name, range)]));
}

describe("the oldest peer releases the ranges allow", { skip: skipUnless(minio && gcs, "MinIO and fake-gcs-server", "TEST_MINIO_ENDPOINT and TEST_GCS_ENDPOINT") }, () => {
  let work: string;
  let dir: string;
  let floors: Map<string, string>;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "opencrate-floors-"));
    floors = await peerFloors();
    const tarball = await pack(work);
    dir = await project(work, "floors-app", { type: "module" });
    await npm(["install", tarball, ...[...floors].map(([name, floor]) => `${name}@${floor}`), "@types/node@22"], dir);
  });

  after(async () => {
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  it("install as the floor versions exactly", async () => {
    assert.deepEqual([...floors.keys()].sort(), ["@aws-sdk/client-s3", "@google-cloud/storage", "sharp"]);
    for (const [name, floor] of floors) {
      const installed = JSON.parse(await readFile(join(dir, "node_modules", name, "package.json"), "utf8")) as { version: string };
      assert.equal(installed.version, floor, name);
    }
  });

  it("save, claim versions, append logs, refuse a second create on S3 and GCS, time out on GCS; sharp round-trips a PNG and a GIF", { timeout: 120_000 }, async () => {
    assert.ok(minio !== undefined && gcs !== undefined);
    const prefix = `floors-${randomUUID()}`;
    const s3Root = `s3://${minio.bucket}/${prefix}`;
    const gsRoot = `gs://${gcs.bucket}/${prefix}`;
    const env = {
      AWS_ENDPOINT_URL_S3: minio.endpoint,
      AWS_ACCESS_KEY_ID: minio.accessKeyId,
      AWS_SECRET_ACCESS_KEY: minio.secretAccessKey,
      AWS_REGION: minio.region,
      STORAGE_EMULATOR_HOST: gcs.endpoint,
      GOOGLE_CLOUD_PROJECT: gcs.projectId,
    };
    await copyFile(fileURLToPath(new URL("./fixtures/peer-floors-smoke.mjs", import.meta.url)), join(dir, "smoke.mjs"));
    const unaccepting = await startUnacceptingEndpoint();
    try {
      assert.equal((await ok(process.execPath, ["smoke.mjs", s3Root, gsRoot, unaccepting.endpoint], dir, env)).trim(), "ok");
    } finally {
      await unaccepting.close();
    }
    for (const root of [s3Root, gsRoot]) {
      const listing = await ok("npx", ["--no", "--", "opencrate", "ls", `${root}/floors`], dir, env);
      assert.match(listing, /^v0\b[^\n]*\nv1\b/m, `opencrate ls ${root}/floors:\n${listing}`);
    }
  });

  it("type-check the backends' options against the declarations of those releases (strict, skipLibCheck off)", async () => {
    await writeFile(
      join(dir, "types.ts"),
      `import { GcsBackend, S3Backend, Snapshot } from "opencrate";
export const s3 = new S3Backend({ bucket: "b", credentials: { accessKeyId: "a", secretAccessKey: "s" } });
export const gcs = new GcsBackend({ bucket: "b" });
export const opened: Promise<Snapshot> = Snapshot.open("s3://b/x@latest");
`,
    );
    const compilerOptions = { strict: true, exactOptionalPropertyTypes: true, skipLibCheck: false, noEmit: true, target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", types: ["node"] };
    await writeFile(join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions, files: ["types.ts"] }));
    const result = await run(process.execPath, [join(repo, "node_modules", "typescript", "bin", "tsc"), "-p", "."], dir);
    assert.equal(result.code, 0, `tsc:\n${result.stdout}${result.stderr}`);
  });
});
