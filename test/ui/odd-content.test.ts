/**
 * The viewer's pages in Chromium over large or odd content on local disk: what they draw is bounded (a long JSON
 * array, a wide CSV, two very different files), and names, headers and durations are shown as stored.
 */
import assert from "node:assert/strict";
import { mkdir, readdir, readFile, symlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Browser, Page } from "playwright-core";
import { Snapshot } from "../../src/index.ts";
import { TEXT_PREVIEW_BYTES } from "../../src/ui/previews.ts";
import { startViewer, type Viewer } from "../../src/ui/server.ts";
import { removeDir, tempDir } from "../cli/helpers.ts";
import { builtPage, launchChromium, openedAsPrinted, skipWithoutChromium } from "./browser.ts";

const NAME = "odd";
const enc = encodeURIComponent;
const fileHash = (folder: string, path: string): string => `#/n/${NAME}/${enc(folder)}/f/${path.split("/").map(enc).join("/")}`;

/** Rewrites the one JSON file in `folder` (a claim, a run record) with `fields` changed, as another tool might. */
async function rewriteJson(folder: string, fields: Record<string, unknown>): Promise<void> {
  const [file] = (await readdir(folder)).filter((entry) => entry.endsWith(".json"));
  if (file === undefined) throw new Error(`no JSON file in ${folder}`);
  const path = join(folder, file);
  await writeFile(path, JSON.stringify({ ...(JSON.parse(await readFile(path, "utf8")) as object), ...fields }));
}

async function put(root: string, path: string, body: string | Buffer): Promise<void> {
  const file = join(root, path);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, body);
}

