import assert from "node:assert/strict";
// deno-lint-ignore no-import-prefix -- test-only; the library keeps no import map
import jsQRModule from "npm:jsqr@1.4.0";
import { encodeQr, type QrCode, type QrEcc, qrWidth, renderQr } from "../src/cli/qr.ts";

// jsqr is a UMD bundle whose module.exports is the function itself, while its
// types describe an ES module with a default export.
const jsQR = jsQRModule as unknown as typeof jsQRModule.default;

const LEVELS: readonly QrEcc[] = ["L", "M", "Q", "H"];

/** Scans a module grid (quiet zone included by the caller) as a black-on-white image. */
function scan(
  width: number,
  height: number,
  isDark: (x: number, y: number) => boolean,
  scale = 4,
) {
  const pixels = new Uint8ClampedArray(width * scale * height * scale * 4);
  for (let y = 0; y < height * scale; y++) {
    for (let x = 0; x < width * scale; x++) {
      const value = isDark(Math.floor(x / scale), Math.floor(y / scale)) ? 0 : 255;
      pixels.fill(value, (y * width * scale + x) * 4, (y * width * scale + x) * 4 + 3);
      pixels[(y * width * scale + x) * 4 + 3] = 255;
    }
  }
  return jsQR(pixels, width * scale, height * scale, { inversionAttempts: "dontInvert" });
}

/** Decodes a QrCode with a 4-module quiet zone. */
function decodeCode(code: QrCode, scale = 4) {
  const total = code.size + 8;
  return scan(total, total, (x, y) => code.get(x - 4, y - 4), scale);
}

/** Parses renderQr output back into modules (blocks are light ones when inverted) and decodes them. */
function decodeDrawing(drawing: string, invert: boolean) {
  const lines = drawing.split("\n");
  const width = [...lines[0]!].length;
  assert.equal(lines.length, Math.ceil(width / 2));
  const height = width; // when odd, the last line's lower half lies outside the code
  const inked = (x: number, y: number): boolean => {
    const char = [...lines[Math.floor(y / 2)]!][x]!;
    return y % 2 === 0 ? char === "▀" || char === "█" : char === "▄" || char === "█";
  };
  return scan(width, height, (x, y) => inked(x, y) !== invert);
}

function assertDecodes(text: string, ecc?: QrEcc): QrCode {
  const code = encodeQr(text, ecc ? { ecc } : {});
  const result = decodeCode(code);
  assert.ok(result, `jsQR found no code for ${JSON.stringify(text)} (version ${code.version})`);
  assert.equal(result.data, text);
  assert.equal(result.version, code.version);
  return code;
}

/** Deterministic URL-ish text of a given length. */
function sample(length: number): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~/?=&";
  let text = "";
  for (let i = 0; i < length; i++) text += alphabet[(i * 7 + (i >> 3)) % alphabet.length];
  return text;
}

Deno.test("encodeQr() output decodes to short text", () => {
  const code = assertDecodes("hi");
  assert.equal(code.version, 1);
  assert.equal(code.size, 21);
});

Deno.test("encodeQr() output decodes to typical verification URIs", () => {
  assertDecodes("https://microsoft.com/devicelogin");
  assertDecodes("http://127.0.0.1:43123/device?user_code=BCDF-GHJK");
  assertDecodes("https://github.com/login/device");
  assertDecodes("https://www.google.com/device");
});

Deno.test("encodeQr() output decodes to a 150-character URL in a version above 5", () => {
  const url = "https://login.example.com/oauth2/v2.0/device?user_code=WDJB-MJHT&client_id=" +
    "00000000-0000-0000-0000-000000000000";
  const long = (url + "&state=" + sample(150)).slice(0, 150);
  assert.equal(long.length, 150);
  const code = assertDecodes(long);
  assert.ok(code.version > 5, `version ${code.version}`);
  assert.equal(code.version, 8); // 150 bytes at M: version 7 holds 122, version 8 holds 152
});

Deno.test("encodeQr() output decodes at every error correction level", () => {
  const url = "http://127.0.0.1:43123/device?user_code=BCDF-GHJK";
  const versions = LEVELS.map((ecc) => assertDecodes(url, ecc).version);
  assert.deepEqual(versions, [3, 4, 5, 6]); // 49 bytes
});

