/**
 * The viewer over one store holding the guide's snapshots: its API (ranges passed to the store, header-only
 * checkpoint reads, crafted keys refused) and the page in Chromium (every page loads without console errors, the
 * image renders, the audio has a duration, the log filter hides lines, the CSV plot draws, compare shows the
 * changed file). With OPENCRATE_UI_SCREENSHOTS=<folder>, each page is saved there as a PNG.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Browser, Page } from "playwright-core";
import { backendFromUri } from "../../src/backends/registry.ts";
import { startViewer, type Viewer } from "../../src/ui/server.ts";
import type { Comparison, CsvPreview, FileRow, NameSummary, SafetensorsPreview, VersionRow } from "../../src/ui/api-types.ts";
import { builtPage, launchChromium, openedAsPrinted, skipWithoutChromium } from "./browser.ts";
import { viewerFetch } from "./client.ts";
import { seedGuide, type UiTarget } from "./targets.ts";

const NAME = "snapshot_guide";
const V0 = "v0:initial-run";
const V1 = "v1:major-update";
const CHECKPOINT = "checkpoints/custom_model_checkpoint.safetensors";
const AUDIO = "audios/high_pitch_sine.wav";

const enc = encodeURIComponent;

// Run inside the page (strings, as this project's types have no DOM).
const IMAGE_RENDERED = `(() => { const image = document.querySelector("[data-testid=image]"); return image !== null && image.complete && image.naturalWidth > 0; })()`;
const AUDIO_DURATION = `(() => { const audio = document.querySelector("[data-testid=audio]"); return audio !== null && Number.isFinite(audio.duration) && audio.duration > 0 ? audio.duration : false; })()`;
const PLOT_PIXELS = `(() => {
  const canvas = document.querySelector("[data-testid=csv-plot] canvas");
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let count = 0;
  for (let index = 3; index < pixels.length; index += 4) if (pixels[index] > 0) count++;
  return count;
})()`;
const fileApi = (folder: string, action: string, path: string): string =>
  `/api/names/${NAME}/${enc(folder)}/${action}/${path.split("/").map(enc).join("/")}`;

/**
 * Polls `expression` in the page until it is truthy. (page.waitForFunction compiles its predicate inside the page,
 * which the page's Content-Security-Policy forbids, as it should; evaluate goes through the debugger instead.)
 */
