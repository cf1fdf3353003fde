/**
 * The viewer lists what `opencrate ls` lists: every version folder (`dev` ones included) and every claim whose
 * folder holds nothing yet, in ls's order; one folder or one name that cannot be read spoils only its own row.
 */
import assert from "node:assert/strict";
import { mkdir, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Snapshot } from "../../src/index.ts";
import { startViewer, type Viewer } from "../../src/ui/server.ts";
import type { FileRow, NameSummary, VersionRow } from "../../src/ui/api-types.ts";
import { removeDir, runCli, tempDir } from "../cli/helpers.ts";
import { builtPage } from "./browser.ts";
import { viewerFetch } from "./client.ts";

async function run(root: string, name: string, options: Record<string, unknown> = {}): Promise<void> {
  const snapshot = await Snapshot.setup({ name, root, console: false, ...options });
  snapshot.info(`a line of ${name}`);
  await snapshot.json("metrics.json").save({ loss: 0.5 });
  await snapshot.close();
}

describe("the viewer's listings match opencrate ls", () => {
  let dir: string;
  let root: string;
  let viewer: Viewer;
  let resumedStart: string | undefined;
  const get = (path: string): Promise<Response> => viewerFetch(viewer, path);
  const json = async <T>(path: string): Promise<T> => {
    const response = await get(path);
    assert.equal(response.status, 200, `${path}: ${response.status} ${await response.clone().text()}`);
    return (await response.json()) as T;
  };

  before(async () => {
    dir = await tempDir("ui-catalog");
    root = join(dir, "snapshots");
    // train: v0:base with a sibling v0 written by hand (listed after it: v0:base is the folder claimed), v1 with a
    // sibling v1:base written by hand, v2 claimed but its folder gone (the run died
    // before writing, or the folder was deleted), and the scratch folders dev and dev:scratch.
    await run(root, "train", { tag: "base" });
    await mkdir(join(root, "train", "v0"), { recursive: true });
    await writeFile(join(root, "train", "v0", "notes.txt"), "copied by hand\n");
    await run(root, "train");
    await mkdir(join(root, "train", "v1:base"), { recursive: true });
    await writeFile(join(root, "train", "v1:base", "notes.txt"), "copied by hand\n");
    await run(root, "train");
    await rm(join(root, "train", "v2"), { recursive: true });
    await run(root, "train", { start: "dev" });
    await run(root, "train", { start: "dev", tag: "scratch" });
    // sweep: its only claimed version has no folder: the name must still be listed.
    await run(root, "sweep");
    await rm(join(root, "sweep", "v0"), { recursive: true });
    // links: a broken link inside v0 makes that one folder unreadable.
    await run(root, "links");
    await run(root, "links");
    await symlink(join(dir, "nowhere.txt"), join(root, "links", "v0", "dangling.txt"));
    // broken: a corrupt claim.
    await run(root, "broken");
    await writeFile(join(root, "broken", ".opencrate", "versions", "0000000001.json"), "{ not json");
    await run(root, "other");
    // empty: a folder holding no version.
    await mkdir(join(root, "empty", "notes"), { recursive: true });
    await writeFile(join(root, "empty", "notes", "a.txt"), "not a snapshot\n");
    // resumed: v0 claimed, then resumed by a later run; the page times the later run, not the claim.
    await run(root, "resumed");
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const resuming = await Snapshot.setup({ name: "resumed", root, start: "last", console: false });
    resumedStart = (await resuming.runs()).at(-1)?.startedAt;
    await resuming.close();
    viewer = await startViewer({ root, assetsDir: await builtPage() });
  });

  after(async () => {
    await viewer?.close();
    await removeDir(dir);
  });

  const lsRows = async (name: string): Promise<{ versionName: string; size: number | null; files: number | null }[]> => {
    const result = await runCli(["ls", "--json", join(root, name)]);
    return (JSON.parse(result.stdout) as { versions: { versionName: string; size: number | null; files: number | null }[] }).versions;
  };

  it("lists every version ls lists, in ls's order: dev folders, claims without a folder, siblings after the folder", async () => {
    const { versions } = await json<{ versions: VersionRow[] }>("/api/names/train");
    const ls = await lsRows("train");
    assert.deepEqual(
      versions.map((row) => [row.versionName, row.size, row.files]),
      ls.map((row) => [row.versionName, row.size, row.files]),
    );
    assert.deepEqual(versions.map((row) => row.versionName), ["dev", "dev:scratch", "v0:base", "v0", "v1", "v1:base", "v2"]);
    const dev = versions.find((row) => row.versionName === "dev");
    assert.equal(dev?.version, "dev");
    assert.ok((dev?.files ?? 0) > 0 && (dev?.size ?? 0) > 0);
    const v2 = versions.find((row) => row.versionName === "v2");
    assert.deepEqual([v2?.hasFolder, v2?.files, v2?.size], [false, 0, 0]);
    assert.ok(v2?.createdAt !== null);
  });

  it("times a version's latest run from that run's start, not from the claim", async () => {
    const { versions } = await json<{ versions: VersionRow[] }>("/api/names/resumed");
    const [v0] = versions;
    assert.ok(resumedStart !== undefined && v0?.createdAt !== null && v0?.createdAt !== undefined);
    assert.equal(v0?.startedAt, resumedStart);
    assert.ok(resumedStart > v0.createdAt, `${resumedStart} after ${v0.createdAt}`);
  });

  it("opens dev folders like any version", async () => {
    for (const folder of ["dev", "dev:scratch"]) {
      const { files } = await json<{ files: FileRow[] }>(`/api/names/train/${encodeURIComponent(folder)}/files`);
      assert.ok(files.some((file) => file.path === "jsons/metrics.json"), folder);
      const raw = await get(`/api/names/train/${encodeURIComponent(folder)}/raw/jsons/metrics.json`);
      assert.deepEqual(await raw.json(), { loss: 0.5 }, folder);
    }
  });

  it("keeps a name whose latest claimed version has no folder", async () => {
    const names = await json<NameSummary[]>("/api/names");
    const sweep = names.find((entry) => entry.name === "sweep");
    assert.deepEqual([sweep?.versions, sweep?.latest?.versionName], [1, "v0"]);
    const train = names.find((entry) => entry.name === "train");
    assert.deepEqual([train?.versions, train?.latest?.versionName], [7, "v2"]);
    const { versions } = await json<{ versions: VersionRow[] }>("/api/names/sweep");
    assert.deepEqual(versions.map((row) => [row.versionName, row.hasFolder]), [["v0", false]]);
  });

  it("shows a folder it cannot list with an unknown size, and the other folders in full", async () => {
    const { versions } = await json<{ versions: VersionRow[] }>("/api/names/links");
    const ls = await lsRows("links");
    assert.deepEqual(
      versions.map((row) => [row.versionName, row.size, row.files]),
      ls.map((row) => [row.versionName, row.size, row.files]),
    );
    const [v0, v1] = versions;
    assert.deepEqual([v0?.versionName, v0?.size, v0?.files], ["v0", null, null]);
    assert.match(v0?.error ?? "", /dangling\.txt|link|ENOENT/i);
    assert.ok((v1?.size ?? 0) > 0 && v1?.error === undefined);
  });

  it("lists the other names when one name's claim is corrupt, and that name with its error", async () => {
    const names = await json<NameSummary[]>("/api/names");
    assert.deepEqual(names.map((entry) => entry.name).sort(), ["broken", "links", "other", "resumed", "sweep", "train"]);
    const broken = names.find((entry) => entry.name === "broken");
    assert.equal(broken?.versions, null);
    assert.match(broken?.error ?? "", /claim/);
    assert.equal(names.find((entry) => entry.name === "other")?.versions, 1);
    // Its versions page fails, as `ls <root>/broken` does, with the reason.
    const page = await get("/api/names/broken");
    assert.equal(page.status, 502);
    assert.match(((await page.json()) as { error: string }).error, /claim/);
  });

  it("answers 404 with the reason for a valid name that is no snapshot", async () => {
    for (const name of ["missing", "empty"]) {
      const page = await get(`/api/names/${name}`);
      assert.equal(page.status, 404, name);
      assert.match(((await page.json()) as { error: string }).error, new RegExp(`^No snapshot ${name} at `));
    }
  });

  it("answers 404 for a folder that does not exist, and no files for a claimed one without a folder", async () => {
    assert.equal((await get("/api/names/train/v9/files")).status, 404);
    assert.equal((await get("/api/names/train/v1:nope/files")).status, 404);
    assert.deepEqual((await json<{ files: FileRow[] }>("/api/names/train/v2/files")).files, []);
  });
});
