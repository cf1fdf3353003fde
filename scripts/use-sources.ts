/**
 * `node --import ./scripts/use-sources.ts file.ts`: makes `import … from "opencrate"` (and "opencrate/testing")
 * load this repository's src/ instead of the built dist/, so the examples run as users would write them without
 * a build first. The published package's `exports` name dist/ only.
 */
import { registerHooks } from "node:module";

const sources: Readonly<Record<string, string>> = {
  opencrate: new URL("../src/index.ts", import.meta.url).href,
  "opencrate/testing": new URL("../src/testing/index.ts", import.meta.url).href,
};

registerHooks({
  resolve(specifier, context, nextResolve) {
    const url = sources[specifier];
    return url === undefined ? nextResolve(specifier, context) : { url, format: "module-typescript", shortCircuit: true };
  },
});
