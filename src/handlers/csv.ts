/**
 * csv: comma-separated, "\n" line ends, fields quoted only when needed (papaparse).
 *
 * Save: row objects (the header is the union of their keys, first seen first; `{ header }` fixes the order) or
 * row arrays (optionally under `{ header }`). Cells are strings, numbers, booleans, Dates (ISO 8601) or
 * null/undefined (empty). A number is written as String() writes it, except -0, written "-0" so that it loads
 * back as -0; NaN, Infinity and -Infinity are written as those words and load back as strings, as booleans
 * ("true", "false") and Dates (their ISO 8601 text) do.
 * Load: row objects with numbers typed; empty fields are null. A field becomes a number only when the number
 * holds exactly the decimal value the field spells, so that nothing it says is lost: it stays a string when it
 * only looks like a number but would not survive as one: leading zeros ("007", "00.5"), a leading "+", integers
 * beyond 2^53 (ids), overflow ("1e999"), underflow ("1e-400", which would be 0) and more significant digits than
 * a double keeps ("12345678901234567890.5", "0.10000000000000000001"). The test: the number, written back as
 * String() writes it or rounded to as many significant digits as the field has, has the field's decimal value
 * ("1.50", "1e3" and "-0.0" become 1.5, 1000 and -0; numpy's "1.000000000000000056e-01" becomes 0.1). Every
 * finite number save writes (other than an integer beyond 2^53) thus loads back as itself.
 * `{ header: false }` returns every line as an array of strings, untyped.
 * Every row must have as many fields as the first; a blank line is skipped unless the file has one column.
 */
import type { CsvCell, CsvInput, CsvLoadOptions, CsvRecord, CsvSaveOptions } from "./data-types.ts";
import { corruptData, describeValue, invalidInput } from "./failures.ts";
import { loadCsv } from "./lazy-modules.ts";
import { setOwn } from "./plain-data.ts";
import type { ArtifactHandler, ArtifactStorage } from "./types.ts";
import { notUtf8Encodable, readUtf8 } from "./utf8.ts";

export const csvHandler: ArtifactHandler<CsvInput, CsvRecord[] | string[][], CsvSaveOptions, CsvLoadOptions> = {
  type: "csv",

  async save(data, storage, options) {
    const table = toTable(data, options?.header, storage);
    const papa = await loadCsv();
    const text = table.length === 0 ? "" : `${papa.unparse(table, { delimiter: ",", newline: "\n" })}\n`;
    await storage.write(text);
  },

  async load(storage, options) {
    const rows = await parseRows(storage);
    if (options?.header === false) return rows;
    const [header, ...body] = rows;
    if (header === undefined) return [];
    const seen = new Set<string>();
    for (const name of header) {
      if (seen.has(name)) {
        throw corruptData(storage, "CSV with a header", `the column name ${JSON.stringify(name)} appears twice in row 1; load it with { header: false }.`);
      }
      seen.add(name);
    }
    return body.map((row) => {
      const record: CsvRecord = {};
      header.forEach((name, column) => {
        setOwn(record, name, typedField(row[column] ?? ""));
      });
      return record;
    });
  },
};

// ---- save ------------------------------------------------------------------------------------------------------

/** The lines to write, header first, every cell already a string. */
function toTable(data: unknown, header: readonly string[] | undefined, storage: ArtifactStorage): string[][] {
  if (!Array.isArray(data)) throw invalidInput(storage, `csv artifacts take an array of rows, got ${describeValue(data)}.`);
  if (header !== undefined) validateHeader(header, storage);
  const rows = data as readonly unknown[];
  if (rows.length === 0) return header === undefined ? [] : [[...header]];
  if (rows.every((row) => Array.isArray(row))) return arrayTable(rows as readonly (readonly unknown[])[], header, storage);
  if (rows.every((row) => isRowObject(row))) return objectTable(rows as readonly Record<string, unknown>[], header, storage);
  const index = rows.findIndex((row) => !Array.isArray(row) && !isRowObject(row));
  const problem =
    index === -1
      ? "rows must be all objects or all arrays, not a mix."
      : `row ${index} is ${describeValue(rows[index])}; rows must be objects or arrays.`;
  throw invalidInput(storage, problem);
}

function arrayTable(rows: readonly (readonly unknown[])[], header: readonly string[] | undefined, storage: ArtifactStorage): string[][] {
  const width = header?.length ?? rows[0]?.length ?? 0;
  const table: string[][] = header === undefined ? [] : [[...header]];
  rows.forEach((row, index) => {
    if (row.length !== width) {
      const expected = header === undefined ? "row 0" : "the header";
      throw invalidInput(storage, `row ${index} has ${row.length} cells but ${expected} has ${width}.`);
    }
    table.push(row.map((cell, column) => cellText(cell, index, String(column), storage)));
  });
  return table;
}

