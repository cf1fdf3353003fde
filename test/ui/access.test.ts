/**
 * Who may use the viewer and what its answers allow: an access token on every address (loopback included), with a
 * Host check on loopback, security headers, no credentials in answers, the live tail, and the `opencrate ui` command.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { appendFile, mkdir, readFile, writeFile } from "node:fs/promises";
import http, { request } from "node:http";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { Snapshot } from "../../src/index.ts";
import { DEFAULT_ASSETS_DIR } from "../../src/ui/assets.ts";
import { startViewer, type Viewer } from "../../src/ui/server.ts";
import { loopbackHosts, tokenCookieName } from "../../src/ui/security.ts";
import type { TailChunk } from "../../src/ui/api-types.ts";
import { buildViewerPage } from "../../scripts/build-ui.ts";
import { removeDir, runCli, startCli, tempDir } from "../cli/helpers.ts";
import { builtPage, launchChromium, skipWithoutChromium } from "./browser.ts";
import { tokenCookie, viewerFetch } from "./client.ts";

const SECRET = "s3cr3t-Value-4242";

/** A GET with a Host header of our choosing (fetch does not let one set it), with the token's cookie when given. */
function getWithHost(url: string, host: string, cookie?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const headers = cookie === undefined ? { Host: host } : { Host: host, Cookie: cookie };
    const outgoing = request({ host: target.hostname, port: target.port, path: "/api/names", headers }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    outgoing.on("error", reject);
    outgoing.end();
  });
}

/** The body of a GET of `path` sent as it is written (fetch would resolve its dot-segments first). */
function getRaw(url: string, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const outgoing = request({ host: target.hostname, port: target.port, path }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (body += chunk));
      response.on("end", () => resolve(body));
    });
    outgoing.on("error", reject);
    outgoing.end();
  });
}

