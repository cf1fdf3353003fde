/**
 * Runs after `tsc -p tsconfig.build.json`: copies the CommonJS entries (src/require/) into dist/ and rewrites the
 * `.ts` import specifiers tsc leaves in declaration files to `.js`, which every TypeScript version resolves.
 */
import { copyFile, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const dist = join(root, "dist");

await mkdir(join(dist, "require"), { recursive: true });
for (const file of ["index.cjs", "index.d.cts", "testing.cjs", "testing.d.cts"]) {
  await copyFile(join(root, "src/require", file), join(dist, "require", file));
}

const specifier = /(\bfrom\s+|\bimport\(\s*)(["'])(\.{1,2}\/[^"']+)\.ts\2/g;
for (const entry of await readdir(dist, { recursive: true })) {
  if (!entry.endsWith(".d.ts")) continue;
  const file = join(dist, entry);
  const text = await readFile(file, "utf8");
  const rewritten = text.replace(specifier, (_match, lead: string, quote: string, path: string) => `${lead}${quote}${path}.js${quote}`);
  if (rewritten !== text) await writeFile(file, rewritten);
}
