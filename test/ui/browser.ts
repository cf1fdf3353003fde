/**
 * The page built once per test process (into a temporary folder), and Debian's Chromium driven by playwright-core
 * (no browser download). Without Chromium the browser suites fail under CI=true and are skipped elsewhere.
 */
import { existsSync, rmSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { buildViewerPage } from "../../scripts/build-ui.ts";

let built: Promise<string> | undefined;

/** A folder holding the bundled page (app.js, app.css, favicon.svg). */
export function builtPage(): Promise<string> {
  built ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), "opencrate-ui-page-"));
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
    await buildViewerPage(dir);
    return dir;
  })();
  return built;
}

const CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/lib/chromium/chromium"];

export function chromiumPath(): string | undefined {
  const explicit = process.env.OPENCRATE_CHROMIUM;
  if (explicit !== undefined && explicit !== "") return explicit;
  return CANDIDATES.find((path) => existsSync(path));
}

/** The `skip` option for a browser suite. */
export function skipWithoutChromium(): false | string {
  if (chromiumPath() !== undefined) return false;
  const reason = "Chromium is not installed: run `bash scripts/ensure-chromium.sh` or set OPENCRATE_CHROMIUM";
  if (process.env.CI === "true") throw new Error(`CI=true but ${reason}.`);
  console.warn(`\n!!! SKIPPING the browser suites: ${reason}.\n`);
  return reason;
}

export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import("playwright-core");
  const executablePath = chromiumPath();
  if (executablePath === undefined) throw new Error("no Chromium");
  // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
  return chromium.launch({ executablePath, args: ["--no-sandbox", "--disable-dev-shm-usage", "--autoplay-policy=no-user-gesture-required"] });
}

/** A page that records console errors and uncaught exceptions. */
export async function watchedPage(browser: Browser): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1360, height: 860 } });
  const problems: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console: ${message.text()}`);
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  return { page, problems };
}

/**
 * A watched page opened on a viewer's printed URL, as a user opens it: the URL sets the token's cookie, and the
 * page moves on to the address without the token.
 */
export async function openedAsPrinted(browser: Browser, printedUrl: string): Promise<{ page: Page; problems: string[] }> {
  const watched = await watchedPage(browser);
  await watched.page.goto(printedUrl);
  await watched.page.waitForURL((url) => url.search === "" && url.pathname === "/");
  return watched;
}
