/**
 * Text that leaves the CLI: the terminal sanitizer every byte of stdout and
 * stderr text passes through, JSON lines, one-line values and tables.
 *
 * Whatever a server, the cache or the config file said is data: it must not
 * move the cursor, write the clipboard (OSC 52), reorder what a person reads
 * (bidi overrides) or forge a line of its own. {@linkcode guardIo} puts
 * {@linkcode terminalSafe} between every command and the real stdout and
 * stderr, so no output path can forget it; the CLI's own colours and its
 * countdown redraw go through {@linkcode CliControl}, which takes names from a
 * closed list and never text.
 *
 * @module
 */

import type { Account } from "../types.ts";
import { UNSAFE_CHARACTER } from "../untrusted.ts";
import type { CliIo } from "./io.ts";

// What is never written as it is (see UNSAFE_CHARACTER): anywhere but a
// newline, on one line everything, and inside JSON strings what
// JSON.stringify leaves (it escapes C0 itself).
const UNSAFE = new RegExp(`(?!\\n)${UNSAFE_CHARACTER.source}`, "g");
const UNSAFE_IN_LINE = new RegExp(UNSAFE_CHARACTER.source, "g");
const UNSAFE_IN_JSON = new RegExp(`(?![\\x00-\\x1f])${UNSAFE_CHARACTER.source}`, "g");

