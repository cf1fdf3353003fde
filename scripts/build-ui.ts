/**
 * Bundles the viewer's page (src/ui/web) into dist/ui-web: app.js, app.css and favicon.svg, with every
 * dependency inside (the page loads nothing from elsewhere). `npm run build` runs it after tsc; tests call
 * buildViewerPage() with their own folder.
 */
import { copyFile, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const webDir = fileURLToPath(new URL("../src/ui/web/", import.meta.url));
const defaultOut = fileURLToPath(new URL("../dist/ui-web/", import.meta.url));

export async function buildViewerPage(outDir: string = defaultOut): Promise<void> {
  const esbuild = await import("esbuild");
  await mkdir(outDir, { recursive: true });
  await esbuild.build({
    entryPoints: { app: join(webDir, "main.tsx") },
    outdir: outDir,
    bundle: true,
    format: "esm",
    target: "es2022",
    minify: true,
    sourcemap: false,
    legalComments: "none",
    jsx: "automatic",
    jsxImportSource: "preact",
    loader: { ".css": "css" },
    logLevel: "warning",
  });
  await copyFile(join(webDir, "favicon.svg"), join(outDir, "favicon.svg"));
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  await buildViewerPage(process.argv[2] ?? defaultOut);
}