function objectTable(rows: readonly Record<string, unknown>[], header: readonly string[] | undefined, storage: ArtifactStorage): string[][] {
  let columns: readonly string[];
  if (header === undefined) {
    const union = new Set<string>();
    for (const row of rows) for (const key of Object.keys(row)) union.add(key);
    columns = [...union];
  } else {
    const known = new Set(header);
    rows.forEach((row, index) => {
      const extra = Object.keys(row).find((key) => !known.has(key));
      if (extra !== undefined) throw invalidInput(storage, `row ${index} has the column ${JSON.stringify(extra)}, which is not in the header.`);
    });
    columns = header;
  }
  checkColumnNames(columns, storage);
  const table: string[][] = [[...columns]];
  rows.forEach((row, index) => {
    table.push(columns.map((column) => cellText(Object.hasOwn(row, column) ? row[column] : undefined, index, column, storage)));
  });
  return table;
}

function cellText(cell: unknown, row: number, column: string, storage: ArtifactStorage): string {
  const value = cell as CsvCell | object;
  if (value === null || value === undefined) return "";
  if (typeof value === "string") {
    const problem = notUtf8Encodable(value, `the cell in row ${row}, column ${JSON.stringify(column)}`);
    if (problem !== undefined) throw invalidInput(storage, problem);
    return value;
  }
  if (typeof value === "number") return Object.is(value, -0) ? "-0" : String(value);
  if (typeof value === "boolean") return String(value);
  if (value instanceof Date && !Number.isNaN(value.getTime())) return value.toISOString();
  throw invalidInput(
    storage,
    `the cell in row ${row}, column ${JSON.stringify(column)} is ${describeValue(value)}; cells must be strings, numbers, booleans, Dates or null.`,
  );
}

function validateHeader(header: unknown, storage: ArtifactStorage): void {
  if (!Array.isArray(header) || !header.every((name) => typeof name === "string")) {
    throw invalidInput(storage, "the header option must be an array of strings.");
  }
  if (new Set(header).size !== header.length) throw invalidInput(storage, "the header has a column name twice.");
  checkColumnNames(header as string[], storage);
}

function checkColumnNames(names: readonly string[], storage: ArtifactStorage): void {
  for (const name of names) {
    const problem = notUtf8Encodable(name, `the column name ${JSON.stringify(name)}`);
    if (problem !== undefined) throw invalidInput(storage, problem);
  }
}

function isRowObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

// ---- load ------------------------------------------------------------------------------------------------------

async function parseRows(storage: ArtifactStorage): Promise<string[][]> {
  const text = await readUtf8(storage, "CSV");
  const papa = await loadCsv();
  const parsed = papa.parse<string[]>(text, { delimiter: ",", header: false, skipEmptyLines: false, dynamicTyping: false });
  const problem = parsed.errors[0];
  if (problem !== undefined) {
    const row = problem.row === undefined ? "" : ` in row ${problem.row + 1}`;
    throw corruptData(storage, "CSV", `${problem.message}${row}.`);
  }
  const rows = parsed.data;
  if (rows.length > 0 && isBlank(rows[rows.length - 1])) rows.pop();
  const width = rows[0]?.length ?? 0;
  const kept = width > 1 ? rows.filter((row) => !isBlank(row)) : rows;
  kept.forEach((row, index) => {
    if (row.length !== width) {
      throw corruptData(storage, "CSV", `row ${index + 1} has ${row.length} fields but row 1 has ${width}.`);
    }
  });
  return kept;
}

function isBlank(row: readonly string[] | undefined): boolean {
  return row !== undefined && row.length === 1 && row[0] === "";
}

const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
const INTEGER = /^-?\d+$/;
const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;

function typedField(field: string): string | number | null {
  if (field === "") return null;
  if (!NUMBER.test(field)) return field;
  const number = Number(field);
  if (!Number.isFinite(number)) return field;
  if (INTEGER.test(field) && !Number.isSafeInteger(number)) return field;
  const digits = countSignificantDigits(field);
  // Fast path: a field of at most 15 significant digits whose number is a normal double (or zero) is that number
  // rounded to the field's digits (a double keeps any 15 digits), so the test below would keep it.
  if (digits <= 15 && (digits === 0 || Math.abs(number) >= MIN_NORMAL_WITH_MARGIN)) return number;
  // A double's shortest spelling has at most 17 significant digits, so a longer field is never it.
  if (digits <= 17 && String(number) === field) return number;
  // Fast path for longer fields (numpy's "%.18e": 1.000000000000000056e-01), without toPrecision, slow above 17
  // digits: the number lies where rounding to the field's digits gives the field. Anything else takes the full test.
  if (digits <= 100 && number !== 0 && roundsToField(number, field)) return number;
  const value = decimalValue(field);
  if (value === decimalValue(String(number))) return number;
  // A field with more digits than the shortest spelling (numpy's "%.18e": 1.000000000000000056e-01) is the number
  // rounded to its digits, which says nothing the number does not hold.
  return digits <= 100 && value === decimalValue(number.toPrecision(Math.max(1, digits))) ? number : field;
}