async function waitInPage(page: Page, expression: string, timeoutMs = 30_000): Promise<unknown> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value: unknown = await page.evaluate(expression);
    if (value !== false && value !== null && value !== undefined && value !== 0) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting in the page for ${expression}`);
    await page.waitForTimeout(100);
  }
}

export function viewerSuite(target: UiTarget, options: { screenshots?: boolean } = {}): void {
  describe(`the viewer on ${target.label}`, { skip: target.skip }, () => {
    let root = "";
    let viewer: Viewer;
    const get = (path: string, init?: RequestInit): Promise<Response> => viewerFetch(viewer, path, init);
    const json = async <T>(path: string): Promise<T> => {
      const response = await get(path);
      assert.equal(response.status, 200, `${path}: ${response.status} ${await response.clone().text()}`);
      return (await response.json()) as T;
    };

    before(async () => {
      root = await target.prepare();
      await seedGuide(root, target.env);
      for (const key of target.craftedKeys) await target.putRaw(`${NAME}/${V1}/${key}`, "crafted content: must not be served");
      Object.assign(process.env, target.env);
      viewer = await startViewer({ root, assetsDir: await builtPage() });
    });

    after(async () => {
      await viewer?.close();
      await target.cleanup();
    });

    it("lists the names, the versions with sizes, and the files of a version", async () => {
      const names = await json<NameSummary[]>("/api/names");
      assert.deepEqual(names.map((entry) => [entry.name, entry.versions, entry.latest?.versionName]), [[NAME, 2, V1]]);
      const { versions } = await json<{ versions: VersionRow[] }>(`/api/names/${NAME}`);
      assert.deepEqual(versions.map((row) => row.versionName), [V0, V1]);
      assert.ok(versions.every((row) => row.createdAt !== null && (row.size ?? 0) > 0 && (row.files ?? 0) > 0));
      const { files } = await json<{ files: FileRow[] }>(`/api/names/${NAME}/${enc(V1)}/files`);
      const paths = files.map((file) => file.path);
      for (const path of [CHECKPOINT, AUDIO, "csvs/sample_data.csv", "images/sine_wave_plot.png", `${NAME}.log`]) assert.ok(paths.includes(path), path);
      assert.ok(!paths.some((path) => path.split("/").includes(".opencrate")), "bookkeeping stays hidden");
      const refused = files.filter((file) => file.refused !== undefined).map((file) => file.path);
      // Every crafted key shows, refused, as pull reports it (names starting with "." are files like any other).
      assert.deepEqual(refused.sort(), [...target.craftedKeys].sort());
    });

    it("serves byte ranges straight from the store, and the whole file without one", async () => {
      const expected = await backendFromUri(root).get(`${NAME}/${V1}/${AUDIO}`);
      const part = await get(fileApi(V1, "raw", AUDIO), { headers: { Range: "bytes=100-1099" } });
      assert.equal(part.status, 206);
      assert.equal(part.headers.get("content-range"), `bytes 100-1099/${expected.byteLength}`);
      assert.equal(part.headers.get("content-type"), "audio/wav");
      assert.deepEqual(Buffer.from(await part.arrayBuffer()), Buffer.from(expected.subarray(100, 1100)));
      const suffix = await get(fileApi(V1, "raw", AUDIO), { headers: { Range: "bytes=-10" } });
      assert.deepEqual(Buffer.from(await suffix.arrayBuffer()), Buffer.from(expected.subarray(expected.byteLength - 10)));
      const beyond = await get(fileApi(V1, "raw", AUDIO), { headers: { Range: `bytes=${expected.byteLength}-` } });
      assert.equal(beyond.status, 416);
      await beyond.arrayBuffer();
      const whole = await get(fileApi(V1, "raw", AUDIO));
      assert.equal(whole.status, 200);
      assert.equal(whole.headers.get("accept-ranges"), "bytes");
      assert.deepEqual(Buffer.from(await whole.arrayBuffer()), Buffer.from(expected));
    });

    it("previews a checkpoint's header, a CSV's first rows and a YAML file", async () => {
      const header = await json<SafetensorsPreview>(fileApi(V1, "preview/safetensors", CHECKPOINT));
      assert.ok(header.tensors.length > 0);
      assert.ok(header.tensors.every((tensor) => tensor.dtype.length > 0 && Array.isArray(tensor.shape)));
      assert.ok(header.headerBytes < header.size);
      const csv = await json<CsvPreview>(fileApi(V1, "preview/csv", "csvs/sample_data.csv"));
      assert.deepEqual(csv.header, ["col_a", "col_b"]);
      assert.deepEqual(csv.rows, [["100", "300"], ["200", "400"]]);
      const yaml = await json<{ value: unknown }>(fileApi(V1, "preview/yaml", "yamls/config.yaml"));
      assert.equal((yaml.value as { project?: unknown }).project, "OpenCrate Guide");
    });

    it("compares two versions by size and checksum", async () => {
      const comparison = await json<Comparison>(`/api/compare/${NAME}/${enc(V0)}/${enc(V1)}`);
      const change = (path: string): string | undefined => comparison.files.find((file) => file.path === path)?.change;
      assert.equal(change(`${NAME}.log`), "changed");
      assert.equal(change(CHECKPOINT), "added");
      assert.equal(change(`${NAME}.history.log`), "removed");
      assert.ok(!comparison.files.some((file) => target.craftedKeys.includes(file.path)));
    });

    it("refuses crafted keys and paths that would leave the root, whatever their encoding", async () => {
      // As URL segments: a client that resolves "." and ".." (also as %2e%2e) itself, as fetch does, never sends them.
      for (const path of [...target.craftedKeys.map((key) => fileApi(V1, "raw", key)), `/api/names/${NAME}/${enc(V1)}/raw/%2e%2e/%2e%2e/escaped.txt`]) {
        const response = await get(path);
        const body = await response.text();
        assert.ok(response.status === 400 || response.status === 404, `${path}: ${response.status} ${body}`);
        assert.ok(!body.includes("crafted content"), path);
      }
      const attempts = [
        ...target.craftedKeys.map((key) => `/api/names/${NAME}/${enc(V1)}/raw/${enc(key)}`),
        `/api/names/${NAME}/${enc(V1)}/raw/..%2F..%2F..%2Fescaped.txt`,
        `/api/names/${NAME}/${enc(V1)}/raw/%2Fetc%2Fpasswd`,
        `/api/names/${NAME}/${enc(V1)}/raw/..%5Cescaped.txt`,
        `/api/names/${NAME}/${enc(V1)}/raw/.opencrate/latest.json`,
        `/api/names/${NAME}/..%2F.opencrate/raw/versions/0000000000.json`,
        `/api/names/..%2F${NAME}/${enc(V1)}/raw/${AUDIO}`,
        `/api/names/${NAME}/${enc(V1)}/preview/text/..%2F..%2F..%2Fescaped.txt`,
        `/api/names/${NAME}/${enc(V1)}/tail/..%2F${enc(V0)}%2F${NAME}.log`,
      ];
      for (const path of attempts) {
        const response = await get(path);
        const body = await response.text();
        assert.equal(response.status, 400, `${path}: ${response.status} ${body}`);
        assert.ok(!body.includes("crafted content"), path);
      }
    });

    it("has no route that writes or deletes", async () => {
      for (const method of ["POST", "PUT", "DELETE", "PATCH"]) {
        const response = await get(fileApi(V1, "raw", AUDIO), { method, body: method === "DELETE" ? null : "x" });
        assert.equal(response.status, 405, method);
        assert.equal(response.headers.get("allow"), "GET, HEAD");
        await response.arrayBuffer();
      }
      const still = await backendFromUri(root).head(`${NAME}/${V1}/${AUDIO}`);
      assert.ok(still.size > 0);
    });

    describe("in Chromium", { skip: skipWithoutChromium() }, () => {
      let browser: Browser;
      let page: Page;
      let problems: string[];
      const open = async (hash: string, ready: string, shot?: string): Promise<void> => {
        await page.goto(new URL(`/${hash}`, viewer.url).href);
        await page.locator(ready).first().waitFor({ state: "visible", timeout: 30_000 });
        if (shot !== undefined && options.screenshots === true && process.env.OPENCRATE_UI_SCREENSHOTS) {
          await page.waitForTimeout(300);
          await page.screenshot({ path: `${process.env.OPENCRATE_UI_SCREENSHOTS}/${shot}.png` });
        }
      };
      const versionHash = (folder: string, path?: string): string =>
        `#/n/${NAME}/${enc(folder)}${path === undefined ? "" : `/f/${path.split("/").map(enc).join("/")}`}`;

      before(async () => {
        browser = await launchChromium();
        ({ page, problems } = await openedAsPrinted(browser, viewer.url));
      });
      after(async () => {
        await browser?.close();
      });

      it("shows the names and the versions", async () => {
        await open("#/", `[data-testid=names] a:text("${NAME}")`, "names");
        await open(`#/n/${NAME}`, `[data-testid=versions] a:text("v1")`, "versions");
        assert.equal(await page.locator("[data-testid=versions] tbody tr").count(), 2);
        assert.deepEqual(problems, []);
      });

      it("shows a version's log, whose level filter hides lines", async () => {
        await open(versionHash(V1), "[data-testid=log-lines] .log-entry", "version-log");
        const entries = page.locator("[data-testid=log-lines] .log-entry");
        const before = await entries.count();
        const info = await page.locator('[data-testid=log-lines] .log-entry[data-level="INFO"]').count();
        assert.ok(info > 0 && before > info);
        await page.locator('button[data-level="INFO"]').click();
        await waitInPage(page, `document.querySelectorAll("[data-testid=log-lines] .log-entry").length < ${before}`);
        assert.equal(await page.locator('[data-testid=log-lines] .log-entry[data-level="INFO"]').count(), 0);
        assert.equal(await entries.count(), before - info);
        await page.locator(".search").fill("division by zero");
        await waitInPage(page, `document.querySelectorAll("[data-testid=log-lines] .log-entry").length === 1`);
        assert.deepEqual(problems, []);
      });

      it("renders the image and the GIF", async () => {
        for (const [path, shot] of [["images/sine_wave_plot.png", "image"], ["gifs/bouncing_dot.gif", undefined]] as const) {
          await open(versionHash(V1, path), "[data-testid=image]", shot);
          await waitInPage(page, IMAGE_RENDERED);
        }
        assert.deepEqual(problems, []);
      });

      it("plays the audio, which reports its duration", async () => {
        await open(versionHash(V1, AUDIO), "[data-testid=audio]", "audio");
        const duration = await waitInPage(page, AUDIO_DURATION);
        assert.ok(Math.abs(Number(duration) - 3) < 0.1, String(duration));
        assert.deepEqual(problems, []);
      });

      it("draws the CSV plot and its table", async () => {
        await open(versionHash(V1, "csvs/sample_data.csv"), "[data-testid=csv-plot] canvas", "csv");
        const painted = Number(await page.evaluate(PLOT_PIXELS));
        assert.ok(painted > 100, `painted pixels: ${painted}`);
        assert.equal(await page.locator("[data-testid=csv-table] tbody tr").count(), 2);
        assert.deepEqual(problems, []);
      });

      it("shows the checkpoint header, its backups, JSON and YAML", async () => {
        await open(versionHash(V1, CHECKPOINT), "[data-testid=tensors] tbody tr", "checkpoint");
        assert.ok((await page.locator("[data-testid=backups] li").count()) >= 2);
        await open(versionHash(V1, "jsons/data.json"), "[data-testid=json-tree]");
        await open(versionHash(V1, "yamls/config.yaml"), "[data-testid=json-tree]");
        assert.match((await page.locator("[data-testid=json-tree]").textContent()) ?? "", /OpenCrate Guide/);
        assert.deepEqual(problems, []);
      });

      it("compares two versions and shows the changed log side by side", async () => {
        await open(`#/c/${NAME}/${enc(V0)}/${enc(V1)}`, "[data-testid=compare] tbody tr");
        const changed = page.locator('[data-testid=compare] tr[data-change="changed"]');
        assert.match((await changed.first().textContent()) ?? "", new RegExp(`${NAME}\\.log`));
        await changed.first().locator("a").click();
        await page.locator("[data-testid=diff] .diff-table tr").first().waitFor();
        if (options.screenshots === true && process.env.OPENCRATE_UI_SCREENSHOTS) {
          await page.screenshot({ path: `${process.env.OPENCRATE_UI_SCREENSHOTS}/compare.png` });
        }
        assert.deepEqual(problems, []);
      });

      it("cannot fetch a crafted key from the page", async () => {
        const statuses = await page.evaluate(
          async (paths) => Promise.all(paths.map(async (path) => (await fetch(path)).status)),
          target.craftedKeys.map((key) => `/api/names/${NAME}/${enc(V1)}/raw/${enc(key)}`),
        );
        assert.ok(statuses.every((status) => status === 400), String(statuses));
      });
    });
  });
}
