/**
 * Turns a JavaScript value into plain data (null, booleans, numbers, strings, arrays, plain objects) before JSON
 * or YAML encoding, with one set of rules for both: Set → array, Map → object (string, number or boolean keys,
 * refused when two become the same string), typed array → array of numbers,
 * `toJSON()` honoured, undefined object entries left out (null inside arrays). BigInt, functions, symbols,
 * cycles and undefined at the top are rejected with the location inside the value.
 */
import { invalidInput, shortLocation } from "./failures.ts";
import type { ArtifactStorage } from "./types.ts";

/**
 * The deepest nesting of arrays and objects a JSON or YAML value may have (the top level is 1). Deeper values are
 * refused before anything is written: encoding recurses, and Python's json module cannot read them back either.
 */
export const MAX_PLAIN_DATA_DEPTH = 1000;

export interface PlainDataRules {
  /** "iso": Date → ISO 8601 string (JSON). "keep": Date stays a Date (YAML has timestamps). */
  readonly dates: "iso" | "keep";
  /** The format's name for messages ("JSON", "YAML"). */
  readonly format: string;
}

export function toPlainData(value: unknown, rules: PlainDataRules, storage: ArtifactStorage): unknown {
  const ancestors = new Set<object>();

  const fail = (where: string, problem: string): never => {
    throw invalidInput(storage, `${rules.format} cannot hold ${problem} (at ${where}).`);
  };

  /** `depth`: the arrays and objects `current` sits in (0 for the top level). */
  const convert = (current: unknown, where: string, key: string, depth: number): unknown => {
    switch (typeof current) {
      case "string":
      case "boolean":
      case "number":
        return current;
      case "bigint":
        return fail(where, "a BigInt; convert it with String() or Number() first");
      case "function":
        return fail(where, "a function");
      case "symbol":
        return fail(where, "a symbol");
      case "undefined":
        return undefined;
    }
    if (current === null) return null;
    const object = current as object;
    if (object instanceof Date) {
      if (Number.isNaN(object.getTime())) return fail(where, "an invalid Date");
      return rules.dates === "iso" ? object.toISOString() : new Date(object.getTime());
    }
    if (ancestors.has(object)) return fail(where, "a circular reference");
    if (depth >= MAX_PLAIN_DATA_DEPTH) {
      throw invalidInput(
        storage,
        `the value is nested more than ${MAX_PLAIN_DATA_DEPTH} levels deep (arrays and objects, at ${shortLocation(where)}); ${rules.format} saves take at most ${MAX_PLAIN_DATA_DEPTH} levels.`,
      );
    }
    ancestors.add(object);
    try {
      return convertObject(object, where, key, depth);
    } finally {
      ancestors.delete(object);
    }
  };

  const convertObject = (object: object, where: string, key: string, depth: number): unknown => {
    const toJSON = (object as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === "function" && !ArrayBuffer.isView(object)) {
      // One level more: a toJSON() that returns a fresh object with a toJSON() of its own each time ends here too.
      return convert(toJSON.call(object, key), where, key, depth + 1);
    }
    const inner = depth + 1;
    // Loops rather than map(): each level of nesting then costs two stack frames (convert, convertObject).
    if (Array.isArray(object)) {
      const items = new Array<unknown>(object.length);
      for (let index = 0; index < object.length; index++) {
        // A hole stays a hole, as map() keeps it.
        if (index in object) items[index] = convert(object[index], `${where}[${index}]`, String(index), inner) ?? null;
      }
      return items;
    }
    if (object instanceof Set) {
      const items: unknown[] = [];
      for (const item of object) items.push(convert(item, `${where}[${items.length}]`, String(items.length), inner) ?? null);
      return items;
    }
    if (ArrayBuffer.isView(object)) {
      if (object instanceof DataView) return fail(where, "a DataView");
      return Array.from(object as unknown as ArrayLike<unknown>, (item, index) => arrayItem(item, `${where}[${index}]`, String(index), inner));
    }
    if (object instanceof ArrayBuffer) return fail(where, "an ArrayBuffer; wrap it in a typed array");
    const entries: [string, unknown][] =
      object instanceof Map ? mapEntries(object, where) : Object.entries(object as Record<string, unknown>);
    const result: Record<string, unknown> = {};
    for (const [entryKey, entryValue] of entries) {
      const converted = convert(entryValue, `${where}${pathPart(entryKey)}`, entryKey, inner);
      if (converted !== undefined) setOwn(result, entryKey, converted);
    }
    return result;
  };

  const arrayItem = (item: unknown, where: string, key: string, depth: number): unknown => convert(item, where, key, depth) ?? null;

  // Keys become strings: two keys that become the same string (1 and "1") would keep only one entry.
  const mapEntries = (map: Map<unknown, unknown>, where: string): [string, unknown][] => {
    const keys = new Map<string, unknown>();
    return Array.from(map, ([mapKey, mapValue]) => {
      if (typeof mapKey !== "string" && typeof mapKey !== "number" && typeof mapKey !== "boolean") {
        return fail(where, `a Map key that is ${mapKey === null ? "null" : typeof mapKey}`);
      }
      const key = String(mapKey);
      if (keys.has(key)) {
        const shown = (value: unknown): string => (typeof value === "string" ? JSON.stringify(value) : String(value));
        return fail(where, `a Map whose keys ${shown(keys.get(key))} and ${shown(mapKey)} both become the key ${JSON.stringify(key)}`);
      }
      keys.set(key, mapKey);
      return [key, mapValue];
    });
  };

  if (value === undefined) fail("the top level", "undefined");
  return convert(value, "$", "", 0);
}

/**
 * `target[key] = value` that also works for the key "__proto__": an assignment would set the object's prototype
 * and the entry would be lost. The result is an own, enumerable entry, as JSON.parse makes.
 */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
}

function pathPart(key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}
