/** oc.io: the tree format, listings and text/JSON/YAML files at paths and URIs. */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { io } from "../../src/index.ts";
import { renderTree } from "../../src/io/tree.ts";
import { formatSize } from "../../src/io/size.ts";
import { expectCode } from "../support/assertions.ts";
import { gcsEnv, minioEnv, skipUnless, useTestServersForUris } from "../support/servers.ts";
import { rawDelete, rawPut } from "../support/gcs.ts";

describe("formatSize", () => {
  it("prints Bytes below 1 KiB and two decimals above", () => {
    assert.equal(formatSize(0), "0 Bytes");
    assert.equal(formatSize(5), "5 Bytes");
    assert.equal(formatSize(1023), "1023 Bytes");
    assert.equal(formatSize(1024), "1.00 KB");
    assert.equal(formatSize(1536), "1.50 KB");
    assert.equal(formatSize(1024 * 1024), "1.00 MB");
    assert.equal(formatSize(5 * 1024 ** 3), "5.00 GB");
  });
});

describe("renderTree", () => {
  const time = new Date(2025, 10, 16, 11, 45, 7);
  const files = [
    { path: "snapshot_guide/v1:major-update/snapshot_guide.log", size: 844, lastModified: time },
    { path: "snapshot_guide/v1:major-update/jsons/data.json", size: 54, lastModified: time },
    { path: "snapshot_guide/v0:initial-run/snapshot_guide.log", size: 145, lastModified: time },
    { path: "snapshot_guide/v0:initial-run/snapshot_guide.history.log", size: 290, lastModified: time },
    { path: "snapshot_guide/.opencrate/versions/0000000000.json", size: 100, lastModified: time },
    { path: "snapshot_guide/v0:initial-run/.hidden", size: 1, lastModified: time },
  ];

  it("puts folders first, sorts case-insensitively, hides dot-entries", () => {
    assert.equal(
      renderTree(files, { rootLabel: "snapshots", depth: 4, verbose: false }),
      [
        "snapshots",
        "└── snapshot_guide/",
        "    ├── v0:initial-run/",
        "    │   ├── snapshot_guide.history.log",
        "    │   └── snapshot_guide.log",
        "    └── v1:major-update/",
        "        ├── jsons/",
        "        │   └── data.json",
        "        └── snapshot_guide.log",
      ].join("\n"),
    );
  });

  it("stops at the depth and shows sizes and times in verbose mode", () => {
    assert.equal(
      renderTree(files, { rootLabel: "snapshots", depth: 2, verbose: true }),
      [
        "snapshots",
        "└── snapshot_guide/ (2025-11-16 11:45, 1.30 KB)",
        "    ├── v0:initial-run/ (2025-11-16 11:45, 435 Bytes)",
        "    └── v1:major-update/ (2025-11-16 11:45, 898 Bytes)",
      ].join("\n"),
    );
    assert.equal(renderTree(files, { rootLabel: "snapshots", depth: 0, verbose: false }), "snapshots");
  });
});