describe("the viewer's access rules", () => {
  let dir: string;
  let root: string;
  let viewer: Viewer;

  before(async () => {
    // A secret the process holds, and which the root's path happens to contain: answers must blank it.
    process.env.AWS_SECRET_ACCESS_KEY = SECRET;
    dir = await tempDir(`ui-access-${SECRET}`);
    root = join(dir, "snapshots");
    const run = await Snapshot.setup({ name: "train", root, console: false, tag: "base" });
    run.info("first line");
    await run.json("metrics.json").save({ loss: 0.5 });
    await run.text("page.html").save("<script>alert(1)</script>");
    await run.close();
    viewer = await startViewer({ root, assetsDir: await builtPage() });
  });

  after(async () => {
    delete process.env.AWS_SECRET_ACCESS_KEY;
    await viewer?.close();
    await removeDir(dir);
  });

  it("on 127.0.0.1 too, refuses every request without its access token, telling nothing of the root", async () => {
    assert.equal(viewer.host, "127.0.0.1");
    assert.ok(viewer.token.length >= 32);
    assert.equal(viewer.url, `http://127.0.0.1:${viewer.port}/?token=${viewer.token}`);
    const paths = [
      "/",
      "/assets/app.js",
      "/api/info",
      "/api/names",
      "/api/names/train",
      "/api/names/train/v0:base/files",
      "/api/names/train/v0:base/raw/jsons/metrics.json",
      "/api/names/train/v0:base/preview/text/jsons/metrics.json",
      "/api/names/train/v0:base/tail/train.log?from=0",
      "/api/compare/train/v0:base/v0:base",
    ];
    const wrong = `${viewer.token.slice(0, -1)}${viewer.token.endsWith("x") ? "y" : "x"}`;
    const attempts: [string, RequestInit][] = [
      ...paths.map((path): [string, RequestInit] => [path, {}]),
      ...paths.map((path): [string, RequestInit] => [`${path}${path.includes("?") ? "&" : "?"}token=${wrong}`, {}]),
      ...paths.map((path): [string, RequestInit] => [path, { headers: { Cookie: `${tokenCookieName(viewer.port)}=${wrong}` } }]),
      // The right token under another viewer's cookie name is not this viewer's.
      ...paths.map((path): [string, RequestInit] => [path, { headers: { Cookie: `${tokenCookieName(viewer.port + 1)}=${viewer.token}` } }]),
    ];
    for (const [path, init] of attempts) {
      const response = await fetch(new URL(path, viewer.url), init);
      const body = await response.text();
      assert.equal(response.status, 403, `${path}: ${response.status} ${body}`);
      assert.equal(response.headers.get("set-cookie"), null, path);
      assert.equal(body, "this viewer needs its access token: open the URL it printed when it started\n", path);
    }
    for (const path of paths) assert.equal((await viewerFetch(viewer, path)).status, 200, path);
  });

  it("answers only to its own Host on loopback, with the token or without", async () => {
    const cookie = tokenCookie(viewer);
    assert.equal(await getWithHost(viewer.url, `127.0.0.1:${viewer.port}`, cookie), 200);
    assert.equal(await getWithHost(viewer.url, `localhost:${viewer.port}`, cookie), 200);
    assert.equal(await getWithHost(viewer.url, `attacker.example:${viewer.port}`, cookie), 421);
    assert.equal(await getWithHost(viewer.url, "127.0.0.1", cookie), 421);
    assert.equal(await getWithHost(viewer.url, `127.0.0.1:${viewer.port}`), 403);
  });

  it("takes the token from the printed URL once: sets its cookie and moves on to the address without it", async () => {
    const first = await fetch(viewer.url, { redirect: "manual" });
    assert.equal(first.status, 200);
    const cookie = first.headers.get("set-cookie") ?? "";
    assert.equal(cookie, `${tokenCookieName(viewer.port)}=${viewer.token}; HttpOnly; SameSite=Strict; Path=/`);
    assert.equal(first.headers.get("cache-control"), "no-store");
    const page = await first.text();
    assert.match(page, /<meta http-equiv="refresh" content="0; url=\/">/);
    assert.ok(!page.includes(viewer.token), "the page does not repeat the token");
    // Another page address keeps its other parameters.
    const other = await (await fetch(new URL(`/?x=1&token=${viewer.token}`, viewer.url))).text();
    assert.match(other, /url=\/\?x=1"/);
    // A path whose dot-segment leaves two leading slashes moves on within the viewer, not to another site.
    const doubled = await getRaw(viewer.url, `/.//other.example/?token=${viewer.token}`);
    assert.match(doubled, /<meta http-equiv="refresh" content="0; url=\/other\.example\/">/);
    const next = await fetch(new URL("/", viewer.url), { headers: { Cookie: cookie.split(";")[0] ?? "" } });
    assert.equal(next.status, 200);
    assert.match(await next.text(), /\/assets\/app\.js/);
    // A script may pass the token in an API address itself: answered at once.
    const api = await fetch(new URL(`/api/names?token=${viewer.token}`, viewer.url));
    assert.equal(api.status, 200);
    assert.deepEqual(((await api.json()) as { name: string }[]).map((entry) => entry.name), ["train"]);
  });

  it("opens in a browser that follows the URL from a page of another site", { skip: skipWithoutChromium() }, async () => {
    // A link in a chat or a mail: the SameSite=Strict cookie must still reach the page after the token is dropped.
    const elsewhere = http.createServer((_request, response) => {
      response.writeHead(200, { "Content-Type": "text/html" }).end(`<a id="go" href="${viewer.url}">viewer</a>`);
    });
    elsewhere.listen(0, "127.0.0.1");
    await once(elsewhere, "listening");
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(`http://localhost:${(elsewhere.address() as AddressInfo).port}/`);
      await page.click("#go");
      await page.waitForURL((url) => url.port === String(viewer.port) && url.search === "");
      await page.locator('[data-testid=names] a:text("train")').waitFor({ timeout: 30_000 });
    } finally {
      await browser.close();
      elsewhere.close();
    }
  });

  it("serves the page with a strict Content-Security-Policy and only its own assets", async () => {
    const page = await viewerFetch(viewer, "/");
    const policy = page.headers.get("content-security-policy") ?? "";
    for (const rule of ["default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"]) {
      assert.ok(policy.includes(rule), rule);
    }
    assert.ok(!policy.includes("unsafe-inline") && !policy.includes("unsafe-eval") && !policy.includes("http"));
    assert.equal(page.headers.get("x-content-type-options"), "nosniff");
    const html = await page.text();
    assert.deepEqual(
      [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1]),
      ["/assets/favicon.svg", "/assets/app.css", "/assets/app.js"],
    );
    for (const asset of ["app.js", "app.css", "favicon.svg"]) assert.equal((await viewerFetch(viewer, `/assets/${asset}`)).status, 200, asset);
    const missing = await viewerFetch(viewer, "/assets/../package.json");
    assert.notEqual(missing.headers.get("content-type"), "application/json");
    assert.equal((await viewerFetch(viewer, "/assets/%2e%2e%2fpackage.json")).status, 404);
  });

  it("serves stored files sandboxed, never as a page of its origin", async () => {
    const response = await viewerFetch(viewer, "/api/names/train/v0:base/raw/texts/page.html");
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "application/octet-stream");
    assert.match(response.headers.get("content-security-policy") ?? "", /^sandbox;/);
    assert.equal(response.headers.get("x-content-type-options"), "nosniff");
    const download = await viewerFetch(viewer, "/api/names/train/v0:base/raw/jsons/metrics.json?download=1");
    assert.equal(download.headers.get("content-disposition"), "attachment; filename*=UTF-8''metrics.json");
    assert.deepEqual(await download.json(), { loss: 0.5 });
  });

  it("keeps credentials out of its answers", async () => {
    for (const path of ["/api/info", "/api/names/train/v0:base/raw/jsons/missing.json", "/api/names/train/v9/files", "/api/names/train"]) {
      const body = await (await viewerFetch(viewer, path)).text();
      assert.ok(!body.includes(SECRET), `${path}: ${body}`);
    }
    const missing = await (await viewerFetch(viewer, "/api/names/train/v0:base/raw/jsons/missing.json")).json();
    assert.match(String((missing as { error: string }).error), /\*\*\*/);
  });

  it("answers HEAD like GET without a body", async () => {
    const url = "/api/names/train/v0:base/raw/jsons/metrics.json";
    const response = await viewerFetch(viewer, url, { method: "HEAD" });
    assert.equal(response.status, 200);
    assert.equal(await response.text(), "");
    const whole = await viewerFetch(viewer, url);
    assert.equal(response.headers.get("content-length"), String((await whole.arrayBuffer()).byteLength));
  });

  it("tails a log: the lines since an offset, from the top again when a new run replaced it", async () => {
    const tailUrl = (from: number): string => `/api/names/train/v0:base/tail/train.log?from=${from}`;
    const first = (await (await viewerFetch(viewer, tailUrl(0))).json()) as TailChunk;
    assert.match(first.text, /INFO {5}first line\n$/);
    const logPath = join(root, "train", "v0:base", "train.log");
    await appendFile(logPath, "2026-01-01 00:00:00 - WARNING  appended\n2026-01-01 00:00:01 - INFO     half a li");
    const next = (await (await viewerFetch(viewer, tailUrl(first.next))).json()) as TailChunk;
    assert.equal(next.text, "2026-01-01 00:00:00 - WARNING  appended\n");
    assert.equal(next.restarted, false);
    await writeFile(logPath, "2026-01-01 00:00:02 - INFO     new run\n");
    const replaced = (await (await viewerFetch(viewer, tailUrl(next.next))).json()) as TailChunk;
    assert.equal(replaced.restarted, true);
    assert.equal(replaced.text, "2026-01-01 00:00:02 - INFO     new run\n");
    assert.equal((await viewerFetch(viewer, tailUrl(-1))).status, 400);
  });

  it("needs the access token on any address beyond loopback, then carries it in a cookie", async () => {
    const open = await startViewer({ root, host: "0.0.0.0", assetsDir: await builtPage() });
    try {
      assert.ok(open.token.length >= 32);
      assert.equal(open.url, `http://0.0.0.0:${open.port}/?token=${open.token}`);
      const base = `http://127.0.0.1:${open.port}`;
      assert.equal((await fetch(`${base}/api/names`)).status, 403);
      assert.equal((await fetch(`${base}/`)).status, 403);
      assert.equal((await fetch(`${base}/api/names?token=${open.token.slice(1)}x`)).status, 403);
      const admitted = await fetch(`${base}/?token=${open.token}`);
      assert.equal(admitted.status, 200);
      const cookie = admitted.headers.get("set-cookie") ?? "";
      assert.match(cookie, /HttpOnly/);
      assert.match(cookie, /SameSite=Strict/);
      const withCookie = await fetch(`${base}/api/names`, { headers: { Cookie: cookie.split(";")[0] ?? "" } });
      assert.equal(withCookie.status, 200);
      assert.deepEqual(((await withCookie.json()) as { name: string }[]).map((entry) => entry.name), ["train"]);
    } finally {
      await open.close();
    }
  });

  it("keeps the cookies of two token-protected viewers on one machine apart", async () => {
    const first = await startViewer({ root, host: "0.0.0.0", assetsDir: await builtPage() });
    const second = await startViewer({ root, host: "0.0.0.0", assetsDir: await builtPage() });
    try {
      const admit = async (viewer: Viewer): Promise<string> =>
        ((await fetch(`http://127.0.0.1:${viewer.port}/?token=${viewer.token}`)).headers.get("set-cookie") ?? "").split(";")[0] ?? "";
      const cookies = [await admit(first), await admit(second)];
      assert.notEqual(cookies[0]?.split("=")[0], cookies[1]?.split("=")[0]);
      // A browser sends both cookies (cookies do not tell ports apart) to each viewer: each finds its own.
      const both = cookies.join("; ");
      for (const viewer of [first, second]) {
        const response = await fetch(`http://127.0.0.1:${viewer.port}/api/names`, { headers: { Cookie: both } });
        assert.equal(response.status, 200, `viewer on port ${viewer.port}`);
      }
    } finally {
      await first.close();
      await second.close();
    }
  });

  it("answers to a Host header without a port on port 80, where browsers leave it out", async (context) => {
    assert.deepEqual(loopbackHosts("127.0.0.1", 8080), ["127.0.0.1:8080", "localhost:8080", "[::1]:8080"]);
    assert.deepEqual(loopbackHosts("::1", 80), ["[::1]:80", "localhost:80", "127.0.0.1:80", "[::1]", "localhost", "127.0.0.1"]);
    // On port 80 itself when this process may listen there.
    const on80 = await startViewer({ root, port: 80, assetsDir: await builtPage() }).catch(() => undefined);
    if (on80 === undefined) return context.diagnostic("port 80 is not free to this process: checked the host list only");
    try {
      const cookie = tokenCookie(on80);
      assert.equal(await getWithHost(on80.url, "127.0.0.1", cookie), 200);
      assert.equal(await getWithHost(on80.url, "localhost:80", cookie), 200);
      assert.equal(await getWithHost(on80.url, "attacker.example", cookie), 421);
    } finally {
      await on80.close();
    }
  });

  it("rejects a bad port before listening, and names a port in use once, with what to do", async () => {
    await assert.rejects(startViewer({ root, port: 70000, assetsDir: await builtPage() }), { code: "INVALID_ARGUMENT" });
    await assert.rejects(startViewer({ root, port: viewer.port, assetsDir: await builtPage() }), {
      code: "ALREADY_EXISTS",
      message: `Cannot listen on 127.0.0.1:${viewer.port}: the port is in use (by another viewer or program); pass --port 0 for a free port, or another --port.`,
    });
  });
});

