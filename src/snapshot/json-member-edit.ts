/**
 * Sets one member of a JSON object inside its text, leaving every other character as it was: other values keep
 * their spelling (`1.0`, integers beyond 2^53, Python's bare NaN), keys their order, escapes and duplicates, and the
 * file its layout. What is added follows the layout found (the indent and separators of the top object's members),
 * with non-ASCII characters escaped as `\uXXXX`, as Python's json.dump writes them by default.
 *
 * The text must already have been parsed as an object (see parsePythonJson): the scanner here only finds where
 * keys and values start and end, and does not check the syntax again.
 */

interface Member {
  readonly key: string;
  readonly keyStart: number;
  readonly keyEnd: number;
  readonly valueStart: number;
  readonly valueEnd: number;
}

interface ObjectText {
  readonly open: number;
  readonly close: number;
  readonly members: readonly Member[];
}

interface Layout {
  /** One level of indentation, or undefined for a file written on one line. */
  readonly unit: string | undefined;
  /** "\r\n" in a file Python wrote on Windows (text mode), else "\n". */
  readonly newline: string;
  /** Between a key and its value (`": "` in Python's output, `":"` in JSON.stringify's). */
  readonly colon: string;
  /** After a comma on a one-line object (`" "` in Python's output, `""` in JSON.stringify's). */
  readonly space: string;
}

/** json.dump(config, indent=4), for a file with no member to learn from. */
const PYTHON_LAYOUT: Layout = { unit: "    ", newline: "\n", colon: ": ", space: " " };

/**
 * `text` with the member at `keys` (a path of object keys from the top) set to `value` (JSON text). Objects missing
 * on the way are added, and a non-object value on the way is replaced by one. Where a key appears more than once,
 * its last member is the one JSON.parse and Python read, so that one is set.
 */
export function setJsonMember(text: string, keys: readonly [string, ...string[]], value: string): string {
  let object = readObject(text, skipWhitespace(text, 0));
  const layout = layoutOf(text, object);
  // The indentation of the line that holds the object's closing brace.
  let indent = "";
  for (let depth = 0; depth < keys.length; depth++) {
    const key = keys[depth] ?? "";
    const rest = keys.slice(depth + 1);
    const member = object.members.findLast((candidate) => candidate.key === key);
    if (member === undefined) return addMember(text, object, indent, [key, ...rest], value, layout);
    const memberIndent = lineIndent(text, member.keyStart);
    if (rest.length === 0 || text[member.valueStart] !== "{") {
      return splice(text, member.valueStart, member.valueEnd, render(rest, value, memberIndent, layout));
    }
    object = readObject(text, member.valueStart);
    indent = memberIndent;
  }
  return text;
}

/**
 * `text` without the members at `keys` (a path of object keys from the top; every member of that key in the object
 * the path leads to, duplicates included, so that no reader finds an older one). Unchanged when the path leads
 * nowhere. The separators around a removed member go with it.
 */
export function removeJsonMember(text: string, keys: readonly [string, ...string[]]): string {
  const parents = keys.slice(0, -1);
  const key = keys.at(-1) ?? "";
  let edited = text;
  for (;;) {
    const object = objectAt(edited, parents);
    if (object === undefined) return edited;
    const index = object.members.findLastIndex((candidate) => candidate.key === key);
    const member = object.members[index];
    if (member === undefined) return edited;
    const next = object.members[index + 1];
    const previous = object.members[index - 1];
    if (next !== undefined) edited = splice(edited, member.keyStart, next.keyStart, "");
    else if (previous !== undefined) edited = splice(edited, previous.valueEnd, member.valueEnd, "");
    else edited = splice(edited, object.open + 1, object.close, "");
  }
}

/** The object the path of keys leads to from the top (the last member of each key), if every step is an object. */
function objectAt(text: string, keys: readonly string[]): ObjectText | undefined {
  let object = readObject(text, skipWhitespace(text, 0));
  for (const key of keys) {
    const member = object.members.findLast((candidate) => candidate.key === key);
    if (member === undefined || text[member.valueStart] !== "{") return undefined;
    object = readObject(text, member.valueStart);
  }
  return object;
}

