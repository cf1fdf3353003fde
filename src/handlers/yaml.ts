/**
 * yaml: any plain value (the plain-data.ts rules; Dates stay timestamps), written with keys sorted and long
 * strings unfolded; loaded with js-yaml's default safe schema (no custom tags, no code).
 */
import { corruptData } from "./failures.ts";
import { loadYaml } from "./lazy-modules.ts";
import { toPlainData } from "./plain-data.ts";
import type { ArtifactHandler } from "./types.ts";
import { readUtf8 } from "./utf8.ts";

export const yamlHandler: ArtifactHandler<unknown, unknown> = {
  type: "yaml",

  async save(data, storage) {
    const plain = toPlainData(data, { dates: "keep", format: "YAML" }, storage);
    const yaml = await loadYaml();
    await storage.write(yaml.dump(plain, { sortKeys: true, lineWidth: -1, noRefs: true }));
  },

  async load(storage) {
    const text = await readUtf8(storage, "YAML");
    const yaml = await loadYaml();
    try {
      return yaml.load(text, { filename: storage.path });
    } catch (error) {
      const reason = error instanceof yaml.YAMLException ? error.message : String(error);
      throw corruptData(storage, "YAML", reason, error);
    }
  },
};
