/**
 * How text that comes from storage (file names, keys, tags, run ids, hosts, messages quoting them) is shown to a
 * person. A terminal obeys some characters instead of showing them: C0 and C1 controls (ESC and CSI start escape
 * sequences that set the title, move the cursor or erase lines; CR and LF move to another line) and DEL. The
 * bidirectional controls reorder the rest of the line as it is shown, and a few characters show as nothing at all
 * (a zero-width space makes `safe\u{200b}.txt` look like `safe.txt`). Each of these is written as an escape
 * instead: `\n`, `\r`, `\t`, `\xNN` for the other codes below U+0100, `\u{NNNN}` for the rest (a lone surrogate
 * too). Every other character, non-ASCII letters included, is kept as it is. The viewer's page shows names through
 * this same function.
 */
import { InvalidArgumentError } from "./errors.ts";

/**
 * C0 controls, DEL and C1 controls (\p{Cc}); the Arabic letter mark, LRM and RLM; the line and paragraph
 * separators; the bidi embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069); lone surrogates; the
 * invisible soft hyphen, Mongolian vowel separator, zero-width space, word joiner, invisible operators
 * (U+2061–U+2064) and zero-width no-break space (U+FEFF). The zero-width joiner and non-joiner stay: words in
 * several scripts, and emoji, need them.
 */
const UNSAFE = /[\p{Cc}\p{Cs}\u00ad\u061c\u180e\u200b\u200e\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/gu;

const UNSAFE_ONE = new RegExp(UNSAFE.source, "u");

/** `text` with every character a terminal would act on, that reorders the line or shows as nothing, escaped. */
export function printable(text: string): string {
  return text.replace(UNSAFE, escapeOne);
}

function escapeOne(char: string): string {
  switch (char) {
    case "\n":
      return "\\n";
    case "\r":
      return "\\r";
    case "\t":
      return "\\t";
  }
  const code = char.codePointAt(0) ?? 0;
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u{${code.toString(16)}}`;
}

/**
 * The inverse of {@link printable}: `text` with each escape printable() writes read back into its character. A
 * backslash that does not start one of those escapes exactly as printable() spells it (`\u{41}` for a plain letter,
 * `\x0a` for a line feed, upper-case or padded hex, a cut-off escape) is refused: InvalidArgumentError naming it.
 */
export function fromPrintable(text: string): string {
  return text.replace(/\\(?:[nrt]|x[0-9a-f]{2}|u\{[0-9a-f]{1,6}\}|.?)/gsu, (escape) => {
    const char = unescapeOne(escape);
    if (char === undefined || escapeOne(char) !== escape || !UNSAFE_ONE.test(char)) {
      throw new InvalidArgumentError(`"${printable(escape)}" is not an escape that names are shown with (\\n, \\r, \\t, \\xNN, \\u{NNNN}).`);
    }
    return char;
  });
}

function unescapeOne(escape: string): string | undefined {
  switch (escape) {
    case "\\n":
      return "\n";
    case "\\r":
      return "\r";
    case "\\t":
      return "\t";
  }
  const hex = /^\\(?:x([0-9a-f]{2})|u\{([0-9a-f]+)\})$/.exec(escape);
  const code = hex === null ? Number.NaN : Number.parseInt(hex[1] ?? hex[2] ?? "", 16);
  return Number.isNaN(code) || code > 0x10ffff ? undefined : String.fromCodePoint(code);
}
