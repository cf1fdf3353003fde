import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { it } from "node:test";
import { builtinHandlers } from "../../src/handlers/registry.ts";
import type { ArtifactHandler } from "../../src/handlers/types.ts";
import { describeOverBackends, rejectsWith } from "./support.ts";

const NAMES: Record<string, string> = {
  text: "a.txt",
  json: "a.json",
  yaml: "a.yaml",
  csv: "a.csv",
  image: "a.png",
  gif: "a.gif",
  video: "a.mp4",
  audio: "a.wav",
  checkpoint: "a.safetensors",
};

it("registers the nine built-in types, each under its own type name", () => {
  assert.deepEqual(Object.keys(builtinHandlers), ["text", "json", "yaml", "csv", "image", "gif", "video", "audio", "checkpoint"]);
  for (const [type, handler] of Object.entries(builtinHandlers)) assert.equal(handler.type, type);
});

it("loads no codec library (sharp, js-yaml, papaparse) on import", async () => {
  const registry = fileURLToPath(new URL("../../src/handlers/registry.ts", import.meta.url));
  const script = `
    import { registerHooks } from "node:module";
    const seen = [];
    registerHooks({ resolve(specifier, context, next) { seen.push(specifier); return next(specifier, context); } });
    await import(${JSON.stringify(registry)});
    console.log(JSON.stringify(seen.filter((s) => !s.startsWith(".") && !s.startsWith("/") && !s.startsWith("node:") && !s.startsWith("file:"))));
  `;
  const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", script]);
  assert.deepEqual(JSON.parse(stdout), []);
});

for (const [type, handler] of Object.entries(builtinHandlers)) {
  describeOverBackends(`${type} handler on a missing artifact`, handler as ArtifactHandler<unknown, unknown, unknown, unknown>, (h) => {
    it("passes NOT_FOUND through", async () => {
      await rejectsWith(h.load(NAMES[type] as string), "NOT_FOUND");
      await rejectsWith(h.load(`other-${type}.bin`), "NOT_FOUND");
    });
  });
}
