/** text: a string stored as UTF-8 (a string with a lone surrogate, which UTF-8 cannot hold, is refused). */
import { describeValue, invalidInput } from "./failures.ts";
import type { ArtifactHandler } from "./types.ts";
import { notUtf8Encodable, readUtf8 } from "./utf8.ts";

export const textHandler: ArtifactHandler<string, string> = {
  type: "text",

  async save(data, storage) {
    if (typeof data !== "string") {
      throw invalidInput(storage, `text artifacts take a string, got ${describeValue(data)}.`);
    }
    const problem = notUtf8Encodable(data, "the string");
    if (problem !== undefined) throw invalidInput(storage, problem);
    await storage.write(data);
  },

  load(storage) {
    return readUtf8(storage, "UTF-8 text", true);
  },
};