describe("the viewer on large or odd content", { skip: skipWithoutChromium() }, () => {
  let dir: string;
  let root: string;
  let viewer: Viewer;
  let browser: Browser;
  let page: Page;
  let problems: string[];

  const open = async (hash: string, ready: string): Promise<void> => {
    await page.goto(new URL(`/${hash}`, viewer.url).href);
    await page.locator(ready).first().waitFor({ state: "visible", timeout: 30_000 });
  };
  const count = (selector: string): Promise<number> => page.locator(selector).count();

  before(async () => {
    dir = await tempDir("ui-odd");
    root = join(dir, "snapshots");
    await put(root, `${NAME}/v0/arr.json`, JSON.stringify(Array.from({ length: 5000 }, (_, index) => index)));
    const columns = Array.from({ length: 1000 }, (_, index) => `c${index}`);
    const rows = Array.from({ length: 20 }, (_, row) => columns.map((_, column) => String(row * column)).join(","));
    await put(root, `${NAME}/v0/wide.csv`, `${["step", ...columns].join(",")}\n${rows.map((row, index) => `${index},${row}`).join("\n")}\n`);
    await put(root, `${NAME}/v0/cased.csv`, "loss,LOSS,<b>h</b>\n1,2,x\n3,4,y\n");
    const lines = (side: string): string => Array.from({ length: 3000 }, (_, index) => `${side} line ${index}\n`).join("");
    await put(root, `${NAME}/v0/out.txt`, lines("before"));
    await put(root, `${NAME}/v1/out.txt`, lines("after"));
    await put(root, `${NAME}/v0/report\u202egnp.sh`, "#!/bin/sh\n");
    await put(root, `${NAME}/v0/safe\u200b.txt`, "not safe.txt\n");
    // runs: a run whose claim names a run id holding a bidi override.
    const run = await Snapshot.setup({ name: "runs", root, console: false });
    run.info("a line");
    await run.close();
    await rewriteJson(join(root, "runs", ".opencrate", "versions"), { runId: "job\u202e1" });
    const records = join(root, "runs", ".opencrate", "run-records");
    const [recordFolder] = await readdir(records);
    await rewriteJson(join(records, recordFolder ?? ""), { startedAt: "yesterday" });
    await put(root, `${NAME}/v2/damaged.png`, "not a PNG at all");
    await put(root, `${NAME}/v2/damaged.wav`, "RIFF\0\0\0\0WAVEnot audio");
    await put(root, `${NAME}/v2/latin1.txt`, Buffer.from("caf\xe9 cr\xe8me\n", "latin1"));
    await put(root, `${NAME}/v2/utf16.txt`, Buffer.from("hello\n", "utf16le"));
    // Past what a preview reads: a JSON file, and two texts alike in that start and different after it.
    await put(root, `${NAME}/v2/big.json`, JSON.stringify(Array.from({ length: TEXT_PREVIEW_BYTES / 1000 + 100 }, () => "j".repeat(1000)), null, 1));
    const start = Array.from({ length: TEXT_PREVIEW_BYTES / 2000 + 10 }, (_, index) => `${index} ${"s".repeat(2000)}\n`).join("");
    await put(root, `${NAME}/v2/long.txt`, `${start}tail before\n`);
    await put(root, `${NAME}/v3/long.txt`, `${start}tail after\n`);
    // broken: a version holding a link that leads nowhere, beside a good file.
    await put(root, "broken/v0/good.txt", "fine\n");
    await symlink(join(dir, "nowhere"), join(root, "broken", "v0", "gone\u202e.txt"));
    viewer = await startViewer({ root, assetsDir: await builtPage() });
    browser = await launchChromium();
    ({ page, problems } = await openedAsPrinted(browser, viewer.url));
  });

  after(async () => {
    await browser?.close();
    await viewer?.close();
    await removeDir(dir);
  });

  it("draws the first children of a long JSON array, and more on each click", async () => {
    await open(fileHash("v0", "arr.json"), "[data-testid=json-tree] .json-row");
    // 100 items and the closing bracket.
    assert.equal(await count("[data-testid=json-tree] .json-row"), 101);
    assert.match((await page.locator("[data-testid=json-more]").textContent()) ?? "", /4,900 more: show 100 more/);
    await page.locator("[data-testid=json-more]").click();
    await page.locator("[data-testid=json-tree] .json-row >> nth=200").waitFor();
    assert.equal(await count("[data-testid=json-tree] .json-row"), 201);
    assert.match((await page.locator("[data-testid=json-more]").textContent()) ?? "", /4,800 more: show 200 more/);
    assert.deepEqual(problems, []);
  });

  it("draws the first columns of a wide CSV in its table, and its first numeric columns in its plot", async () => {
    await open(fileHash("v0", "wide.csv"), "[data-testid=csv-plot] canvas");
    // "#", then 100 columns.
    assert.equal(await count("[data-testid=csv-table] thead th"), 101);
    assert.equal(await count("[data-testid=csv-table] tbody tr >> nth=0 >> td"), 101);
    // The x column (step) and 10 series.
    assert.equal(await count("[data-testid=csv-plot] .u-legend .u-series"), 11);
    const notes = (await page.locator(".csv-view .note").allTextContents()).join(" ");
    assert.match(notes, /first 10 of 1,000 numeric columns/);
    assert.match(notes, /first 100 of 1,001 columns/);
    assert.deepEqual(problems, []);
  });

  it("shows a CSV's header as stored, not upper-cased", async () => {
    await open(fileHash("v0", "cased.csv"), "[data-testid=csv-table] tbody tr");
    assert.deepEqual(await page.locator("[data-testid=csv-table] thead th").allInnerTexts(), ["#", "loss", "LOSS", "<b>h</b>"]);
    assert.deepEqual(problems, []);
  });

  it("says two files too different to diff, with links to download both, rather than diff them whole", async () => {
    await open(`#/c/${NAME}/v0/v1/f/out.txt`, "[data-testid=diff-too-large]");
    assert.match((await page.locator("[data-testid=diff-too-large]").textContent()) ?? "", /Too different to compare here.*Download both/);
    const links = await page.locator("[data-testid=diff-too-large] a").evaluateAll((anchors) => anchors.map((anchor) => anchor.getAttribute("href")));
    assert.deepEqual(links, [`/api/names/${NAME}/v0/raw/out.txt?download=1`, `/api/names/${NAME}/v1/raw/out.txt?download=1`]);
    assert.equal(await count("[data-testid=diff] .diff-table tr"), 0);
    assert.deepEqual(problems, []);
  });

  it("says so when a JSON file or two compared files are larger than the page reads", async () => {
    await open(fileHash("v2", "big.json"), "[data-testid=file-preview] pre.text");
    assert.match((await page.locator("[data-testid=truncated]").textContent()) ?? "", /^Only the start of this [\d.]+ MB file is shown\.$/);
    await open(`#/c/${NAME}/v2/v3/f/long.txt`, "[data-testid=diff] .diff-table tr");
    assert.equal(await count("[data-testid=diff] tr.diff-changed"), 0, "the starts are alike: the tails are not compared");
    assert.match((await page.locator("[data-testid=diff-cut]").textContent()) ?? "", /Only the start of each file is compared.*Download both/);
    assert.deepEqual(problems, []);
  });

  it("shows names and run ids escaped, as the command line does", async () => {
    await open(fileHash("v0", "report\u202egnp.sh"), "[data-testid=file-preview] h2");
    const tree = (await page.locator("[data-testid=file-tree] .tree-name").allTextContents()).join(" | ");
    assert.ok(tree.includes("report\\u{202e}gnp.sh"), tree);
    assert.ok(tree.includes("safe\\u{200b}.txt"), tree);
    assert.ok(!/[\u202e\u200b]/.test(tree), tree);
    assert.equal(await page.locator("[data-testid=file-preview] h2").textContent(), "report\\u{202e}gnp.sh");
    await open("#/n/runs", "[data-testid=versions] tbody tr");
    assert.equal(await page.locator("[data-testid=versions] tbody tr td.mono").first().textContent(), "job\\u{202e}1");
    await open("#/n/runs/v0", ".facts");
    assert.match((await page.locator(".facts").textContent()) ?? "", /run job\\u\{202e\}1/);
    assert.deepEqual(problems, []);
  });

  it("shows no duration for a run record whose start is no time", async () => {
    await open("#/n/runs", "[data-testid=versions] tbody tr");
    const duration = await page.locator("[data-testid=versions] tbody tr td.num").first().textContent();
    assert.equal(duration, "–");
    await open("#/n/runs/v0", ".facts");
    assert.doesNotMatch((await page.locator(".facts").textContent()) ?? "", /NaN/);
    assert.deepEqual(problems, []);
  });

  it("asks to pick a file in a version that holds files but no top-level log", async () => {
    await open(`#/n/${NAME}/v0`, "[data-testid=file-tree] .tree-row");
    assert.equal(await page.locator("[data-testid=no-file]").textContent(), "Pick a file to see it.");
    assert.deepEqual(problems, []);
  });

  it("on moving to another version's page, asks nothing of the new version about the previous one's files", async () => {
    await open("#/n/runs/v0", "[data-testid=log-lines] .log-entry");
    const asked: string[] = [];
    const record = (request: { url(): string }): void => {
      asked.push(new URL(request.url()).pathname);
    };
    page.on("request", record);
    try {
      await open(`#/n/${NAME}/v1`, "[data-testid=file-tree] .tree-row");
      await open(fileHash("v1", "out.txt"), "[data-testid=text]");
    } finally {
      page.off("request", record);
    }
    assert.deepEqual(asked.filter((path) => path.includes("runs.log")), []);
    assert.deepEqual(problems, []);
  });

  it("opens one version asking for its own files only, and counts them itself", async () => {
    await open("#/", "[data-testid=names]");
    const asked: string[] = [];
    const record = (request: { url(): string }): void => {
      const url = new URL(request.url());
      if (url.pathname.startsWith("/api/")) asked.push(url.pathname + url.search);
    };
    page.on("request", record);
    try {
      await open(`#/n/${NAME}/v1`, "[data-testid=folder-totals]");
    } finally {
      page.off("request", record);
    }
    assert.deepEqual(asked.sort(), [`/api/names/${NAME}/v1/files`, `/api/names/${NAME}?sizes=0`]);
    assert.match((await page.locator("[data-testid=folder-totals]").textContent()) ?? "", /^1 file · [\d.]+ KB$/);
    assert.deepEqual(problems, []);
  });

  it("lists a version holding a link that leads nowhere, marking that entry with why", async () => {
    await open("#/n/broken/v0", "[data-testid=file-tree] [data-testid=unlistable]");
    assert.deepEqual(await page.locator("[data-testid=file-tree] a.tree-row .tree-name").allTextContents(), ["good.txt"]);
    const marked = page.locator("[data-testid=file-tree] [data-testid=unlistable]");
    assert.match((await marked.textContent()) ?? "", /^gone\\u\{202e\}\.txtcannot be listed$/);
    assert.match((await page.locator("[data-testid=file-tree] .tree-why").textContent()) ?? "", /^a symbolic link that leads to nothing \(ENOENT\)$/);
    assert.match((await page.locator("[data-testid=folder-totals]").textContent()) ?? "", /^1 file · 5 B · 1 cannot be listed$/);
    await open("#/n/broken/v0/f/good.txt", "[data-testid=text]");
    assert.deepEqual(problems, []);
  });

  it("says so when an image or audio file cannot be shown, or a text file is not UTF-8", async () => {
    for (const path of ["damaged.png", "damaged.wav"]) {
      await open(fileHash("v2", path), "[data-testid=media-failed]");
      assert.match((await page.locator("[data-testid=media-failed]").textContent()) ?? "", /cannot show this file as (an image|audio)/);
    }
    await open(fileHash("v2", "latin1.txt"), "[data-testid=text]");
    assert.match((await page.locator("[data-testid=text-note]").textContent()) ?? "", /not UTF-8 text/);
    await open(fileHash("v2", "utf16.txt"), "[data-testid=text]");
    assert.match((await page.locator("[data-testid=text-note]").textContent()) ?? "", /NUL characters/);
    await open(fileHash("v1", "out.txt"), "[data-testid=text]");
    assert.equal(await count("[data-testid=text-note]"), 0);
    assert.deepEqual(problems, []);
  });
});
