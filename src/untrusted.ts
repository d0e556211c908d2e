/**
 * The character rules for text that comes from outside: what a token or a
 * code may contain (RFC 6749 appendix A), and which characters would act on
 * a terminal or disguise text instead of being read.
 *
 * @module
 */

/**
 * C0 controls, DEL, the 8-bit C1 controls, and the Unicode format characters
 * that hide or reorder text: zero-width characters and marks, the Arabic
 * letter mark, line and paragraph separators, bidi embeddings, overrides and
 * isolates, word joiners, and the byte order mark.
 */
export const UNSAFE_CHARACTER =
  // deno-lint-ignore no-control-regex
  /[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff]/;

/**
 * Whether a text has a character that would act on a terminal or disguise
 * the text ({@linkcode UNSAFE_CHARACTER}); newlines count.
 *
 * @param text Any text.
 * @returns `true` when it has one.
 */
export function hasUnsafeCharacter(text: string): boolean {
  return UNSAFE_CHARACTER.test(text);
}

/**
 * Whether a value is made of VSCHARs (RFC 6749 appendix A: `%x20-7E`), as
 * tokens and codes must be; user codes and token types are single words.
 *
 * @param value The value.
 * @param spaces Whether spaces are allowed.
 * @returns `true` when the value is one or more such characters.
 */
export function isVisibleAscii(value: string, spaces: boolean): boolean {
  return (spaces ? /^[\x20-\x7e]+$/ : /^[\x21-\x7e]+$/).test(value);
}

/**
 * Terminal escape sequences, whole, in their 7-bit and 8-bit forms: CSI
 * (`ESC [` or U+009B) with its parameters; OSC, DCS, SOS, PM and APC strings
 * up to their terminator (BEL or ST) or the end; any other `ESC x` pair.
 * Removing only the ESC would leave their payload behind as text.
 */
const ESCAPE_SEQUENCE =
  // deno-lint-ignore no-control-regex
  /(?:\x1b\[|\u009b)[0-?]*[ -/]*[@-~]?|(?:\x1b[\]PX^_]|[\u009d\u0090\u0098\u009e\u009f])[^\x07\x1b\u009c]*(?:\x07|\x1b\\|\u009c)?|\x1b[\s\S]?/g;
const UNSAFE_CHARACTERS = new RegExp(UNSAFE_CHARACTER.source, "g");

/**
 * Plain text from a server, for a person to read: escape sequences are
 * removed whole, then every other unsafe character; line breaks become
 * spaces unless `newlines` keeps them (as LF). The CLI escapes what it
 * prints anyway; this is for the library's own values (a device code's
 * `message`, an error's description), which programs print as they are.
 *
 * @param text Text from outside.
 * @param newlines Whether line breaks are kept.
 * @returns The text without anything a terminal would act on.
 */
export function plainText(text: string, newlines = false): string {
  const lines = text.replace(ESCAPE_SEQUENCE, "").split(/\r\n|[\r\n\u2028\u2029]/);
  return lines.map((line) => line.replace(UNSAFE_CHARACTERS, "")).join(newlines ? "\n" : " ");
}

/**
 * The first line of an error's message (or of a value as text): what a
 * one-line report shows of it.
 *
 * @param error What was thrown, or a text.
 * @returns Its first line.
 */
export function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split(/\r?\n/, 1)[0] ?? "";
}
