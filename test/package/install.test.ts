/**
 * The package as npm users get it: `npm pack`, then the tarball installed into fresh projects (ESM, CommonJS,
 * TypeScript with `nodenext` and `bundler`, strict, on the oldest TypeScript we support and on ours), where the
 * README's Quick start and the CLI run. Registry packages come from a cache under .cache/package-test (filled
 * from the registry on the first run, offline after), so only opencrate itself is new in each install.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { cacheDir, npm, npmCache, ok, pack, project, repo, run } from "./packed.ts";

/** The oldest TypeScript the declarations are checked with (the same as README.md and docs/API.md state). */
const OLDEST_TYPESCRIPT = "5.7.3";
/** The optional peers a full install adds. */
const PEERS = ["@aws-sdk/client-s3", "@google-cloud/storage", "sharp"];

/** The first ```ts block after "## Quick start" in README.md. */
async function readmeQuickStart(): Promise<string> {
  const readme = await readFile(join(repo, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## Quick start"));
  const match = /```ts\n([\s\S]*?)```/.exec(section);
  assert.ok(match?.[1], "README.md has a ```ts block under ## Quick start");
  return match[1];
}

/** A tsc binary of this version, installed once into .cache/package-test. */
async function typescript(version: string): Promise<string> {
  const dir = join(cacheDir, `typescript-${version}`);
  const tsc = join(dir, "node_modules", "typescript", "bin", "tsc");
  if (!existsSync(tsc)) {
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "package.json"), JSON.stringify({ name: "typescript-cache", private: true }));
    await npm(["install", `typescript@${version}`], dir);
  }
  return tsc;
}

