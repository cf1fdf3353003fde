/**
 * Local putFile with a local file that cannot be opened for a reason other than "missing" or "a folder" (found in
 * review): the error names the local file, as on S3, GCS and the prefix layer (upload-source.ts), never the
 * destination ("Cannot write <root>/x.bin: a folder on its path is a file" was the old message).
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { LocalBackend } from "../../src/backends/local/index.ts";
import { rejectsWithCode } from "../conformance/helpers.ts";

describe("local putFile names the local file when it cannot be read", () => {
  let folder = "";
  let backend: LocalBackend;
  before(async () => {
    folder = await mkdtemp(join(tmpdir(), "oc-local-putfile-"));
    backend = new LocalBackend({ root: join(folder, "store") });
  });
  after(() => rm(folder, { recursive: true, force: true }));

  it("a path through a regular file (ENOTDIR) is INVALID_ARGUMENT naming the local path, not the destination", async () => {
    const plain = join(folder, "plain.txt");
    await writeFile(plain, "x");
    const localPath = join(plain, "inner.bin");
    const error = await rejectsWithCode(backend.putFile("uploads/a.bin", localPath), "INVALID_ARGUMENT", "ENOTDIR source");
    assert.ok(error.message.includes(localPath), `the message names the local path: ${error.message}`);
    assert.equal(error.path, localPath);
  });

  it("a symbolic-link loop (ELOOP) is INVALID_ARGUMENT naming the local path, not the destination", async () => {
    const first = join(folder, "loop-a");
    const second = join(folder, "loop-b");
    await symlink(second, first);
    await symlink(first, second);
    const error = await rejectsWithCode(backend.putFile("uploads/b.bin", first), "INVALID_ARGUMENT", "ELOOP source");
    assert.ok(error.message.includes(first), `the message names the local path: ${error.message}`);
    assert.equal(error.path, first);
  });
});
