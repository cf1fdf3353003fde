/**
 * The page and its bundled assets. `npm run build` bundles src/ui/web into dist/ui-web (scripts/build-ui.ts);
 * the same relative path finds it from src/ui (running the sources) and from dist/ui (the package).
 */
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { NotFoundError } from "../errors.ts";

export const DEFAULT_ASSETS_DIR = fileURLToPath(new URL("../../dist/ui-web/", import.meta.url));

export const ASSET_FILES = {
  "app.js": "text/javascript; charset=utf-8",
  "app.css": "text/css; charset=utf-8",
  "favicon.svg": "image/svg+xml",
} as const;

export type AssetName = keyof typeof ASSET_FILES;

export interface Assets {
  readonly files: ReadonlyMap<string, { readonly body: Buffer; readonly type: string }>;
  readonly page: string;
}

export async function loadAssets(dir: string = DEFAULT_ASSETS_DIR): Promise<Assets> {
  const files = new Map<string, { body: Buffer; type: string }>();
  for (const [name, type] of Object.entries(ASSET_FILES)) {
    const path = join(dir, name);
    try {
      files.set(name, { body: await readFile(path), type });
    } catch (error) {
      throw new NotFoundError(`The viewer's page is not built (${path} is missing): run \`npm run build\` first.`, { path, cause: error });
    }
  }
  return { files, page: PAGE };
}

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>opencrate</title>
<link rel="icon" href="/assets/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/assets/app.css">
<script type="module" src="/assets/app.js"></script>
</head>
<body><div id="app"></div></body>
</html>
`;