describe("opencrate ui", () => {
  let dir: string;

  before(async () => {
    dir = await tempDir("ui-cli");
    const run = await Snapshot.setup({ name: "train", root: join(dir, "snapshots"), console: false });
    run.info("hello");
    await run.close();
    // The command serves the page from dist/ui-web, as the package does.
    if (!existsSync(join(DEFAULT_ASSETS_DIR, "app.js"))) {
      await mkdir(DEFAULT_ASSETS_DIR, { recursive: true });
      await buildViewerPage(DEFAULT_ASSETS_DIR);
    }
  });

  after(async () => {
    await removeDir(dir);
  });

  it("serves the default root until Ctrl-C, printing its URL", async () => {
    const { cli, output } = startUi(["--port", "0"], dir);
    await cli.waitFor("Ctrl-C");
    const url = /at (http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+)\n/.exec(output())?.[1];
    assert.ok(url !== undefined, output());
    assert.equal((await fetch(new URL("/api/names", url))).status, 403);
    const names = (await (await fetch(url.replace("/?", "/api/names?"))).json()) as { name: string }[];
    assert.deepEqual(names.map((entry) => entry.name), ["train"]);
    cli.child.kill("SIGINT");
    const result = await cli.result;
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^opencrate ui: serving snapshots read-only at http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{32}\nopencrate ui: the page needs the access token in the URL above/);
  });

  it("opens on a snapshot URI, and says that another host needs the token", async () => {
    const { cli, output } = startUi(["snapshots/train@latest", "--port", "0", "--host", "0.0.0.0"], dir);
    await cli.waitFor("Ctrl-C");
    const url = /at (http:\/\/0\.0\.0\.0:\d+\/\?token=[\w-]+)/.exec(output())?.[1];
    assert.ok(url !== undefined, output());
    assert.match(output(), /needs the access token/);
    const info = (await (await fetch(url.replace("0.0.0.0", "127.0.0.1").replace("/?", "/api/info?"))).json()) as { start: unknown };
    assert.deepEqual(info.start, { name: "train", folder: "v0" });
    cli.child.kill("SIGINT");
    assert.equal((await cli.result).code, 0);
  });

  it("fails with one line naming the address when the port is taken, exit 1", async () => {
    const { cli, output } = startUi(["--port", "0"], dir);
    await cli.waitFor("Ctrl-C");
    const port = /127\.0\.0\.1:(\d+)\//.exec(output())?.[1];
    try {
      const taken = await runCli(["ui", "--port", String(port)], { cwd: dir });
      assert.equal(taken.code, 1, taken.stderr);
      assert.equal(
        taken.stderr,
        `opencrate: Cannot listen on 127.0.0.1:${port}: the port is in use (by another viewer or program); pass --port 0 for a free port, or another --port.\n`,
      );
      assert.equal(taken.stdout, "");
    } finally {
      cli.child.kill("SIGINT");
      await cli.result;
    }
  });

  it("--open gives the browser a file of its user's only, that moves on to the URL, never the token itself", async () => {
    // A stand-in for xdg-open that records its arguments, the modes of the file and its folder, and the file.
    const bin = join(dir, "bin");
    await mkdir(bin, { recursive: true });
    const seen = join(dir, "seen");
    await writeFile(
      join(bin, "xdg-open"),
      `#!/bin/sh\nf="\${1#file://}"\n{ printf '%s\\n' "$@"; stat -c %a "$f" "$(dirname "$f")"; } > "${seen}.tmp"\ncp "$f" "${seen}.html"\nmv "${seen}.tmp" "${seen}.txt"\n`,
      { mode: 0o755 },
    );
    const cli = startCli(["ui", "--port", "0", "--open"], { cwd: dir, env: { PATH: `${bin}:${process.env.PATH ?? ""}` } });
    await cli.waitFor("Ctrl-C");
    let lines: string[] = [];
    for (let tries = 0; lines.length === 0 && tries < 400; tries++) {
      lines = (await readFile(`${seen}.txt`, "utf8").catch(() => "")).split("\n").filter(Boolean);
      if (lines.length === 0) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    cli.child.kill("SIGINT");
    const result = await cli.result;
    const url = /at (http:\/\/\S+)\n/.exec(result.stdout)?.[1] ?? "";
    const token = new URL(url).searchParams.get("token") ?? "";
    assert.ok(token.length >= 32, result.stdout);
    const [argument = "", fileMode, folderMode] = lines;
    assert.ok(!argument.includes(token), `the browser's argument holds the token: ${argument}`);
    assert.deepEqual([fileMode, folderMode], ["600", "700"]);
    assert.equal(
      await readFile(`${seen}.html`, "utf8"),
      `<!doctype html><meta http-equiv="refresh" content="0; url=${url}"><title>opencrate ui</title>\n`,
    );
    assert.ok(!existsSync(fileURLToPath(argument)), "the file is removed once the viewer stops");
  });

  it("fails with a usage error on a bad port or root", async () => {
    const badPort = await runCli(["ui", "--port", "http"], { cwd: dir });
    assert.equal(badPort.code, 2);
    const badRoot = await runCli(["ui", "s3://Bad_Bucket/x", "--port", "0"], { cwd: dir });
    assert.equal(badRoot.code, 2, badRoot.stderr);
    assert.match(badRoot.stderr, /^opencrate: Malformed location s3:\/\/Bad_Bucket/);
    const missing = await runCli(["ui", "snapshots/nothing@latest", "--port", "0"], { cwd: dir });
    assert.equal(missing.code, 1, missing.stderr);
    const empty = await runCli(["ui", "no-such-folder", "--port", "0"], { cwd: dir });
    assert.equal(empty.code, 1, empty.stderr);
    assert.match(empty.stderr, /^opencrate: No folder at no-such-folder, and no snapshot 'no-such-folder' in the default root snapshots \(OPENCRATE_ROOT is not set\); snapshots holds train\.$/m);
    const emptyFolder = join(dir, "empty-folder");
    await mkdir(emptyFolder);
    const nothing = await runCli(["ui", emptyFolder, "--port", "0"], { cwd: dir });
    assert.equal(nothing.code, 1, nothing.stderr);
    assert.equal(nothing.stderr, `opencrate: No snapshots at ${emptyFolder}: the location is empty or does not exist.\n`);
  });
});

/** `opencrate ui …` with its stdout collected from the first byte. */
function startUi(args: readonly string[], cwd: string): { cli: ReturnType<typeof startCli>; output: () => string } {
  const cli = startCli(["ui", ...args], { cwd });
  let text = "";
  cli.child.stdout?.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")));
  return { cli, output: () => text };
}