Deno.test("encodeQr() defaults to level M", () => {
  const url = "https://microsoft.com/devicelogin";
  const byDefault = encodeQr(url);
  const atM = encodeQr(url, { ecc: "M" });
  assert.equal(byDefault.version, atM.version);
  for (let y = 0; y < atM.size; y++) {
    for (let x = 0; x < atM.size; x++) assert.equal(byDefault.get(x, y), atM.get(x, y));
  }
});

Deno.test("encodeQr() encodes non-ASCII text as UTF-8", () => {
  assertDecodes("https://example.com/ü?x=ø");
  assertDecodes("Anmeldung: Gerätecode 認証コード ✓ 🔑");
});

Deno.test("encodeQr() output decodes for lengths across version boundaries", () => {
  for (let length = 1; length <= 200; length += 7) assertDecodes(sample(length), "M");
});

// Byte-mode capacity of versions 1 to 40 (ISO/IEC 18004 Table 7).
const CAPACITY: Record<QrEcc, readonly number[]> = {
  L: numbers(`
    17 32 53 78 106 134 154 192 230 271 321 367 425 458 520 586 644 718 792 858
    929 1003 1091 1171 1273 1367 1465 1528 1628 1732 1840 1952 2068 2188 2303 2431 2563 2699 2809 2953
  `),
  M: numbers(`
    14 26 42 62 84 106 122 152 180 213 251 287 331 362 412 450 504 560 624 666
    711 779 857 911 997 1059 1125 1190 1264 1370 1452 1538 1628 1722 1809 1911 1989 2099 2213 2331
  `),
  Q: numbers(`
    11 20 32 46 60 74 86 108 130 151 177 203 241 258 292 322 364 394 442 482
    509 565 611 661 715 751 805 868 908 982 1030 1112 1168 1228 1283 1351 1423 1499 1579 1663
  `),
  H: numbers(`
    7 14 24 34 44 58 64 84 98 119 137 155 177 194 220 250 280 310 338 382
    403 439 461 511 535 593 625 658 698 742 790 842 898 958 983 1051 1093 1139 1219 1273
  `),
};

function numbers(list: string): readonly number[] {
  return list.trim().split(/\s+/).map(Number);
}

function capacity(version: number, ecc: QrEcc): number {
  return CAPACITY[ecc][version - 1]!;
}

Deno.test("encodeQr() picks the smallest version that holds the bytes", () => {
  // Every level up to version 10 (where the character count grows from 8 to
  // 16 bits), then one level per version to keep the test fast.
  for (let version = 1; version <= 40; version++) {
    for (const ecc of version <= 10 ? LEVELS : [LEVELS[version % 4]!]) {
      const full = capacity(version, ecc);
      assert.equal(encodeQr("a".repeat(full), { ecc }).version, version, `${version}-${ecc}`);
      if (version < 40) {
        assert.equal(encodeQr("a".repeat(full + 1), { ecc }).version, version + 1);
      }
    }
  }
  assert.equal(encodeQr("é".repeat(7), { ecc: "M" }).version, 1); // 14 bytes
  assert.equal(encodeQr("é".repeat(8), { ecc: "M" }).version, 2); // 16 bytes
});

Deno.test("encodeQr() output decodes when full, at every level up to version 10", () => {
  for (let version = 1; version <= 10; version++) {
    for (const ecc of LEVELS) assertDecodes(sample(capacity(version, ecc)), ecc);
  }
});

Deno.test("encodeQr() output decodes when full, in larger versions", () => {
  // Not version 23: jsQR 1.4.0 misplaces one of its alignment patterns (74
  // for 78), so it reads no version 23 symbol (github.com/cozmo/jsQR/issues/251).
  for (const [version, ecc] of [[13, "Q"], [17, "M"], [22, "H"], [27, "L"], [33, "M"]] as const) {
    const text = sample(capacity(version, ecc));
    const code = encodeQr(text, { ecc });
    assert.equal(code.version, version);
    assert.equal(decodeCode(code, 3)?.data, text, `${version}-${ecc}`);
  }
});

Deno.test("encodeQr() output decodes when version 40 is full", () => {
  const text = sample(capacity(40, "L"));
  const code = encodeQr(text, { ecc: "L" });
  assert.equal(code.version, 40);
  assert.equal(code.size, 177);
  assert.equal(decodeCode(code, 3)?.data, text);
});

