import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkPullPath, isInside, pathInside } from "../../src/cli/pull/safe-path.ts";

describe("pull path checks", () => {
  it("accepts plain relative paths, including names with ':' on POSIX", () => {
    for (const path of ["jsons/metrics.json", "a/b/c.bin", "..hidden-ish", "v1:tag/x", "name with spaces.txt", "ünïcode/ファイル"]) {
      const check = checkPullPath(path, "linux");
      assert.ok(check.ok, `${path}: ${check.ok ? "" : check.problem}`);
    }
  });

  it("refuses paths that could escape or that no disk could hold", () => {
    const refused: Record<string, RegExp> = {
      "": /empty/,
      "../x": /'\.\.' segment/,
      "a/../../x": /'\.\.' segment/,
      "a/./x": /'\.' segment/,
      "/etc/passwd": /absolute/,
      "C:/Windows/x": /drive letter/,
      "c:x": /drive letter/,
      "..\\x": /backslash/,
      "a\\..\\..\\b": /backslash/,
      "a//b": /empty segment/,
      "a/": /empty segment/,
      "nul\0byte": /NUL/,
      "line\nbreak": /control character/,
      "escape\u001b[31m": /control character/,
      [`${"x".repeat(256)}`]: /longer than 255 bytes/,
    };
    for (const [path, problem] of Object.entries(refused)) {
      const check = checkPullPath(path, "linux");
      assert.ok(!check.ok, `${JSON.stringify(path)} should be refused`);
      assert.match(check.problem, problem, JSON.stringify(path));
    }
  });

  it("refuses paths inside a .git folder, however a file system may spell it, with the reason", () => {
    for (const path of [".git/config", "sub/.git/hooks/pre-commit", ".GIT/config", ".Git", "a/.git./config", "a/.git /x", ".g\u200cit/config", "GIT~1/config"]) {
      const check = checkPullPath(path, "linux");
      assert.ok(!check.ok, `${JSON.stringify(path)} should be refused`);
      assert.match(check.problem, /segment: a file there could change a git repository's configuration \(git refuses such paths too\)$/, path);
    }
    for (const path of [".gitignore", ".github/workflows/ci.yml", "git/config", "x.git/config", ".gitmodules", "a/.git-blame-ignore-revs"]) {
      assert.ok(checkPullPath(path, "linux").ok, path);
    }
  });

  it("refuses names Windows cannot hold when running there", () => {
    for (const path of ["a/b:c", "CON", "dir/nul.txt", "LPT1.log", "trailing.", "trailing ", "what?", "pipe|name"]) {
      assert.ok(!checkPullPath(path, "win32").ok, path);
      assert.ok(checkPullPath(path, "linux").ok, `${path} is fine on Linux`);
    }
  });

  it("keeps resolved paths inside the destination", () => {
    assert.equal(pathInside("/dest", ["a", "b.txt"]), "/dest/a/b.txt");
    assert.equal(pathInside("/dest", ["..", "x"]), undefined);
    assert.ok(isInside("/dest", "/dest"));
    assert.ok(isInside("/dest", "/dest/..x"));
    assert.ok(!isInside("/dest", "/destination/x"));
    assert.ok(!isInside("/dest", "/"));
  });
});
