/**
 * Runs after tsc: bundles what the package runs (the library, `opencrate/testing`, the `opencrate` command and the
 * log writer's thread) from tsc's output in dist/ into dist/lib/ and dist/bin/, in one build so they share their
 * modules: a class is the same class whichever entry it came through. Node resolves and links each ES module on its
 * own, so loading 120 small files cost about 20 ms more than loading a few (the library's import went from 50 to
 * about 29 ms, a command's start from 77 to about 63 ms). Code loaded lazily (a command's action, a backend's rarer
 * paths) gets a chunk of its own.
 *
 * Everything lands two folders deep, as tsc's files are, so the paths modules find relative to themselves
 * (package.json, the viewer's files, the log writer's thread) hold. tsc's JavaScript is then removed: dist/index.js
 * and dist/testing/index.js become re-exports of their bundles, and the declarations beside them are tsc's.
 * Packages stay external: they load from node_modules as before, and the cloud SDKs and sharp only when used.
 */
import { chmod, readdir, rm, writeFile } from "node:fs/promises";
import { join, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const dist = fileURLToPath(new URL("../dist/", import.meta.url));

await build({
  entryPoints: {
    "lib/index": `${dist}index.js`,
    "lib/testing": `${dist}testing/index.js`,
    "bin/opencrate": `${dist}cli/main.js`,
    "lib/sink-worker": `${dist}logs/sink-worker.js`,
  },
  outdir: dist,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node22",
  packages: "external",
  chunkNames: "lib/[name]-[hash]",
  // esbuild writes classes as `var Snapshot = class _Snapshot`: without this, Snapshot.name would be "_Snapshot"
  // (and an error's name, taken from its class, could change). It costs each import a few milliseconds.
  keepNames: true,
  logLevel: "warning",
});
// tsc's JavaScript is not shipped: the bundles hold all of it. Its declarations stay.
for (const entry of await readdir(dist, { recursive: true })) {
  const path = entry.split(sep).join("/");
  if (path.endsWith(".js") && !/^(lib|bin|require|ui-web)\//.test(path)) await rm(join(dist, entry));
}
await writeFile(`${dist}index.js`, 'export * from "./lib/index.js";\nexport { default } from "./lib/index.js";\n');
await writeFile(`${dist}testing/index.js`, 'export * from "../lib/testing.js";\n');
await chmod(`${dist}bin/opencrate.js`, 0o755);