const escape = (char: string) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`;

/**
 * Makes text safe for a terminal: every unsafe character is shown escaped
 * (`\u001b`, `\u202e`) instead of acting. Newlines stay (a CRLF becomes one).
 *
 * @param text Any text.
 * @returns The text with nothing a terminal would act on but newlines.
 */
export function terminalSafe(text: string): string {
  return text.replaceAll("\r\n", "\n").replace(UNSAFE, escape);
}

/**
 * A value that must stay on one line (a table cell, a name in a sentence):
 * newlines are escaped too, so it cannot forge a line of its own.
 *
 * @param value Text from outside the program.
 * @returns The value on one line, with unsafe characters escaped.
 */
export function oneLine(value: string): string {
  return value.replace(UNSAFE_IN_LINE, escape);
}

/**
 * One line of JSON with C1, bidi and other format characters escaped as
 * well as C0 (`\u009b`, `\u202e`), so that a consumer that prints the line is
 * safe too. The escapes are valid JSON: parsing gives the value back.
 *
 * @param value A JSON-serialisable value.
 * @param indent Spaces of indentation, for JSON meant to be read.
 * @returns The JSON text and a newline.
 */
export function jsonLine(value: unknown, indent?: number): string {
  return JSON.stringify(value, null, indent).replace(UNSAFE_IN_JSON, escape) + "\n";
}

/**
 * A table with a header row and columns padded to their widest cell; every
 * cell is put on one line first.
 *
 * @param header The column titles.
 * @param rows The cells.
 * @returns The table, one line per row.
 */
export function table(header: string[], rows: string[][]): string {
  const cells = rows.map((row) => row.map(oneLine));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]!.length)));
  return [header, ...cells]
    .map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd())
    .join("\n") + "\n";
}

/** The terminal sequences the CLI itself writes; nothing else reaches the terminal raw. */
export const CONTROL_SEQUENCES = {
  bold: "\x1b[1m",
  dim: "\x1b[2m",
  normal: "\x1b[22m",
  /** Back to the start of the line and erase it: the countdown's redraw. */
  clearLine: "\r\x1b[2K",
} as const;

/** The name of one of {@linkcode CONTROL_SEQUENCES}. */
export type ControlName = keyof typeof CONTROL_SEQUENCES;

/** Writes one of the CLI's own terminal sequences to stderr. */
export type CliControl = (name: ControlName) => void;

/** The guarded I/O: its text writers sanitize, and {@linkcode CliControl} writes our own sequences. */
export interface GuardedIo extends CliIo {
  /** Writes one of the CLI's own terminal sequences to stderr. */
  readonly control: CliControl;
  /** Writes result bytes as they are (`fetch`'s body: what the user asked for). */
  stdoutBytes: (bytes: Uint8Array) => void | Promise<void>;
}

/**
 * Puts the sanitizer between the commands and the real output: text written
 * to stdout or stderr passes {@linkcode terminalSafe}; only bytes the user
 * asked for (an API's body from `fetch`) and the named control sequences go
 * out as they are.
 *
 * @param io The real I/O.
 * @returns The I/O the commands use.
 */
export function guardIo(io: CliIo): GuardedIo {
  if ("control" in io) return io as GuardedIo;
  const decoder = new TextDecoder();
  return {
    ...io,
    stdout: (text) => io.stdout(terminalSafe(text)),
    stderr: (text) => io.stderr(terminalSafe(text)),
    stdoutBytes: io.stdoutBytes ??
      ((bytes) => io.stdout(decoder.decode(bytes, { stream: bytes.length > 0 }))),
    control: (name) => io.stderr(CONTROL_SEQUENCES[name]),
  };
}

/**
 * Whether a code point is two columns wide in a terminal (Unicode East Asian
 * Width W or F): CJK ideographs, kana, Hangul, fullwidth forms.
 */
function isWide(code: number): boolean {
  return (code >= 0x1100 && code <= 0x115f) || (code >= 0x2e80 && code <= 0x303e) ||
    (code >= 0x3041 && code <= 0x33ff) || (code >= 0x3400 && code <= 0x4dbf) ||
    (code >= 0x4e00 && code <= 0x9fff) || (code >= 0xa000 && code <= 0xa4cf) ||
    (code >= 0xac00 && code <= 0xd7a3) || (code >= 0xf900 && code <= 0xfaff) ||
    (code >= 0xfe30 && code <= 0xfe4f) || (code >= 0xff00 && code <= 0xff60) ||
    (code >= 0xffe0 && code <= 0xffe6) || (code >= 0x1f300 && code <= 0x1f64f) ||
    (code >= 0x20000 && code <= 0x3fffd);
}

/**
 * How many terminal columns a text takes: wide characters count two.
 *
 * @param text One line.
 * @returns The columns.
 */
export function displayWidth(text: string): number {
  let width = 0;
  for (const char of text) width += isWide(char.codePointAt(0)!) ? 2 : 1;
  return width;
}

/**
 * Cuts a line to at most `width` columns, with "…" where it was cut.
 *
 * @param text One line.
 * @param width The columns there are.
 * @returns The line, cut when it is wider.
 */
export function truncate(text: string, width: number): string {
  if (displayWidth(text) <= width) return text;
  let out = "";
  for (const char of text) {
    if (displayWidth(out + char) > width - 1) break;
    out += char;
  }
  return `${out}…`;
}

/**
 * Wraps text to a width at word boundaries (and between wide characters,
 * which are words of their own in Chinese and Japanese); a word wider than
 * the width gets a line of its own. Newlines in the text are kept.
 *
 * @param text The text.
 * @param width The columns there are.
 * @returns The text with line breaks.
 */
export function wrap(text: string, width: number): string {
  return text.split("\n").map((paragraph) => {
    // Words, and every wide character as a word of its own (no spaces between them).
    const tokens = paragraph.match(
      /[\u1100-\u115f\u2e80-\u9fff\uac00-\ud7a3\uf900-\ufaff\uff00-\uff60]|[^\s\u1100-\u115f\u2e80-\u9fff\uac00-\ud7a3\uf900-\ufaff\uff00-\uff60]+|\s+/g,
    ) ?? [];
    const lines: string[] = [];
    let line = "";
    for (const token of tokens) {
      if (/^\s+$/.test(token)) {
        if (line) line += " ";
        continue;
      }
      if (line && displayWidth(line + token) > width) {
        lines.push(line.trimEnd());
        line = "";
      }
      line += token;
    }
    lines.push(line.trimEnd());
    return lines.join("\n");
  }).join("\n");
}

/** An account as the JSON outputs show it. */
export function accountJson(account: Account) {
  return {
    username: account.username,
    homeAccountId: account.homeAccountId,
    tenantId: account.tenantId ?? null,
    authority: account.authority,
    clientId: account.clientId,
  };
}