describe("the packed package, installed into fresh projects", { concurrency: false }, () => {
  let work: string;
  let tarball: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "opencrate-package-"));
    tarball = await pack(work);
  });

  after(async () => {
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  it("ships dist, the API reference and guarantees, README, CHANGELOG and LICENSE; no sources, source maps or tests", async () => {
    const listing = await ok("tar", ["-tzf", tarball], work);
    const files = listing.trim().split("\n").map((line) => line.replace(/^package\//, ""));
    for (const expected of ["package.json", "README.md", "CHANGELOG.md", "LICENSE", "docs/API.md", "docs/guarantees.md", "dist/index.js", "dist/index.d.ts", "dist/require/index.cjs", "dist/require/index.d.cts", "dist/require/testing.cjs", "dist/require/testing.d.cts", "dist/bin/opencrate.js"]) {
      assert.ok(files.includes(expected), `${expected} is in the package`);
    }
    assert.deepEqual(files.filter((file) => /^(src|test|scripts)\/|\.map$/.test(file)), []);
    // tsc's JavaScript stays out (the bundles hold it); its declarations are in.
    const scripts = files.filter((file) => /^dist\/.*\.js$/.test(file) && !/^dist\/(lib|bin|require|ui-web)\//.test(file));
    assert.deepEqual(scripts.sort(), ["dist/index.js", "dist/testing/index.js"]);
    assert.ok(files.includes("dist/snapshot/snapshot.d.ts"));
    // The bundles find package.json, the viewer's files, the log writer's thread and each other by paths relative to
    // themselves: each must be in the package.
    const bundled = files.filter((file) => /^dist\/(lib|bin)\/[^/]+\.js$/.test(file));
    assert.ok(bundled.includes("dist/lib/index.js") && bundled.length > 3, `the bundles are in the package: ${bundled.join(", ")}`);
    const named: string[] = [];
    for (const file of bundled) {
      const text = await ok("tar", ["-xzOf", tarball, `package/${file}`], work);
      for (const [, relative = ""] of text.matchAll(/["'`](\.\.?\/[^"'`\s]*(?:\.js|\.json|\/))["'`]/g)) {
        const path = join(dirname(file), relative).replace(/\/$/, "");
        named.push(path);
        assert.ok(files.some((entry) => entry === path || entry.startsWith(`${path}/`)), `${file} names ${relative}, which is not in the package`);
      }
    }
    for (const expected of ["package.json", "dist/lib/sink-worker.js", "dist/ui-web"]) assert.ok(named.includes(expected), `a bundle names ${expected}`);
    const manifest = JSON.parse(await ok("tar", ["-xzOf", tarball, "package/package.json"], work)) as Record<string, unknown>;
    assert.doesNotMatch(JSON.stringify(manifest.exports), /src\//);
    assert.match(String((manifest.repository as { url?: unknown } | undefined)?.url), /^git\+https:\/\/github\.com\//);
    for (const peer of PEERS) assert.equal((manifest.dependencies as Record<string, string>)[peer], undefined, `${peer} is not a dependency`);
  });

  it("every relative link in the shipped Markdown resolves inside the package; links into the repository name what it has", async () => {
    const files = (await ok("tar", ["-tzf", tarball], work)).trim().split("\n").map((line) => line.replace(/^package\//, ""));
    const manifest = JSON.parse(await readFile(join(repo, "package.json"), "utf8")) as { repository: { url: string } };
    const repository = manifest.repository.url.replace(/^git\+/, "").replace(/\.git$/, "");
    const intoRepository = new RegExp(`^${repository.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}/(?:blob|tree)/main/([^#?]+)`);
    const broken: string[] = [];
    let relative = 0;
    let absolute = 0;
    for (const doc of files.filter((file) => file.endsWith(".md"))) {
      const text = await ok("tar", ["-xzOf", tarball, `package/${doc}`], work);
      const targets = [...text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)|^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)|\b(?:href|src)="([^"]+)"/gm)].map(
        (match) => match[1] ?? match[2] ?? match[3] ?? "",
      );
      for (const target of targets) {
        const inRepository = intoRepository.exec(target);
        if (inRepository?.[1] !== undefined) {
          absolute += 1;
          if (!existsSync(join(repo, decodeURIComponent(inRepository[1])))) broken.push(`${doc}: ${target} (not in the repository)`);
          continue;
        }
        if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith("#")) continue;
        relative += 1;
        const path = join(dirname(doc), decodeURIComponent(target.replace(/[#?].*$/, ""))).replace(/\/$/, "");
        if (!files.some((file) => file === path || file.startsWith(`${path}/`))) broken.push(`${doc}: ${target} (not in the package)`);
      }
    }
    assert.deepEqual(broken, []);
    assert.ok(absolute > 20, `links checked: ${relative} relative, ${absolute} into the repository`);
  });

  describe("a local-only ESM project", () => {
    let dir: string;

    before(async () => {
      dir = await project(work, "esm-app", { type: "module" });
      await npm(["install", tarball], dir);
    });

    it("installs none of the optional peers", async () => {
      const installed = await readdir(join(dir, "node_modules"));
      assert.ok(installed.includes("opencrate") && installed.includes("pino"));
      for (const peer of ["@aws-sdk", "@google-cloud", "sharp"]) assert.ok(!installed.includes(peer), `${peer} not installed`);
    });

    it("runs the README's Quick start, then `opencrate ls` and `log train@latest` find it in the default root", async () => {
      await writeFile(join(dir, "quickstart.ts"), await readmeQuickStart());
      const quickStart = await run(process.execPath, ["quickstart.ts"], dir);
      assert.equal(quickStart.code, 0, quickStart.stderr);
      // The run's log went through the log writer's thread (its own bundle), not the main thread's fallback.
      assert.doesNotMatch(quickStart.stderr, /OPENCRATE_LOG_THREAD/);
      const printed = quickStart.stdout;
      assert.match(printed, /INFO {6}version 0 at snapshots\/train\/v0:baseline/);
      assert.equal(await readFile(join(dir, "snapshots/train/v0:baseline/jsons/metrics.json"), "utf8"), '{"accuracy":0.93}\n');

      const help = await ok("npx", ["--no", "--", "opencrate", "--help"], dir);
      assert.match(help, /^Usage: opencrate /);
      assert.match(await ok("npx", ["--no", "--", "opencrate", "ls"], dir), /^train\b/m);
      assert.match(await ok("npx", ["--no", "--", "opencrate", "log", "train@latest"], dir), / - INFO {5}version 0 at snapshots\/train\/v0:baseline\n/);
    });

    it("every class the entries export keeps its name, and errors are named after theirs", async () => {
      await writeFile(
        join(dir, "names.mjs"),
        `import * as library from "opencrate";
import * as testing from "opencrate/testing";
const classes = [...Object.entries(library), ...Object.entries(testing)].filter(
  ([, value]) => typeof value === "function" && /^class\\b/.test(Function.prototype.toString.call(value)),
);
const renamed = classes.filter(([key, value]) => value.name !== key).map(([key, value]) => key + " is named " + value.name);
console.log(JSON.stringify({ count: classes.length, renamed, error: new library.NotFoundError("x").name }));
`,
      );
      const names = JSON.parse(await ok(process.execPath, ["names.mjs"], dir)) as { count: number; renamed: string[]; error: string };
      assert.ok(names.count > 20, `the entries export classes (${names.count})`);
      assert.deepEqual(names.renamed, []);
      assert.equal(names.error, "NotFoundError");
    });

    it("the installed command (bundled) pulls that snapshot and serves the viewer with its scripts", { timeout: 120_000 }, async () => {
      await ok("npx", ["--no", "--", "opencrate", "pull", "snapshots/train@latest", "pulled", "--quiet"], dir);
      assert.equal(await readFile(join(dir, "pulled/jsons/metrics.json"), "utf8"), '{"accuracy":0.93}\n');

      const viewer = spawn(join(dir, "node_modules", ".bin", "opencrate"), ["ui", "snapshots", "--port", "0"], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
      try {
        let printed = "";
        viewer.stdout.setEncoding("utf8");
        const url = await new Promise<string>((resolve, reject) => {
          viewer.stdout.on("data", (text: string) => {
            printed += text;
            const found = / at (http:\/\/\S+)/.exec(printed);
            if (found?.[1] !== undefined) resolve(found[1]);
          });
          viewer.once("error", reject);
          viewer.once("exit", (code) => reject(new Error(`opencrate ui exited ${String(code)} before serving:\n${printed}`)));
        });
        // The printed URL carries the access token: without it, nothing is served.
        assert.equal((await fetch(new URL("/assets/app.js", url))).status, 403);
        const script = await fetch(url.replace("/?", "/assets/app.js?"));
        assert.equal(script.status, 200);
        assert.match(script.headers.get("content-type") ?? "", /javascript/);
        assert.ok((await script.text()).length > 1000, "the viewer's script is served");
      } finally {
        viewer.kill("SIGTERM");
        if (viewer.exitCode === null) await once(viewer, "exit");
      }
    });

    it("an s3:// or gs:// root, or an image, without its package fails NOT_SUPPORTED with the install line", async () => {
      await writeFile(
        join(dir, "peers.mjs"),
        `import { Snapshot } from "opencrate";
const codes = [];
for (const root of ["s3://opencrate-missing/x", "gs://opencrate-missing/x"]) {
  await Snapshot.setup({ name: "t", root, console: false }).catch((error) => codes.push([error.code, error.message, error.path]));
}
const local = await Snapshot.setup({ name: "img", console: false });
await local.image("a.png").save({ data: new Uint8Array(12), width: 2, height: 2, channels: 3 }).catch((error) => codes.push([error.code, error.message, error.path]));
await local.close();
console.log(JSON.stringify(codes));
`,
      );
      const failures = JSON.parse(await ok(process.execPath, ["peers.mjs"], dir)) as [string, string, string][];
      assert.equal(failures.length, 3);
      const [s3, gcs, image] = failures;
      assert.deepEqual(failures.map(([code]) => code), ["NOT_SUPPORTED", "NOT_SUPPORTED", "NOT_SUPPORTED"]);
      // The message and the error's path name the root being opened, or the image's file.
      assert.match(s3?.[1] ?? "", /^s3:\/\/ locations \(s3:\/\/opencrate-missing\/x\) need the optional package @aws-sdk\/client-s3, which is not installed: run `npm install @aws-sdk\/client-s3`\.$/);
      assert.match(gcs?.[1] ?? "", /^gs:\/\/ locations \(gs:\/\/opencrate-missing\/x\) need the optional package @google-cloud\/storage, which is not installed: run `npm install @google-cloud\/storage`\.$/);
      assert.match(image?.[1] ?? "", /images\/a\.png\) need the optional package sharp, which is not installed: run `npm install sharp`\.$/);
      assert.deepEqual(failures.map(([, , path]) => path.replace(/^.*\/(?=images\/)/, "…/")), ["s3://opencrate-missing/x", "gs://opencrate-missing/x", "…/images/a.png"]);
    });
  });

  describe("a global install, and npx from its cache", () => {
    const target = "s3://opencrate-missing/x";
    // An HTTPS S3 endpoint nothing listens on (the SDK-less reads take plain HTTP only): with the SDK in place, `ls`
    // fails on the network instead.
    const unreachable = { AWS_ENDPOINT_URL_S3: "https://127.0.0.1:9", AWS_ACCESS_KEY_ID: "a", AWS_SECRET_ACCESS_KEY: "b", AWS_REGION: "us-east-1" };
    const NEEDS_SDK = /need the optional package @aws-sdk\/client-s3/;

    it("a global install says `npm install -g`, and after exactly that the SDK is found", { timeout: 180_000 }, async () => {
      const prefix = join(work, "global");
      await npm(["install", "-g", "--prefix", prefix, tarball], work);
      const command = join(prefix, "bin", "opencrate");
      const before = await run(command, ["ls", target], work, unreachable);
      assert.equal(before.code, 1, before.stderr);
      const folder = join(prefix, "lib", "node_modules");
      assert.ok(
        before.stderr.includes(`which is not installed: run \`npm install -g @aws-sdk/client-s3\` (this opencrate is installed globally, in ${folder}).`),
        before.stderr,
      );
      // npm's configured global prefix is this one (as the user's npm would have it).
      await npm(["install", "-g", "@aws-sdk/client-s3"], work, { npm_config_prefix: prefix });
      const after = await run(command, ["ls", target], work, unreachable);
      assert.notEqual(after.code, 0);
      assert.doesNotMatch(after.stderr, NEEDS_SDK);
    });

    it("npx from its cache says to install opencrate with the SDK in the project; that and npx with both packages work", { timeout: 180_000 }, async () => {
      const dir = await project(work, "npx-user", {});
      // npx installs into <cache>/_npx: a cache outside the repository (whose node_modules has the SDK) sharing the
      // downloads of the usual one.
      const cache = join(work, "npx-cache");
      await mkdir(join(npmCache, "_cacache"), { recursive: true });
      await mkdir(cache);
      await symlink(join(npmCache, "_cacache"), join(cache, "_cacache"));
      const npx = (args: readonly string[]) => run("npx", ["--yes", "--cache", cache, "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error", ...args], dir, unreachable);
      const cached = await npx(["--package", tarball, "--", "opencrate", "ls", target]);
      assert.equal(cached.code, 1, cached.stderr);
      assert.match(cached.stderr, /which is not installed: this opencrate runs from npx's cache, where nothing can be added: run `npm install opencrate @aws-sdk\/client-s3` in your project and `npx opencrate` there \(or, for one command, `npx -p opencrate -p @aws-sdk\/client-s3 opencrate …`\)\./);
      const both = await npx(["-p", tarball, "-p", "@aws-sdk/client-s3", "--", "opencrate", "ls", target]);
      assert.notEqual(both.code, 0);
      assert.doesNotMatch(both.stderr, NEEDS_SDK);
      await npm(["install", tarball, "@aws-sdk/client-s3"], dir);
      const local = await run("npx", ["--no", "--", "opencrate", "ls", target], dir, unreachable);
      assert.notEqual(local.code, 0);
      assert.doesNotMatch(local.stderr, NEEDS_SDK);
    });
  });

  describe("a CommonJS project", () => {
    let dir: string;

    before(async () => {
      dir = await project(work, "cjs-app", { type: "commonjs" });
      await npm(["install", tarball], dir);
    });

    it("require('opencrate') is the session with the named exports on it", async () => {
      await writeFile(
        join(dir, "main.js"),
        `const oc = require("opencrate");
const { Snapshot, isOpenCrateError } = require("opencrate");
(async () => {
  await oc.snapshot.setup({ name: "cjs", console: false });
  await oc.snapshot.json("a.json").save({ a: 1 });
  const opened = await Snapshot.open("snapshots/cjs@latest");
  console.log(JSON.stringify(await opened.json("a.json").load()), typeof isOpenCrateError, oc.default === undefined, typeof require("opencrate/testing").describeBackendConformance);
  await oc.close();
})();
`,
      );
      assert.equal((await ok(process.execPath, ["main.js"], dir)).trim(), '{"a":1} function false function');
    });

    it("where require() cannot load ES modules, the error says to use import()", async () => {
      const result = await run(process.execPath, ["--no-experimental-require-module", "-e", 'require("opencrate")'], dir);
      assert.notEqual(result.code, 0);
      assert.match(result.stderr, /opencrate is an ES module and this Node\.js \(v[\d.]+\) cannot require\(\) it: use `const \{ default: oc \} = await import\("opencrate"\)`/);
      const imported = await ok(process.execPath, ["-e", 'import("opencrate").then(({ default: oc }) => console.log(typeof oc.snapshot.setup))'], dir);
      assert.equal(imported.trim(), "function");
    });
  });

  describe("TypeScript projects, strict, with the optional peers installed", () => {
    let dir: string;
    const tscVersions: [string, () => Promise<string>, string[]][] = [
      [OLDEST_TYPESCRIPT, () => typescript(OLDEST_TYPESCRIPT), ["tsconfig.nodenext.json", "tsconfig.bundler.json", "tsconfig.cjs.json"]],
      ["this repository's", async () => join(repo, "node_modules", "typescript", "bin", "tsc"), ["tsconfig.nodenext.json", "tsconfig.bundler.json"]],
    ];

    before(async () => {
      dir = await project(work, "ts-app", { type: "module" });
      await npm(["install", tarball, ...PEERS, "@types/node@22"], dir);
      await writeFile(join(dir, "quickstart.ts"), await readmeQuickStart());
      await writeFile(
        join(dir, "types.ts"),
        `import oc, { Snapshot, isOpenCrateError, type SetupOptions } from "opencrate";

const metrics = await oc.snapshot.json<{ accuracy: number }>("metrics.json").load();
const accuracy: number = metrics.accuracy;
const config = await oc.snapshot.yaml<{ lr: number }>("config.yaml").load();
const lr: number = config.lr;
// @ts-expect-error without a type argument a JSON load is unknown
const untyped: number = await oc.snapshot.json("metrics.json").load();
const fine: SetupOptions[] = [{ name: "a", start: "last", logLevel: "DEBUG" }, { name: "a", start: 3 }, { name: "a", start: "3", logLevel: "Warning" }];
// @ts-expect-error "latest" is not a start
const badStart: SetupOptions = { name: "a", start: "latest" };
// @ts-expect-error "verbose" is not a level
const badLevel: SetupOptions = { name: "a", logLevel: "verbose" };
try {
  await Snapshot.open("snapshots/missing@latest");
} catch (error) {
  if (isOpenCrateError(error)) console.log(error.code, error.path);
}
export { accuracy, lr, untyped, fine, badStart, badLevel };
`,
      );
      const cjs = join(dir, "cjs");
      await mkdir(cjs);
      await writeFile(join(cjs, "package.json"), JSON.stringify({ type: "commonjs" }));
      await writeFile(
        join(cjs, "main.ts"),
        `import oc = require("opencrate");
import testing = require("opencrate/testing");
export const suite: typeof testing.describeBackendConformance = testing.describeBackendConformance;
export async function main(): Promise<number | "dev"> {
  const snapshot: InstanceType<typeof oc.Snapshot> = await oc.Snapshot.setup({ name: "cjs-ts", console: false });
  await oc.snapshot.setup({ name: "cjs-ts", start: "last", console: false });
  return snapshot.version;
}
`,
      );
      const base = { strict: true, exactOptionalPropertyTypes: true, skipLibCheck: false, noEmit: true, target: "ES2022", types: ["node"] };
      const configs: Record<string, Record<string, unknown>> = {
        "tsconfig.nodenext.json": { ...base, module: "NodeNext", moduleResolution: "NodeNext" },
        "tsconfig.bundler.json": { ...base, module: "ESNext", moduleResolution: "Bundler" },
      };
      for (const [file, compilerOptions] of Object.entries(configs)) {
        await writeFile(join(dir, file), JSON.stringify({ compilerOptions, files: ["quickstart.ts", "types.ts"] }));
      }
      await writeFile(
        join(dir, "tsconfig.cjs.json"),
        JSON.stringify({ compilerOptions: { ...base, module: "NodeNext", moduleResolution: "NodeNext" }, files: ["cjs/main.ts"] }),
      );
    });

    for (const [label, tsc, configs] of tscVersions) {
      for (const config of configs) {
        it(`type-checks the Quick start and typed loads with TypeScript ${label} (${config})`, async () => {
          const result = await run(process.execPath, [await tsc(), "-p", config], dir);
          assert.equal(result.code, 0, `tsc -p ${config}:\n${result.stdout}${result.stderr}`);
        });
      }
    }

    it("the oldest supported TypeScript is the one named in README.md and docs/API.md", async () => {
      const minor = OLDEST_TYPESCRIPT.split(".").slice(0, 2).join(".");
      for (const doc of ["README.md", "docs/API.md"]) {
        assert.match(await readFile(join(repo, doc), "utf8"), new RegExp(`TypeScript ≥ ${minor.replace(".", "\\.")}\\b`), doc);
      }
    });
  });
});