Deno.test("encodeQr() throws RangeError for text too long for version 40", () => {
  assert.throws(() => encodeQr("a".repeat(2332)), {
    name: "RangeError",
    message: /2332 bytes exceed the 2331 bytes of version 40 at level M/,
  });
  assert.throws(() => encodeQr("a".repeat(2954), { ecc: "L" }), RangeError);
  assert.throws(() => encodeQr("ü".repeat(1477), { ecc: "L" }), RangeError); // 2954 bytes
});

Deno.test("encodeQr() throws TypeError for an unknown level", () => {
  assert.throws(() => encodeQr("x", { ecc: "X" as QrEcc }), TypeError);
  assert.throws(() => encodeQr("x", { ecc: "toString" as QrEcc }), TypeError);
});

Deno.test("QrCode.get() treats positions outside the symbol as light", () => {
  const code = encodeQr("x");
  assert.equal(code.get(0, 0), true); // finder pattern corner
  for (const [x, y] of [[-1, 0], [0, -1], [21, 0], [0, 21], [0.5, 0], [NaN, 0]]) {
    assert.equal(code.get(x!, y!), false);
  }
});

// Format information for each level and mask 0 to 7 (ISO/IEC 18004 Table C.1),
// after the XOR with 101010000010010.
const FORMAT_INFO: Record<QrEcc, readonly number[]> = {
  L: [0x77c4, 0x72f3, 0x7daa, 0x789d, 0x662f, 0x6318, 0x6c41, 0x6976],
  M: [0x5412, 0x5125, 0x5e7c, 0x5b4b, 0x45f9, 0x40ce, 0x4f97, 0x4aa0],
  Q: [0x355f, 0x3068, 0x3f31, 0x3a06, 0x24b4, 0x2183, 0x2eda, 0x2bed],
  H: [0x1689, 0x13be, 0x1ce7, 0x19d0, 0x0762, 0x0255, 0x0d0c, 0x083b],
};

function readBits(code: QrCode, positions: readonly (readonly [number, number])[]): number {
  return positions.reduce((bits, [x, y]) => (bits << 1) | (code.get(x, y) ? 1 : 0), 0);
}

Deno.test("encodeQr() writes both copies of the format information (BCH 15,5)", () => {
  for (const ecc of LEVELS) {
    for (const text of ["a", "https://microsoft.com/devicelogin", sample(90)]) {
      const code = encodeQr(text, { ecc });
      const n = code.size;
      // Most significant bit first, in the order of ISO/IEC 18004 Figure 25.
      // deno-fmt-ignore
      const nearTopLeft = readBits(code, [
        [0, 8], [1, 8], [2, 8], [3, 8], [4, 8], [5, 8], [7, 8], [8, 8],
        [8, 7], [8, 5], [8, 4], [8, 3], [8, 2], [8, 1], [8, 0],
      ]);
      // deno-fmt-ignore
      const split = readBits(code, [
        [8, n - 1], [8, n - 2], [8, n - 3], [8, n - 4], [8, n - 5], [8, n - 6], [8, n - 7],
        [n - 8, 8], [n - 7, 8], [n - 6, 8], [n - 5, 8], [n - 4, 8], [n - 3, 8], [n - 2, 8],
        [n - 1, 8],
      ]);
      assert.equal(split, nearTopLeft);
      assert.ok(FORMAT_INFO[ecc].includes(nearTopLeft), `${ecc}: ${nearTopLeft.toString(2)}`);
      assert.equal(code.get(8, n - 8), true); // the dark module
    }
  }
});

Deno.test("encodeQr() keeps choosing the same masks (regression pin)", () => {
  // The masks the section 7.8.3 penalty picks here. Other encoders may differ:
  // node-qrcode, for one, leaves the quiet zone out of the finder-like rule.
  const cases = [
    ["https://microsoft.com/devicelogin", "M", 3],
    ["http://127.0.0.1:43123/device?user_code=BCDF-GHJK", "M", 6],
    ["hi", "L", 2],
    ["hi", "H", 0],
    ["https://example.com/ü?x=ø", "Q", 4],
  ] as const;
  for (const [text, ecc, mask] of cases) {
    const code = encodeQr(text, { ecc });
    // deno-fmt-ignore
    const format = readBits(code, [
      [0, 8], [1, 8], [2, 8], [3, 8], [4, 8], [5, 8], [7, 8], [8, 8],
      [8, 7], [8, 5], [8, 4], [8, 3], [8, 2], [8, 1], [8, 0],
    ]);
    assert.equal(FORMAT_INFO[ecc].indexOf(format), mask, text);
  }
});

