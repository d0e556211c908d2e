/**
 * The sanitizers themselves: the CLI's output boundary (terminalSafe), one-line
 * values, JSON lines, tables, and the library's plain text from servers.
 */

import assert from "node:assert/strict";
import { guardIo, jsonLine, oneLine, table, terminalSafe } from "../src/cli/format.ts";
import { hasUnsafeCharacter, isVisibleAscii, plainText } from "../src/untrusted.ts";
import { unsafeAddressReason } from "../src/url_policy.ts";

const CASES: [string, string, string][] = [
  ["ESC (CSI, OSC 52)", "a\x1b[2Jb\x1b]52;c;eA==\x07", "a\\u001b[2Jb\\u001b]52;c;eA==\\u0007"],
  ["8-bit CSI", "a\u009b31mb", "a\\u009b31mb"],
  ["every C1 control", "\u0080\u009f", "\\u0080\\u009f"],
  ["DEL", "a\x7fb", "a\\u007fb"],
  [
    "bidi overrides and isolates",
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069",
    "\\u202a\\u202b\\u202c\\u202d\\u202e\\u2066\\u2067\\u2068\\u2069",
  ],
  [
    "zero-width and marks",
    "\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u061c",
    "\\u200b\\u200c\\u200d\\u200e\\u200f\\u2060\\ufeff\\u061c",
  ],
  ["a lone CR (overwrites the line)", "safe\revil", "safe\\u000devil"],
  ["tab and NUL", "a\tb\0c", "a\\u0009b\\u0000c"],
  [
    "ordinary text in any script",
    "Anmelden — 登录 — サインイン — ñ",
    "Anmelden — 登录 — サインイン — ñ",
  ],
];

for (const [name, input, shown] of CASES) {
  Deno.test(`terminalSafe() shows ${name} escaped, and oneLine() too`, () => {
    assert.equal(terminalSafe(input), shown);
    assert.equal(oneLine(input), shown);
    assert.equal(hasUnsafeCharacter(terminalSafe(input)), false);
  });
}

Deno.test("terminalSafe() keeps newlines (a CRLF becomes one); oneLine() escapes them", () => {
  assert.equal(terminalSafe("a\r\nb\nc"), "a\nb\nc");
  assert.equal(oneLine("a\r\nb\nc"), "a\\u000d\\u000ab\\u000ac");
});

Deno.test("jsonLine() escapes C1, bidi and format characters as JSON escapes that parse back", () => {
  const value = { name: "a\u009b\u202e\u2028\x1b\n", list: ["\u200b"] };
  const line = jsonLine(value);
  assert.equal(line, '{"name":"a\\u009b\\u202e\\u2028\\u001b\\n","list":["\\u200b"]}\n');
  assert.equal(hasUnsafeCharacter(line.slice(0, -1)), false);
  assert.deepEqual(JSON.parse(line), value);
  assert.equal(jsonLine({ a: 1 }, 2), '{\n  "a": 1\n}\n');
});

Deno.test("table() puts every cell on one line, so no cell can forge a row", () => {
  assert.equal(
    table(["NAME", "ID"], [["alice\nbob  x", "1"], ["carol", "2\u202e"]]),
    "NAME               ID\nalice\\u000abob  x  1\ncarol              2\\u202e\n",
  );
});

Deno.test("guardIo() sanitizes text and lets only named control sequences and result bytes through raw", async () => {
  let out = "";
  let err = "";
  const io = guardIo({
    stdout: (t) => void (out += t),
    stderr: (t) => void (err += t),
    env: () => undefined,
    stderrIsTerminal: true,
  });
  io.stderr("x\x1b[31my");
  io.control("bold");
  io.control("clearLine");
  await io.stdout("\u009b");
  await io.stdoutBytes(new TextEncoder().encode("raw\x1b"));
  await io.stdoutBytes(new Uint8Array());
  assert.equal(err, "x\\u001b[31my\x1b[1m\r\x1b[2K");
  assert.equal(out, "\\u009braw\x1b");
  assert.equal(guardIo(io), io, "guarding twice changes nothing");
});

Deno.test("plainText() removes whole escape sequences, then unsafe characters; line breaks as asked", () => {
  const hostile =
    "\x1b]52;c;ZXZpbA==\x07\x1b[2J\u009b31m\u202eevil\u2066\u200b\x7f\r\nline\x1bP1;2q#data\x1b\\ end\x1b";
  assert.equal(plainText(hostile), "evil line end");
  assert.equal(plainText(hostile, true), "evil\nline end");
  assert.equal(plainText("OSC without end \x1b]0;title"), "OSC without end ");
  assert.equal(
    plainText("AADSTS70016: pending\r\nTrace ID: 1", true),
    "AADSTS70016: pending\nTrace ID: 1",
  );
});

Deno.test("isVisibleAscii() is RFC 6749's VSCHAR, with or without spaces", () => {
  assert.equal(isVisibleAscii("eyJ.a-b_c~+/=", false), true);
  assert.equal(isVisibleAscii("a b", true), true);
  assert.equal(isVisibleAscii("a b", false), false);
  for (const bad of ["", "a\nb", "a\rb", "a\tb", "a\x7f", "é", "\u202e"]) {
    assert.equal(isVisibleAscii(bad, true), false, JSON.stringify(bad));
  }
});

Deno.test("unsafeAddressReason() accepts what real servers send and nothing disguised", () => {
  for (
    const good of [
      "https://microsoft.com/devicelogin",
      "https://www.microsoft.com/link",
      "https://github.com/login/device",
      "https://www.google.com/device",
      "https://auth.example.com/activate?user_code=WDJB-MJHT",
      "http://127.0.0.1:8080/device",
      "http://localhost/device",
    ]
  ) assert.equal(unsafeAddressReason(good), undefined, good);
  const bad: [string, RegExp][] = [
    [
      "https://login.microsoftonline.com@evil.test/",
      /user name before the host, so it would open evil\.test/,
    ],
    ["https://a:b@evil.test/", /user name/],
    ["https://@evil.test/", /user name/],
    ["http://evil.test/device", /not https/],
    ["ftp://evil.test/", /not https/],
    ["https://evil.test\\@good.example/", /backslashes/],
    ["https://good.example/ path", /spaces/],
    ["https://good.example/\u202e", /invisible/],
    [`https://good.example/${"a".repeat(2030)}`, /longer than 2048/],
    ["//good.example/", /not an absolute URL/],
  ];
  for (const [address, why] of bad) assert.match(unsafeAddressReason(address) ?? "", why, address);
});
