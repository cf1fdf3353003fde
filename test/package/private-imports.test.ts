/**
 * src/ reaches its dependencies only through what they publish: a package's name, or a subpath listed in its
 * package.json `exports`. Every string literal in src/ shaped like "<package>/<path>", where <package> is an
 * installed package (any entry of package-lock.json, nested ones included), must be such a subpath, whatever
 * uses it (import, import(), require, a require made with createRequire). A file inside a package
 * ("teeny-request/build/src/agents.js") is private to it and fails here. The cloud backends also never cast a
 * value through `unknown`, the way to reach a member a dependency does not declare (an agent's `addRequest`).
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SOURCE = /\.(?:[cm]?ts|tsx|[cm]?js)$/;
/** A quoted string that starts with a package name and goes on with "/". */
const DEEP_SPECIFIER = /(["'`])((?:@[\w.-]+\/)?[\w][\w.-]*\/[^"'`\s]+)\1/g;

/**
 * Files of packages without an `exports` map that their documentation tells users to load by path. Each entry
 * says where; nothing else goes here.
 */
const DOCUMENTED_FILES: ReadonlyMap<string, string> = new Map([
  ["uplot/dist/uPlot.min.css", "uPlot's stylesheet: the package ships it only as this file, and its README loads it from dist/"],
]);

/** Installed package name → its folder, from the lockfile (the first place it is installed). */
function installedPackages(): Map<string, string> {
  const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as { packages: Record<string, unknown> };
  const folders = new Map<string, string>();
  for (const location of Object.keys(lock.packages)) {
    const at = location.lastIndexOf("node_modules/");
    if (at === -1) continue;
    const name = location.slice(at + "node_modules/".length);
    if (!folders.has(name)) folders.set(name, join(ROOT, location));
  }
  return folders;
}

/** Whether `subpath` ("./x") is one the package's `exports` lists, exactly or through a "*" pattern. */
function exported(folder: string, subpath: string): boolean {
  const manifest = JSON.parse(readFileSync(join(folder, "package.json"), "utf8")) as { exports?: unknown };
  const { exports } = manifest;
  if (typeof exports !== "object" || exports === null || Array.isArray(exports)) return false;
  return Object.keys(exports).some((key) => {
    const star = key.indexOf("*");
    if (star === -1) return key === subpath;
    return subpath.startsWith(key.slice(0, star)) && subpath.endsWith(key.slice(star + 1));
  });
}

/** The "<package>/<path>" literals of `text` that name no published subpath of an installed package. */
function privatePaths(text: string, packages: Map<string, string>): string[] {
  const found: string[] = [];
  for (const [, , specifier] of text.matchAll(DEEP_SPECIFIER)) {
    if (specifier === undefined || specifier.includes("${") || DOCUMENTED_FILES.has(specifier)) continue;
    const segments = specifier.split("/");
    const nameLength = specifier.startsWith("@") ? 2 : 1;
    const name = segments.slice(0, nameLength).join("/");
    const folder = packages.get(name);
    if (folder === undefined || segments.length <= nameLength) continue;
    if (!exported(folder, `./${segments.slice(nameLength).join("/")}`)) found.push(specifier);
  }
  return found;
}

/** The cloud backends' folders, where the SDKs and Node's HTTP stack are used. */
const CLOUD_BACKENDS = ["src/backends/gcs", "src/backends/s3"];
const CAST_THROUGH_UNKNOWN = /\bas\s+unknown\s+as\b/;

function sourceFiles(folder: string): string[] {
  return readdirSync(join(ROOT, folder), { recursive: true, encoding: "utf8" })
    .filter((file) => SOURCE.test(file))
    .map((file) => join(folder, file));
}

describe("dependencies are used through their published entry points only", () => {
  const packages = installedPackages();

  it("the check tells a private file of a package from a published subpath", () => {
    const earlierGcsCode = 'const agents = requireFromSdk("teeny-request/build/src/agents.js") as { pool?: unknown };';
    assert.deepEqual(privatePaths(earlierGcsCode, packages), ["teeny-request/build/src/agents.js"]);
    assert.deepEqual(privatePaths("import { Storage } from '@google-cloud/storage/build/cjs/src/storage.js';", packages), [
      "@google-cloud/storage/build/cjs/src/storage.js",
    ]);
    assert.deepEqual(privatePaths('import { useState } from "preact/hooks"; const type = "application/json";', packages), []);
  });

  it("no file in src/ names a private path of a dependency", () => {
    const files = sourceFiles("src");
    assert.ok(files.length > 50, `src/ was read (${files.length} files)`);
    const offenders = files.flatMap((file) => privatePaths(readFileSync(join(ROOT, file), "utf8"), packages).map((specifier) => `${file}: ${specifier}`));
    assert.deepEqual(offenders, []);
  });

  it("the cloud backends cast nothing through unknown", () => {
    assert.ok(CAST_THROUGH_UNKNOWN.test("const addRequest = (agent as unknown as AgentInternals).addRequest.bind(agent);"), "the check sees a cast");
    const files = CLOUD_BACKENDS.flatMap(sourceFiles);
    assert.ok(files.length > 20, `the cloud backends were read (${files.length} files)`);
    const offenders = files.filter((file) => CAST_THROUGH_UNKNOWN.test(readFileSync(join(ROOT, file), "utf8")));
    assert.deepEqual(offenders, []);
  });
});