Deno.test("encodeQr() writes the version information (BCH 18,6) from version 7", () => {
  // ISO/IEC 18004 Table D.1.
  const expected: Record<number, number> = {
    7: 0x07c94,
    8: 0x085bc,
    10: 0x0a4d3,
    17: 0x1145d,
    40: 0x28c69,
  };
  for (const [version, bits] of Object.entries(expected)) {
    const code = encodeQr("a".repeat(capacity(Number(version), "L")), { ecc: "L" });
    assert.equal(code.version, Number(version));
    const n = code.size;
    // Bit 17 first: the block above the top right finder is read right to
    // left, bottom to top; the block left of the bottom left finder is its transpose.
    const topRight: [number, number][] = [];
    const bottomLeft: [number, number][] = [];
    for (let i = 17; i >= 0; i--) {
      topRight.push([n - 11 + (i % 3), Math.floor(i / 3)]);
      bottomLeft.push([Math.floor(i / 3), n - 11 + (i % 3)]);
    }
    assert.equal(readBits(code, topRight), bits, `version ${version} top right`);
    assert.equal(readBits(code, bottomLeft), bits, `version ${version} bottom left`);
  }
});

Deno.test("renderQr() output decodes, for dark and for light terminals", () => {
  for (
    const url of [
      "https://microsoft.com/devicelogin",
      "http://127.0.0.1:43123/device?user_code=BCDF-GHJK",
    ]
  ) {
    for (const invert of [false, true]) {
      assert.equal(decodeDrawing(renderQr(encodeQr(url), { invert }), invert)?.data, url);
    }
  }
});

Deno.test("renderQr() draws the light modules as blocks by default, the dark ones without invert", () => {
  const code = encodeQr("x");
  const lightBlocks = renderQr(code).split("\n");
  const darkBlocks = renderQr(code, { invert: false }).split("\n");
  assert.deepEqual(renderQr(code, { invert: true }).split("\n"), lightBlocks);
  assert.equal(lightBlocks[0], "█".repeat(29)); // quiet zone rows 0 and 1
  assert.equal(darkBlocks[0], " ".repeat(29));
  // Line 2 holds module rows 0 and 1: the top left finder's edge (7 dark) over
  // its second row (dark, 5 light, dark).
  assert.equal(lightBlocks[2]!.slice(4, 11), " ▄▄▄▄▄ ");
  assert.equal(darkBlocks[2]!.slice(4, 11), "█▀▀▀▀▀█");
  // 29 module rows: the last line's lower half is below the drawing and stays blank.
  assert.equal(lightBlocks.at(-1), "▀".repeat(29));
  assert.equal(darkBlocks.at(-1), " ".repeat(29));
});

Deno.test("renderQr() line count and width follow size and quiet zone", () => {
  for (const text of ["x", "https://microsoft.com/devicelogin", sample(150)]) {
    const code = encodeQr(text);
    for (const quietZone of [undefined, 0, 1, 2, 4]) {
      const lines = renderQr(code, quietZone === undefined ? {} : { quietZone }).split("\n");
      const quiet = quietZone ?? 4;
      assert.equal(lines.length, Math.ceil((code.size + 2 * quiet) / 2));
      const width = qrWidth(code, quietZone);
      assert.equal(width, code.size + 2 * quiet);
      for (const line of lines) assert.equal([...line].length, width);
      assert.ok(lines.every((line) => /^[▀▄█ ]+$/.test(line)));
    }
  }
});

Deno.test("renderQr() and qrWidth() reject a bad quiet zone", () => {
  const code = encodeQr("x");
  for (const quietZone of [-1, 1.5, NaN, Infinity]) {
    assert.throws(() => renderQr(code, { quietZone }), RangeError);
    assert.throws(() => qrWidth(code, quietZone), RangeError);
  }
});
