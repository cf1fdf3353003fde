/**
 * Where opencrate is installed, told from its path, and the install line a missing optional package's error gives
 * for each place. (install.test.ts runs the packed package from each place and follows the line.)
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { installLocationOf, type InstallProbe } from "../../src/install-location.ts";
import { optionalPackageError } from "../../src/optional-package.ts";

const CHUNK = "opencrate/dist/lib/chunk-ABC.js";
const missing = Object.assign(new Error("Cannot find package '@aws-sdk/client-s3' imported from x"), { code: "ERR_MODULE_NOT_FOUND" });

/** A file system holding exactly `files`. */
function probe(files: readonly string[], windows = false): InstallProbe {
  return { exists: (path) => files.includes(path), windows };
}

describe("install location", () => {
  it("a package under <prefix>/lib/node_modules whose command is linked as <prefix>/bin/opencrate is a global install", () => {
    assert.deepEqual(installLocationOf(`/usr/local/lib/node_modules/${CHUNK}`, probe(["/usr/local/bin/opencrate"])), {
      kind: "global",
      folder: "/usr/local/lib/node_modules",
    });
    assert.deepEqual(installLocationOf(`/home/me/.nvm/versions/node/v24.1.0/lib/node_modules/${CHUNK}`, probe(["/home/me/.nvm/versions/node/v24.1.0/bin/opencrate"])), {
      kind: "global",
      folder: "/home/me/.nvm/versions/node/v24.1.0/lib/node_modules",
    });
  });

  it("on Windows, a package under <prefix>/node_modules with <prefix>/opencrate.cmd is a global install", () => {
    assert.deepEqual(installLocationOf(`/Users/me/AppData/Roaming/npm/node_modules/${CHUNK}`, probe(["/Users/me/AppData/Roaming/npm/opencrate.cmd"], true)), {
      kind: "global",
      folder: "/Users/me/AppData/Roaming/npm/node_modules",
    });
    assert.deepEqual(installLocationOf(`/work/app/node_modules/${CHUNK}`, probe(["/work/app/node_modules/.bin/opencrate.cmd"], true)), { kind: "local" });
  });

  it("a package in npx's cache is run through npx", () => {
    assert.deepEqual(installLocationOf(`/home/me/.npm/_npx/1a2b3c4d5e6f7a8b/node_modules/${CHUNK}`, probe([])), { kind: "npx" });
  });

  it("a project's node_modules, a project folder named lib, a nested or pnpm install and a source checkout are local", () => {
    const local = { kind: "local" };
    assert.deepEqual(installLocationOf(`/work/app/node_modules/${CHUNK}`, probe(["/work/app/node_modules/.bin/opencrate"])), local);
    // A project called "lib" has no bin/opencrate beside it.
    assert.deepEqual(installLocationOf(`/work/lib/node_modules/${CHUNK}`, probe(["/work/lib/node_modules/.bin/opencrate"])), local);
    assert.deepEqual(installLocationOf(`/work/app/node_modules/tool/node_modules/${CHUNK}`, probe([])), local);
    assert.deepEqual(installLocationOf(`/work/app/node_modules/.pnpm/opencrate@0.1.0/node_modules/${CHUNK}`, probe([])), local);
    assert.deepEqual(installLocationOf("/work/opencrate/src/optional-package.ts", probe(["/work/bin/opencrate"])), local);
  });
});

describe("the install line of a missing optional package", () => {
  const message = (location: Parameters<typeof optionalPackageError>[4]): string =>
    optionalPackageError("@aws-sdk/client-s3", "s3:// locations", missing, "s3://team/runs", location).message;

  it("local: npm install <package>", () => {
    assert.equal(
      message({ kind: "local" }),
      "s3:// locations (s3://team/runs) need the optional package @aws-sdk/client-s3, which is not installed: run `npm install @aws-sdk/client-s3`.",
    );
  });

  it("global: npm install -g <package>, naming the global folder", () => {
    assert.equal(
      message({ kind: "global", folder: "/usr/local/lib/node_modules" }),
      "s3:// locations (s3://team/runs) need the optional package @aws-sdk/client-s3, which is not installed: run " +
        "`npm install -g @aws-sdk/client-s3` (this opencrate is installed globally, in /usr/local/lib/node_modules).",
    );
  });

  it("npx from its cache: install opencrate and the package in the project, or name both to npx", () => {
    const text = message({ kind: "npx" });
    assert.match(text, /which is not installed: this opencrate runs from npx's cache, where nothing can be added: /);
    assert.match(text, /run `npm install opencrate @aws-sdk\/client-s3` in your project and `npx opencrate` there/);
    assert.match(text, /`npx -p opencrate -p @aws-sdk\/client-s3 opencrate …`/);
  });

  it("the error's path is what the call was about, else the package", () => {
    assert.equal(optionalPackageError("sharp", "Images", missing, "runs/v0/images/a.png", { kind: "local" }).path, "runs/v0/images/a.png");
    assert.equal(optionalPackageError("sharp", "Images", missing, undefined, { kind: "local" }).path, "sharp");
  });
});