describe("oc.io on local paths and URIs", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "opencrate-io-"));
    await mkdir(join(dir, "data", "B"), { recursive: true });
    await writeFile(join(dir, "data", "b.txt"), "bb");
    await writeFile(join(dir, "data", "A.txt"), "a");
    await writeFile(join(dir, "data", ".secret"), "s");
    await writeFile(join(dir, "data", "B", "inner.txt"), "inner");
    const old = new Date(2024, 0, 2, 3, 4);
    for (const file of ["b.txt", "A.txt", "B/inner.txt"]) await utimes(join(dir, "data", file), old, old);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("showFilesInDir returns (and prints) the tree of a local folder", async () => {
    const tree = await io.showFilesInDir(join(dir, "data"), { print: false, verbose: true });
    assert.equal(
      tree,
      [
        "data",
        "├── B/ (2024-01-02 03:04, 5 Bytes)",
        "│   └── inner.txt (2024-01-02 03:04, 5 Bytes)",
        "├── A.txt (2024-01-02 03:04, 1 Bytes)",
        "└── b.txt (2024-01-02 03:04, 2 Bytes)",
      ].join("\n"),
    );
  });

  it("listFilesInDir lists the files directly inside, sorted", async () => {
    assert.deepEqual(await io.listFilesInDir(join(dir, "data")), [".secret", "A.txt", "b.txt"]);
  });

  it("listFilesInDir leaves out opencrate's bookkeeping, as ls does", async () => {
    const folder = join(dir, "kept");
    await mkdir(folder);
    for (const name of ["a.txt", `.ocpart-${"0".repeat(32)}`, `.ocpart-${"0".repeat(32)}-ranges`, ".opencrate-probe-x", ".ocpart-notours", ".env"]) {
      await writeFile(join(folder, name), "x");
    }
    assert.deepEqual(await io.listFilesInDir(folder), [".env", ".ocpart-notours", "a.txt"]);
  });

  it("missing folders and bad depths are typed errors naming the path", async () => {
    const missing = join(dir, "nope");
    const error = await expectCode(io.showFilesInDir(missing, { print: false }), "NOT_FOUND");
    assert.ok(error.message.includes(missing));
    await expectCode(io.listFilesInDir(missing), "NOT_FOUND");
    await expectCode(io.showFilesInDir(join(dir, "data"), { depth: -1, print: false }), "INVALID_ARGUMENT");
    await expectCode(io.showFilesInDir("ftp://host/x", { print: false }), "INVALID_ARGUMENT");
  });

  it("text, json and yaml save and load at paths, including ../ paths", async () => {
    await io.text.save("hello", join(dir, "out", "a.txt"));
    assert.equal(await io.text.load(join(dir, "out", "a.txt")), "hello");
    await io.json.save({ b: [1, 2] }, join(dir, "out", "..", "out", "b.json"));
    assert.deepEqual(await io.json.load(join(dir, "out", "b.json")), { b: [1, 2] });
    await io.yaml.save({ z: 1, a: { c: true } }, join(dir, "out", "c.yaml"));
    assert.equal(await io.text.load(join(dir, "out", "c.yaml")), "a:\n  c: true\nz: 1\n");
    await expectCode(io.json.load(join(dir, "out", "missing.json")), "NOT_FOUND");
    await io.text.save("{not json", join(dir, "out", "bad.json"));
    await expectCode(io.json.load(join(dir, "out", "bad.json")), "CORRUPT_DATA");
  });

  it("work the same on memory:// URIs", async () => {
    const store = `memory://io-${randomUUID()}`;
    await io.json.save({ a: 1 }, `${store}/runs/x/a.json`);
    await io.text.save("t", `${store}/runs/x/sub/b.txt`);
    assert.deepEqual(await io.json.load(`${store}/runs/x/a.json`), { a: 1 });
    assert.deepEqual(await io.listFilesInDir(`${store}/runs/x`), ["a.json"]);
    assert.equal(await io.showFilesInDir(`${store}/runs`, { print: false, depth: 3 }), ["runs", "└── x/", "    ├── sub/", "    │   └── b.txt", "    └── a.json"].join("\n"));
    await expectCode(io.json.load(`${store}`), "INVALID_ARGUMENT");
    await expectCode(io.showFilesInDir(`${store}/nothing-here`, { print: false }), "NOT_FOUND");
    await expectCode(io.listFilesInDir(`${store}/nothing-here`), "NOT_FOUND");
  });
});

describe("oc.io on s3:// (MinIO) and gs:// (fake-gcs-server) URIs", () => {
  const minio = minioEnv();
  const gcs = gcsEnv();
  useTestServersForUris();
  const stores = [
    { label: "MinIO", base: minio === undefined ? undefined : `s3://${minio.bucket}/io-${randomUUID()}`, skip: skipUnless(minio, "MinIO", "TEST_MINIO_ENDPOINT") },
    { label: "fake-gcs-server", base: gcs === undefined ? undefined : `gs://${gcs.bucket}/io-${randomUUID()}`, skip: skipUnless(gcs, "fake-gcs-server", "TEST_GCS_ENDPOINT") },
  ];
  for (const { label, base, skip } of stores) {
    it(`saves, loads, lists and prints trees on ${label}`, { skip }, async () => {
      if (base === undefined) return;
      await io.json.save({ a: [1, 2] }, `${base}/x/a.json`);
      await io.yaml.save({ b: true }, `${base}/x/b.yaml`);
      await io.text.save("deep", `${base}/x/sub/c.txt`);
      assert.deepEqual(await io.json.load(`${base}/x/a.json`), { a: [1, 2] });
      assert.deepEqual(await io.yaml.load(`${base}/x/b.yaml`), { b: true });
      assert.deepEqual(await io.listFilesInDir(`${base}/x`), ["a.json", "b.yaml"]);
      const label = base.slice(base.lastIndexOf("/") + 1);
      assert.equal(
        await io.showFilesInDir(base, { print: false, depth: 3 }),
        [label, "└── x/", "    ├── sub/", "    │   └── c.txt", "    ├── a.json", "    └── b.yaml"].join("\n"),
      );
      await expectCode(io.showFilesInDir(`${base}/missing`, { print: false }), "NOT_FOUND");
      await expectCode(io.text.load(`${base}/x/missing.txt`), "NOT_FOUND");
    });
  }

  it("listFilesInDir on fake-gcs-server leaves out \".\", \"..\" and bookkeeping, and gives other names as stored", { skip: stores[1]?.skip }, async () => {
    if (gcs === undefined) return;
    const prefix = `io-${randomUUID()}/odd`;
    const names = [".", "..", ".~oc-tmp-x", `.ocpart-${"0".repeat(32)}`, "\u001b[2Kesc.txt", "ok.txt", "jsons/"];
    try {
      for (const name of names) await rawPut(gcs, `${prefix}/${name}`, name === "jsons/" ? "" : "x");
      assert.deepEqual(await io.listFilesInDir(`gs://${gcs.bucket}/${prefix}`), ["\u001b[2Kesc.txt", "ok.txt"]);
    } finally {
      for (const name of names) await rawDelete(gcs, `${prefix}/${name}`);
    }
  });
});
