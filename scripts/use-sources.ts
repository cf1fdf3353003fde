/**
 * `node --import ./scripts/use-sources.ts file.ts`: makes `import … from "opencrate"` load this repository's
 * src/ instead of the built dist/, so the examples run as users would write them without a build first.
 */
import { registerHooks } from "node:module";

const sources = new URL("../src/index.ts", import.meta.url).href;

registerHooks({
  resolve(specifier, context, nextResolve) {
    return specifier === "opencrate" ? { url: sources, format: "module-typescript", shortCircuit: true } : nextResolve(specifier, context);
  },
});