/** Above the smallest normal double (2.2e-308) with room: from here down, doubles keep fewer than 15 digits. */
const MIN_NORMAL_WITH_MARGIN = 1e-307;
const ZERO = 0x30;
const DOT = 0x2e;
const MINUS = 0x2d;

/**
 * How many significant digits a number's text (NUMBER or toPrecision's form) spells, trailing zeros included
 * ("0.0120" has 3): the digits before the exponent, leading zeros left out.
 */
function countSignificantDigits(text: string): number {
  let count = 0;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code === MINUS || code === DOT) continue;
    if (code < ZERO || code > ZERO + 9) break;
    if (count > 0 || code !== ZERO) count++;
  }
  return count;
}

/**
 * Whether `number` (finite, not 0), written with as many significant digits as `field` spells (as toPrecision
 * rounds: to the nearest, a tie upwards), gives the field's digits at the field's power of ten. Exact (integer
 * arithmetic on the double's bits); false when unsure: a field of digits 1 then only zeros (its rounding interval
 * reaches into the decade below) or an exponent of more than 15 digits.
 */
function roundsToField(number: number, field: string): boolean {
  const spelled = spelledDigits(field);
  if (spelled === undefined || spelled.negative !== number < 0 || ONE_THEN_ZEROS.test(spelled.digits)) return false;
  // The field is N × 10^q with N its digits; toPrecision gives N when |number| is in [N - 1/2, N + 1/2) × 10^q.
  const q = spelled.leading - spelled.digits.length + 1;
  const twiceN = BigInt(spelled.digits) * 2n;
  // |number| = M × 2^E, exactly.
  bits.setFloat64(0, Math.abs(number));
  const high = bits.getUint32(0);
  const low = bits.getUint32(4);
  const biased = high >>> 20;
  const mantissa = ((high & 0xfffff) + (biased === 0 ? 0 : 0x100000)) * 2 ** 32 + low;
  const exponent = (biased === 0 ? 1 : biased) - 1075;
  // (2N - 1) × 10^q ≤ 2 × M × 2^E < (2N + 1) × 10^q, scaled to integers.
  let twiceValue = BigInt(mantissa) * powerOfTen(Math.max(0, -q));
  let scale = powerOfTen(Math.max(0, q));
  if (exponent + 1 >= 0) twiceValue <<= BigInt(exponent + 1);
  else scale <<= BigInt(-(exponent + 1));
  return (twiceN - 1n) * scale <= twiceValue && twiceValue < (twiceN + 1n) * scale;
}

const ONE_THEN_ZEROS = /^10*$/;
/** 10^0 … 10^399, each made when first needed (larger ones are made each time). */
const POWERS_OF_TEN: bigint[] = [];

function powerOfTen(exponent: number): bigint {
  if (exponent >= 400) return 10n ** BigInt(exponent);
  return (POWERS_OF_TEN[exponent] ??= 10n ** BigInt(exponent));
}
const bits = new DataView(new ArrayBuffer(8));

function spelledDigits(text: string): { negative: boolean; digits: string; leading: number } | undefined {
  const negative = text.charCodeAt(0) === MINUS;
  const start = negative ? 1 : 0;
  let exponentAt = text.indexOf("e", start);
  if (exponentAt === -1) exponentAt = text.indexOf("E", start);
  const end = exponentAt === -1 ? text.length : exponentAt;
  const exponentText = exponentAt === -1 ? "" : text.slice(exponentAt + 1);
  if (exponentText.length > 15) return undefined;
  const exponent = exponentText === "" ? 0 : Number(exponentText);
  const dot = text.indexOf(".", start);
  const wholeEnd = dot === -1 || dot > end ? end : dot;
  const all = wholeEnd === end ? text.slice(start, end) : text.slice(start, wholeEnd) + text.slice(wholeEnd + 1, end);
  let zeros = 0;
  while (zeros < all.length && all.charCodeAt(zeros) === ZERO) zeros++;
  return { negative, digits: all.slice(zeros), leading: exponent + (wholeEnd - start) - 1 - zeros };
}

/**
 * A canonical spelling of the decimal value of a number's text (digits without leading or trailing zeros, and the
 * power of ten of the last one), so that "1.50", "15e-1" and "1.5" compare equal. Every zero is "0".
 */
function decimalValue(text: string): string {
  const [, sign = "", whole = "", fraction = "", exponent = "0"] = DECIMAL.exec(text) ?? [];
  const digits = `${whole}${fraction}`.replace(/^0+/, "");
  if (digits === "") return "0";
  const significant = digits.replace(/0+$/, "");
  return `${sign}${significant}e${BigInt(exponent) - BigInt(fraction.length) + BigInt(digits.length - significant.length)}`;
}
