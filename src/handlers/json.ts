/**
 * json: any JSON-able value (see plain-data.ts for Date, Set, Map, typed arrays; NaN and ±Infinity become null as
 * in JSON.stringify). Compact by default, `{ indent }` pretty-prints; either way the file ends with a newline, as
 * text files do. Load returns the parsed value.
 */
import type { JsonSaveOptions } from "./data-types.ts";
import { corruptData, invalidInput, messageOf } from "./failures.ts";
import { toPlainData } from "./plain-data.ts";
import type { ArtifactHandler } from "./types.ts";
import { readUtf8 } from "./utf8.ts";

export const jsonHandler: ArtifactHandler<unknown, unknown, JsonSaveOptions> = {
  type: "json",

  async save(data, storage, options) {
    const indent = options?.indent ?? 0;
    if (!Number.isInteger(indent) || indent < 0 || indent > 10) {
      throw invalidInput(storage, `indent must be an integer from 0 to 10, got ${String(indent)}.`);
    }
    const plain = toPlainData(data, { dates: "iso", format: "JSON" }, storage);
    await storage.write(`${JSON.stringify(plain, null, indent === 0 ? undefined : indent)}\n`);
  },

  async load(storage) {
    const text = await readUtf8(storage, "JSON");
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      throw corruptData(storage, "JSON", messageOf(error), error);
    }
  },
};
