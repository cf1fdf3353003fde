/**
 * The viewer's listings on each store (local disk, MinIO, fake-gcs-server), from keys written raw: a claimed version
 * with no folder, `dev:<tag>` folders, and a corrupt claim under another name, which leaves the other names listed.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startViewer, type Viewer } from "../../src/ui/server.ts";
import type { FileRow, NameSummary, VersionRow } from "../../src/ui/api-types.ts";
import { builtPage } from "./browser.ts";
import { viewerFetch } from "./client.ts";
import { gcsTarget, localTarget, minioTarget, type UiTarget } from "./targets.ts";

const claim = (version: number): string =>
  JSON.stringify({ version, token: `token-${version}`, host: "h", pid: 1, createdAt: "2026-01-01T00:00:00.000Z" });

for (const target of [localTarget(), minioTarget(), gcsTarget()]) {
  describe(`the viewer's listings on ${target.label}`, { skip: target.skip }, () => {
    let viewer: Viewer;
    const json = async <T>(path: string): Promise<T> => {
      const response = await viewerFetch(viewer, path);
      assert.equal(response.status, 200, `${path}: ${response.status} ${await response.clone().text()}`);
      return (await response.json()) as T;
    };

    before(async () => {
      const root = await target.prepare();
      // train: v0 and dev:scratch with files, v1 claimed but never written.
      await target.putRaw("train/.opencrate/versions/0000000000.json", claim(0));
      await target.putRaw("train/v0/train.log", "2026-01-01 00:00:00 - INFO     a line\n");
      await target.putRaw("train/.opencrate/versions/0000000001.json", claim(1));
      await target.putRaw("train/dev:scratch/notes.txt", "scratch\n");
      // broken: its only claim is not JSON.
      await target.putRaw("broken/.opencrate/versions/0000000000.json", "{ not json");
      await target.putRaw("broken/v0/notes.txt", "x\n");
      Object.assign(process.env, target.env);
      viewer = await startViewer({ root, assetsDir: await builtPage() });
    });

    after(async () => {
      await viewer?.close();
      await target.cleanup();
    });

    it("lists dev folders and a claim without a folder, and a name with a corrupt claim with its error", async () => {
      const names = await json<NameSummary[]>("/api/names");
      assert.deepEqual(
        names.map((entry) => [entry.name, entry.versions, entry.latest?.versionName ?? null, entry.error === undefined]),
        [
          ["broken", null, null, false],
          ["train", 3, "v1", true],
        ],
      );
      const { versions } = await json<{ versions: VersionRow[] }>("/api/names/train");
      assert.deepEqual(
        versions.map((row) => [row.versionName, row.version, row.hasFolder, row.files]),
        [
          ["dev:scratch", "dev", true, 1],
          ["v0", 0, true, 1],
          ["v1", 1, false, 0],
        ],
      );
      const { files } = await json<{ files: FileRow[] }>("/api/names/train/dev%3Ascratch/files");
      assert.deepEqual(files.map((file) => file.path), ["notes.txt"]);
      assert.deepEqual((await json<{ files: FileRow[] }>("/api/names/train/v1/files")).files, []);
      assert.equal((await viewerFetch(viewer, "/api/names/train/v2/files")).status, 404);
    });
  });
}
