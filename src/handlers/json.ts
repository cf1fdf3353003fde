/**
 * json: any JSON-able value (see plain-data.ts for Date, Set, Map, typed arrays; NaN and ±Infinity become null as
 * in JSON.stringify). Compact by default, `{ indent }` pretty-prints; either way the file ends with a newline, as
 * text files do. Load returns the parsed value; it also reads the bare NaN, Infinity and -Infinity that Python's
 * json module writes by default (as those numbers), so a Python run's `{"loss": NaN}` loads.
 */
import { randomBytes } from "node:crypto";
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
      return parsePythonJson(text);
    } catch (error) {
      throw corruptData(storage, "JSON", messageOf(error), error);
    }
  },
};

/**
 * JSON as Python's json module reads and writes it: JSON.parse's, plus bare NaN, Infinity and -Infinity as those
 * numbers. Throws JSON.parse's SyntaxError for anything else it refuses.
 */
export function parsePythonJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    // Only a text JSON.parse refuses pays for the second look; anything still invalid keeps JSON.parse's message.
    const lenient = parseWithNonFinite(text);
    if (lenient.ok) return lenient.value;
    throw error;
  }
}

/** Python's spellings (json.dump's allow_nan), longest first so "-Infinity" wins over its tail. */
const NON_FINITE: readonly (readonly [string, number])[] = [
  ["-Infinity", Number.NEGATIVE_INFINITY],
  ["Infinity", Number.POSITIVE_INFINITY],
  ["NaN", Number.NaN],
];

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * JSON extended with Python's bare NaN / Infinity / -Infinity where a value may stand (never inside a string, never
 * as a key, never glued to another token: "NaNx" or "[1 NaN]" stay invalid). Each such token is swapped for a string
 * holding a nonce absent from the text, which the reviver turns back into the number, checking the token's source
 * so no string of the file can pass for one.
 */
export function parseWithNonFinite(text: string): { ok: true; value: unknown } | { ok: false } {
  let nonce = randomBytes(12).toString("hex");
  while (text.includes(nonce)) nonce = randomBytes(12).toString("hex");
  const sentinels = new Map<string, number>(NON_FINITE.map(([token, value]) => [`${nonce}:${token}`, value]));

  const parts: string[] = [];
  let copied = 0;
  let replaced = 0;
  // Whether a value may start here: at the top, after '[', ':' or an array's ','. After '{' or an object's ',' comes
  // a key; after anything else, a separator.
  let valueHere = true;
  const containers: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d) continue;
    if (code === QUOTE) {
      i++;
      while (i < text.length && text.charCodeAt(i) !== QUOTE) i += text.charCodeAt(i) === BACKSLASH ? 2 : 1;
      valueHere = false;
      continue;
    }
    if (valueHere) {
      const match = NON_FINITE.find(([token]) => text.startsWith(token, i));
      if (match !== undefined) {
        parts.push(text.slice(copied, i), JSON.stringify(`${nonce}:${match[0]}`));
        i += match[0].length - 1;
        copied = i + 1;
        replaced++;
        valueHere = false;
        continue;
      }
    }
    if (code === 0x5b /* [ */) {
      containers.push(code);
      valueHere = true;
    } else if (code === 0x7b /* { */) {
      containers.push(code);
      valueHere = false;
    } else if (code === 0x5d /* ] */ || code === 0x7d /* } */) {
      containers.pop();
      valueHere = false;
    } else if (code === 0x3a /* : */) {
      valueHere = true;
    } else if (code === 0x2c /* , */) {
      valueHere = containers.at(-1) === 0x5b;
    } else {
      valueHere = false;
    }
  }
  if (replaced === 0) return { ok: false };
  parts.push(text.slice(copied));
  try {
    const value = JSON.parse(parts.join(""), (_key, item: unknown, context?: { source?: string }) => {
      if (typeof item !== "string") return item;
      const number = sentinels.get(item);
      if (number === undefined) return item;
      // The nonce is not in the file, so only our replacement has this exact source; without `context` (older
      // engines) the random nonce alone keeps a file's string from matching.
      if (context?.source !== undefined && context.source !== JSON.stringify(item)) return item;
      return number;
    }) as unknown;
    return { ok: true, value };
  } catch {
    return { ok: false };
  }
}
