/** The viewer's small rules on their own: ranges, content types, path checks, run fields, file grouping. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseRange } from "../../src/ui/byte-ranges.ts";
import { Catalog } from "../../src/ui/catalog.ts";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { Snapshot } from "../../src/index.ts";
import { useClock } from "../../src/clock.ts";
import { skewedClock } from "../support/skewed-clock.ts";
import { shownStatus, STALE_AFTER_MS } from "../../src/snapshot/run-records.ts";
import { contentTypeOf } from "../../src/ui/content-types.ts";
import { PreviewProblem, safetensorsPreview, TAIL_BYTES, tail, textPreview, yamlPreview } from "../../src/ui/previews.ts";
import { BadPath, fileAddress, versionAddress } from "../../src/ui/paths.ts";
import type { FileRow, RunSummary } from "../../src/ui/api-types.ts";
import { backupsOf, buildTree, logFiles, logLabel } from "../../src/ui/web/files.ts";
import { formatSize, runDuration } from "../../src/ui/web/format.ts";
import { parseRoute } from "../../src/ui/web/routes.ts";

const row = (path: string, size = 1): FileRow => ({ path, size, lastModified: "2026-01-01T00:00:00.000Z", checksum: null });

describe("the viewer's rules", () => {
  it("lists a name whose versions are only folders (written by Python OpenCrate or copied by hand)", async () => {
    const store = `ui-folders-${process.pid}`;
    const backend = new MemoryBackend({ name: store });
    await backend.put("train/v0:initial-run/train.log", new TextEncoder().encode("a line\n"));
    await backend.put("train/v1/jsons/m.json", new TextEncoder().encode("{}"));
    await backend.put("notes/readme.txt", new TextEncoder().encode("not a snapshot"));
    const catalog = new Catalog(backend);
    const names = await catalog.names();
    assert.deepEqual(names.map((summary) => [summary.name, summary.versions]), [["train", 2]]);
    assert.deepEqual((await catalog.versions("train")).map((row) => row.versionName), ["v0:initial-run", "v1"]);
  });

  it("lists and opens a name of any characters Python OpenCrate takes, and its files by their %-encoded path", async () => {
    const store = `ui-any-names-${process.pid}`;
    const backend = new MemoryBackend({ name: store });
    const names = ["my run", "résumé", "exp:1", "run#1", "x@y", "q?x", "50%"];
    for (const name of names) await backend.put(`${name}/v0/${name}.log`, new TextEncoder().encode("a line\n"));
    const catalog = new Catalog(backend);
    assert.deepEqual((await catalog.names()).map((summary) => [summary.name, summary.versions]).sort(), names.map((name) => [name, 1]).sort());
    for (const name of names) {
      assert.deepEqual((await catalog.versions(name)).map((row) => row.versionName), ["v0"], name);
      assert.deepEqual((await catalog.files(name, "v0")).map((file) => file.path), [`${name}.log`], name);
      const address = fileAddress(encodeURIComponent(name), "v0", [encodeURIComponent(`${name}.log`)]);
      assert.deepEqual([address.name, address.key], [name, `${name}/v0/${name}.log`], name);
    }
    for (const name of ["a%2Fb", "a%01b", "%2E%2E", "%2E", ""]) assert.throws(() => versionAddress(name, "v0"), BadPath, name);
  });

  it("says when a text preview's bytes are not UTF-8, and not when a long file's preview ends inside a character", async () => {
    const backend = new MemoryBackend({ name: `ui-text-${process.pid}` });
    await backend.put("t/v0/latin1.txt", Uint8Array.from(Buffer.from("caf\xe9\n", "latin1")));
    await backend.put("t/v0/long.txt", new TextEncoder().encode(`x${"é".repeat(2 * 1024 * 1024)}`));
    const latin1 = await textPreview(backend, "t/v0/latin1.txt");
    assert.deepEqual([latin1.text, latin1.notUtf8], ["caf\ufffd\n", true]);
    const long = await textPreview(backend, "t/v0/long.txt");
    assert.deepEqual([long.truncated, long.notUtf8], [true, false]);
  });

  it("tails a last line that has no newline as a partial line, until its newline comes", async () => {
    const backend = new MemoryBackend({ name: `ui-tail-${process.pid}` });
    const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
    await backend.put("t/v0/t.log", bytes("one\nkilled mid-li"));
    const first = await tail(backend, "t/v0/t.log", 0);
    assert.deepEqual([first.text, first.partial, first.next], ["one\n", "killed mid-li", 4]);
    assert.equal((await tail(backend, "t/v0/t.log", first.next)).partial, "killed mid-li", "shown again while it stays");
    await backend.put("t/v0/t.log", bytes("one\nkilled mid-line\nnext\n"));
    const second = await tail(backend, "t/v0/t.log", first.next);
    assert.deepEqual([second.text, second.partial], ["killed mid-line\nnext\n", ""]);
  });

  it("moves the tail past a line longer than one read, cut with a marker", async () => {
    const backend = new MemoryBackend({ name: `ui-long-${process.pid}` });
    const long = "x".repeat(TAIL_BYTES + 1000);
    await backend.put("t/v0/t.log", new TextEncoder().encode(`first\n${long}\nafter\n`));
    const cut = await tail(backend, "t/v0/t.log", 6);
    assert.ok(cut.next > 6, "the tail moved on");
    assert.match(cut.text, /^x+ \[… line cut: longer than 4 MiB; download the log to read it whole\]\n$/);
    const rest = await tail(backend, "t/v0/t.log", cut.next);
    assert.deepEqual([rest.text, rest.partial], ["after\n", ""]);
    // A line still being written past one read: the first poll of the long log moves past it too.
    await backend.put("t/v0/u.log", new TextEncoder().encode(`first\n${long}`));
    const growing = await tail(backend, "t/v0/u.log", 0);
    assert.equal(growing.next, 6 + long.length);
    await backend.put("t/v0/u.log", new TextEncoder().encode(`first\n${long}xx\nafter\n`));
    assert.equal((await tail(backend, "t/v0/u.log", growing.next)).text, "after\n");
  });

  it("refuses to preview a YAML file whose aliases expand it past the limit, at once", async () => {
    const backend = new MemoryBackend({ name: `ui-yaml-${process.pid}` });
    const lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let level = 1; level < 9; level++) lines.push(`a${level}: &a${level} [${Array(9).fill(`*a${level - 1}`).join(",")}]`);
    await backend.put("bomb.yaml", new TextEncoder().encode(`${lines.join("\n")}\n`));
    const started = Date.now();
    await assert.rejects(yamlPreview(backend, "bomb.yaml"), (error: unknown) => error instanceof PreviewProblem && /aliases/.test(error.message));
    assert.ok(Date.now() - started < 2000, `took ${Date.now() - started} ms`);
    // Ordinary aliases still preview, expanded.
    await backend.put("ok.yaml", new TextEncoder().encode("base: &b {lr: 0.1}\nrun: *b\n"));
    assert.deepEqual((await yamlPreview(backend, "ok.yaml")).value, { base: { lr: 0.1 }, run: { lr: 0.1 } });
  });

  it("names a safetensors header length that does not fit the file exactly, past 2^53 too", async () => {
    const backend = new MemoryBackend({ name: `ui-safetensors-${process.pid}` });
    for (const stated of [2n ** 62n, 2n ** 64n - 1n, 2n ** 53n + 1n, 100n]) {
      const bytes = new Uint8Array(8 + 16);
      new DataView(bytes.buffer).setBigUint64(0, stated, true);
      await backend.put("model.safetensors", bytes);
      await assert.rejects(safetensorsPreview(backend, "model.safetensors"), (error: unknown) => {
        assert.ok(error instanceof PreviewProblem);
        assert.equal(error.message, `the header length ${stated} does not fit the file's 24 bytes`);
        return true;
      });
    }
  });

  it("parses one byte range against the size", () => {
    assert.deepEqual(parseRange(undefined, 100), { kind: "whole" });
    assert.deepEqual(parseRange("bytes=0-9", 100), { kind: "part", offset: 0, length: 10 });
    assert.deepEqual(parseRange("bytes=90-", 100), { kind: "part", offset: 90, length: 10 });
    assert.deepEqual(parseRange("bytes=90-500", 100), { kind: "part", offset: 90, length: 10 });
    assert.deepEqual(parseRange("bytes=-5", 100), { kind: "part", offset: 95, length: 5 });
    assert.deepEqual(parseRange("bytes=-500", 100), { kind: "part", offset: 0, length: 100 });
    assert.deepEqual(parseRange("bytes=100-", 100), { kind: "unsatisfiable" });
    assert.deepEqual(parseRange("bytes=5-2", 100), { kind: "whole" }, "an invalid range is ignored");
    assert.deepEqual(parseRange("bytes=-0", 100), { kind: "unsatisfiable" });
    assert.deepEqual(parseRange("bytes=0-1,5-6", 100), { kind: "whole" });
    assert.deepEqual(parseRange("items=0-1", 100), { kind: "whole" });
  });

  it("reads a page address with a malformed %-escape instead of failing the page", () => {
    assert.deepEqual(parseRoute("#/n/train/v1/f/100%.txt"), { page: "version", name: "train", folder: "v1", path: "100%.txt" });
    assert.deepEqual(parseRoute("#/n/train/dev%3Ascratch"), { page: "version", name: "train", folder: "dev:scratch", path: undefined });
    assert.deepEqual(parseRoute("#/n/%E0%A4%A"), { page: "versions", name: "%E0%A4%A" });
  });

  it("serves what a browser could run as bytes, media and data with their types", () => {
    assert.equal(contentTypeOf("a/b.PNG"), "image/png");
    assert.equal(contentTypeOf("clip.wav"), "audio/wav");
    assert.equal(contentTypeOf("m.json"), "application/json; charset=utf-8");
    for (const path of ["page.html", "x.htm", "a.js", "a.xml", "a.xhtml", "noextension"]) assert.equal(contentTypeOf(path), "application/octet-stream", path);
  });

  it("refuses every path that is not a plain file of a version", () => {
    assert.deepEqual(fileAddress("train", "v1%3Abase", ["jsons", "m%20x.json"]), {
      name: "train",
      folder: "v1:base",
      path: "jsons/m x.json",
      key: "train/v1:base/jsons/m x.json",
    });
    const refused = [
      ["..", "v1", ["x"]],
      ["train", "v1%2F..", ["x"]],
      ["train", "latest", ["x"]],
      ["train", "v1", ["..", "x"]],
      ["train", "v1", ["..%2Fx"]],
      ["train", "v1", ["a%5Cb"]],
      ["train", "v1", ["%2Fetc", "passwd"]],
      ["train", "v1", ["a", "", "b"]],
      ["train", "v1", ["bad%0Aname"]],
      ["train", "v1", [".opencrate", "x.json"]],
      ["train", "v1", ["jsons", ".~oc-tmp"]],
      ["train", "v1", ["%E0%A4%A"]],
    ] as const;
    for (const [name, folder, path] of refused) {
      assert.throws(() => fileAddress(name, folder, path), BadPath, `${name}/${folder}/${path.join("/")}`);
    }
    assert.throws(() => versionAddress("train", "v1:"), BadPath);
    // A name starting with "." is a file like any other, as ls and pull show it.
    assert.equal(fileAddress("train", "v1", ["texts", ".env"]).key, "train/v1/texts/.env");
  });

  it("shows a run's duration from its start and end, and a dash without them", () => {
    const bare: RunSummary = {
      versionName: "v2",
      version: 2,
      tag: null,
      createdAt: "2026-01-01T00:00:00.000Z",
      runId: null,
      status: null,
      startedAt: null,
      endedAt: null,
      exitCode: null,
      lastSeen: null,
    };
    const finished: RunSummary = {
      ...bare,
      versionName: "v3:x",
      version: 3,
      tag: "x",
      runId: "job-1",
      status: "failed",
      startedAt: "2026-01-01T00:00:01.000Z",
      endedAt: "2026-01-01T01:02:04.000Z",
      exitCode: 1,
    };
    assert.equal(runDuration(finished), "1h 2m");
    assert.equal(runDuration(bare), "–");
    // A run that died without ending its record lasted until it was last seen, not until now.
    const stale: RunSummary = { ...finished, status: "stale", endedAt: null, exitCode: null, lastSeen: "2026-01-01T00:05:01.000Z" };
    assert.equal(runDuration(stale), "5m 0s");
  });

  it("calls a running run stale once the store has not written its record for 5 minutes, as ls does", async () => {
    const backend = new MemoryBackend({ name: `ui-stale-${process.pid}` });
    const snapshot = await Snapshot.setup({ name: "sk", backend, console: false });
    snapshot.info("a line");
    await snapshot.flush();
    const catalog = new Catalog(backend);
    const [live] = await catalog.versions("sk");
    assert.equal(live?.status, "running");
    assert.ok(live?.lastSeen !== null && live?.lastSeen !== undefined);
    const at = Date.parse("2026-01-01T00:00:00.000Z");
    const lastStored = new Date(at).toISOString();
    assert.equal(shownStatus({ status: "running", lastStored }, at + STALE_AFTER_MS), "running");
    assert.equal(shownStatus({ status: "running", lastStored }, at + STALE_AFTER_MS + 1), "stale");
    assert.equal(shownStatus({ status: "killed", lastStored }, at + 3_600_000), "killed");
    // The record as a SIGKILL leaves it: running, with the lastSeen of its last flush, then not written for two hours.
    let key: string | undefined;
    for await (const info of backend.list("sk/.opencrate/run-records/")) key = info.key;
    assert.ok(key !== undefined);
    const record = JSON.parse(new TextDecoder().decode(await backend.get(key))) as Record<string, unknown>;
    const hoursAgo = (hours: number): string => new Date(Date.now() - hours * 3_600_000).toISOString();
    const lastSeen = hoursAgo(0);
    await backend.put(key, new TextEncoder().encode(JSON.stringify({ ...record, startedAt: hoursAgo(1), lastSeen })));
    const restore = useClock(skewedClock(2 * 3_600_000));
    try {
      const [dead] = await catalog.versions("sk");
      assert.deepEqual([dead?.status, dead?.endedAt, dead?.lastSeen], ["stale", null, lastSeen]);
      assert.equal(runDuration(dead as RunSummary), "1h 0m", "the duration ends when it was last seen");
      assert.equal((await catalog.names()).find((summary) => summary.name === "sk")?.latest?.status, "stale");
    } finally {
      restore();
    }
    await snapshot.close();
  });

  it("does not call a live run stale because the clock of its machine is hours behind the reader's", async () => {
    const backend = new MemoryBackend({ name: `ui-skewed-writer-${process.pid}` });
    const snapshot = await Snapshot.setup({ name: "behind", backend, console: false });
    snapshot.info("a line");
    await snapshot.flush();
    let key: string | undefined;
    for await (const info of backend.list("behind/.opencrate/run-records/")) key = info.key;
    assert.ok(key !== undefined);
    // The record as a run whose machine's clock is 3 hours behind refreshes it: just written, seen "3 hours ago".
    const record = JSON.parse(new TextDecoder().decode(await backend.get(key))) as Record<string, unknown>;
    const lastSeen = new Date(Date.now() - 3 * 3_600_000).toISOString();
    await backend.put(key, new TextEncoder().encode(JSON.stringify({ ...record, lastSeen })));
    const catalog = new Catalog(backend);
    const [live] = await catalog.versions("behind");
    assert.deepEqual([live?.status, live?.lastSeen], ["running", lastSeen]);
    assert.equal((await catalog.names()).find((summary) => summary.name === "behind")?.latest?.status, "running");
    await snapshot.close();
  });

  it("groups backups under their artifact and orders the logs", () => {
    const files = [
      row("checkpoints/model.backup_12:00:00_01-Jan-2026.safetensors"),
      row("checkpoints/model.backup_before.safetensors"),
      row("checkpoints/model.safetensors"),
      row("checkpoints/other.safetensors"),
      row("train.history.log"),
      row("train.log"),
      row("train.rank1.log"),
    ];
    assert.deepEqual(backupsOf("checkpoints/model.safetensors", files).map((file) => file.path), [
      "checkpoints/model.backup_12:00:00_01-Jan-2026.safetensors",
      "checkpoints/model.backup_before.safetensors",
    ]);
    const tree = buildTree(files);
    assert.deepEqual(tree.folders[0]?.files.map((item) => [item.name, item.backups.length]), [["model.safetensors", 2], ["other.safetensors", 0]]);
    assert.deepEqual(logFiles(files).map((file) => logLabel(file.path)), ["run log", "history", "rank 1 log"]);
    assert.equal(formatSize(1536), "1.50 KB");
  });
});
