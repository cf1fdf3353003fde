/**
 * yaml: any plain value (the plain-data.ts rules; Dates stay timestamps), written with keys sorted and long
 * strings unfolded; loaded with js-yaml's default safe schema (no custom tags, no code).
 *
 * Nesting is capped at YAML_MAX_NESTING arrays and objects inside one another, on both sides: save refuses a
 * deeper value before writing, and load refuses a deeper file (js-yaml's maxDepth, which keeps a hostile file
 * from exhausting the stack), so whatever save writes loads.
 */
import type { LoadOptions } from "js-yaml";
import { corruptData, invalidInput } from "./failures.ts";
import { loadYaml } from "./lazy-modules.ts";
import { toPlainData } from "./plain-data.ts";
import type { ArtifactHandler, ArtifactStorage } from "./types.ts";
import { readUtf8 } from "./utf8.ts";

/** The most arrays and objects a YAML artifact may hold inside one another (an empty one counts). */
export const YAML_MAX_NESTING = 100;

/**
 * js-yaml's maxDepth for YAML_MAX_NESTING: it counts nodes, the innermost scalar included, and one more for a
 * block sequence written in compact form (`- - 1`), so a value YAML_MAX_NESTING deep needs up to 2 more.
 */
export const YAML_LOAD_OPTIONS = { maxDepth: YAML_MAX_NESTING + 2 } as LoadOptions;

export const yamlHandler: ArtifactHandler<unknown, unknown> = {
  type: "yaml",

  async save(data, storage) {
    const plain = toPlainData(data, { dates: "keep", format: "YAML" }, storage);
    checkNesting(plain, storage);
    const yaml = await loadYaml();
    await storage.write(yaml.dump(plain, { sortKeys: true, lineWidth: -1, noRefs: true }));
  },

  async load(storage) {
    const text = await readUtf8(storage, "YAML");
    const yaml = await loadYaml();
    try {
      return yaml.load(text, { ...YAML_LOAD_OPTIONS, filename: storage.path });
    } catch (error) {
      const reason = error instanceof yaml.YAMLException ? error.message : String(error);
      throw corruptData(storage, "YAML", reason, error);
    }
  },
};

/** Refuses plain data nested deeper than YAML_MAX_NESTING; each shared object is measured once. */
function checkNesting(plain: unknown, storage: ArtifactStorage): void {
  const measured = new Map<object, number>();
  // `depth` fails as soon as a level passes the limit, so the recursion is at most YAML_MAX_NESTING + 1 deep.
  const depth = (value: unknown, level: number): number => {
    if (typeof value !== "object" || value === null || value instanceof Date) return 0;
    if (level > YAML_MAX_NESTING) {
      throw invalidInput(
        storage,
        `YAML artifacts hold at most ${YAML_MAX_NESTING} arrays and objects inside one another (the depth load accepts); this value nests deeper.`,
      );
    }
    const known = measured.get(value);
    if (known !== undefined && level + known - 1 <= YAML_MAX_NESTING) return known;
    let deepest = 0;
    for (const item of Array.isArray(value) ? value : Object.values(value)) deepest = Math.max(deepest, depth(item, level + 1));
    measured.set(value, deepest + 1);
    return deepest + 1;
  };
  depth(plain, 1);
}