function addMember(text: string, object: ObjectText, indent: string, keys: readonly string[], value: string, layout: Layout): string {
  const first = object.members[0];
  const last = object.members.at(-1);
  if (first === undefined || last === undefined) return splice(text, object.open, object.close + 1, render(keys, value, indent, layout));
  // A new member repeats what leads to the object's first one: the same newline and indentation, or one space.
  const lead = text.slice(object.open + 1, first.keyStart);
  const separator = lead.includes("\n") ? lead : layout.space;
  const [key = "", ...rest] = keys;
  const member = `,${separator}${asciiJson(key)}${layout.colon}${render(rest, value, lineIndent(text, first.keyStart), layout)}`;
  return splice(text, last.valueEnd, last.valueEnd, member);
}

/** `value` nested under `keys`, for a member whose line is indented by `indent`. */
function render(keys: readonly string[], value: string, indent: string, layout: Layout): string {
  const [key, ...rest] = keys;
  if (key === undefined) return value;
  const inner = layout.unit === undefined ? "" : `${layout.newline}${indent}${layout.unit}`;
  const outer = layout.unit === undefined ? "" : `${layout.newline}${indent}`;
  return `{${inner}${asciiJson(key)}${layout.colon}${render(rest, value, indent + (layout.unit ?? ""), layout)}${outer}}`;
}

function layoutOf(text: string, top: ObjectText): Layout {
  const [first, second] = top.members;
  if (first === undefined) return PYTHON_LAYOUT;
  const colon = text.slice(first.keyEnd, first.valueStart);
  const lead = text.slice(top.open + 1, first.keyStart);
  const space = second === undefined ? (colon.endsWith(" ") ? " " : "") : text.slice(text.indexOf(",", first.valueEnd) + 1, second.keyStart);
  const unit = lead.includes("\n") ? lead.slice(lead.lastIndexOf("\n") + 1) : undefined;
  return { unit, newline: lead.includes("\r\n") ? "\r\n" : "\n", colon, space };
}

/** A JSON string with every character outside printable ASCII escaped, as Python's json.dumps(ensure_ascii=True). */
function asciiJson(key: string): string {
  return JSON.stringify(key).replace(/[^\x20-\x7e]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** The spaces and tabs before `position` when they start its line, else "". */
function lineIndent(text: string, position: number): string {
  let start = position;
  while (start > 0 && (text[start - 1] === " " || text[start - 1] === "\t")) start--;
  return start === 0 || text[start - 1] === "\n" || text[start - 1] === "\r" ? text.slice(start, position) : "";
}

function readObject(text: string, open: number): ObjectText {
  const members: Member[] = [];
  let at = skipWhitespace(text, open + 1);
  while (text[at] !== "}") {
    const keyStart = at;
    const keyEnd = stringEnd(text, keyStart);
    const valueStart = skipWhitespace(text, skipWhitespace(text, keyEnd) + 1);
    const valueEnd = valueEndAt(text, valueStart);
    members.push({ key: JSON.parse(text.slice(keyStart, keyEnd)) as string, keyStart, keyEnd, valueStart, valueEnd });
    at = skipWhitespace(text, valueEnd);
    if (text[at] === ",") at = skipWhitespace(text, at + 1);
  }
  return { open, close: at, members };
}

function valueEndAt(text: string, start: number): number {
  const first = text[start];
  if (first === '"') return stringEnd(text, start);
  if (first === "{" || first === "[") {
    let depth = 0;
    for (let at = start; at < text.length; at++) {
      const char = text[at];
      if (char === '"') at = stringEnd(text, at) - 1;
      else if (char === "{" || char === "[") depth++;
      else if ((char === "}" || char === "]") && --depth === 0) return at + 1;
    }
    return text.length;
  }
  // A number, true/false/null, or Python's NaN / Infinity / -Infinity: up to the next separator.
  let at = start;
  while (at < text.length && !/[\s,\]}]/.test(text[at] ?? "")) at++;
  return at;
}

/** Just past the string starting at `start` (its opening quote). */
function stringEnd(text: string, start: number): number {
  let at = start + 1;
  while (at < text.length && text[at] !== '"') at += text[at] === "\\" ? 2 : 1;
  return at + 1;
}

function skipWhitespace(text: string, start: number): number {
  let at = start;
  while (at < text.length && (text[at] === " " || text[at] === "\t" || text[at] === "\n" || text[at] === "\r")) at++;
  return at;
}

function splice(text: string, start: number, end: number, insert: string): string {
  return text.slice(0, start) + insert + text.slice(end);
}
