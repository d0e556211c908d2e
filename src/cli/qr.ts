/**
 * QR codes (ISO/IEC 18004) for showing a verification URI in a terminal, so
 * that a phone can open it: an encoder for byte-mode text at any version and
 * error correction level, and a renderer that draws the code with Unicode
 * half blocks. No dependencies, so the CLI still runs straight from a URL.
 *
 * This module is longer than 400 lines because a QR encoder is one algorithm:
 * the Reed-Solomon code, the placement, the masks and the format bits share
 * their tables.
 *
 * @module
 */

/** An error correction level: recovers about 7 %, 15 %, 25 % or 30 % of the codewords. */
export type QrEcc = "L" | "M" | "Q" | "H";

/** A QR code as a square matrix of modules (true = dark). */
export interface QrCode {
  /** Modules per side, without the quiet zone: `4 * version + 17`. */
  readonly size: number;
  /** The symbol version, 1 to 40. */
  readonly version: number;
  /**
   * Whether a module is dark.
   *
   * @param x The column, 0 at the left.
   * @param y The row, 0 at the top.
   * @returns `true` for a dark module; `false` for a light one, and for any
   * position outside the symbol (the quiet zone is light).
   */
  get(x: number, y: number): boolean;
}

/** Options for {@linkcode encodeQr}. */
export interface EncodeQrOptions {
  /** The error correction level. Defaults to `"M"`. */
  ecc?: QrEcc;
}

/** Options for {@linkcode renderQr}. */
export interface RenderQrOptions {
  /**
   * Draw the light modules (and the quiet zone) as block characters, the
   * inverse of ink on paper, so that on a terminal with light text on a dark
   * background the dark modules show dark. Defaults to `true`, as such
   * terminals are the common case; pass `false` for dark text on a light
   * background, where the blocks then mark the dark modules.
   */
  invert?: boolean;
  /** Light modules around the symbol on every side. Defaults to 4, as the standard asks. */
  quietZone?: number;
}

/**
 * Encodes text as a QR code: UTF-8 bytes in byte mode, in the smallest
 * version (1 to 40) that holds them at the chosen error correction level,
 * with the data mask that scores lowest on the standard's penalty rules.
 *
 * No ECI header is written: common readers recognise UTF-8 in byte-mode data
 * by themselves, and some older ones mishandle an ECI header.
 *
 * @param text The text to encode, usually a URL.
 * @param options The error correction level (default `"M"`).
 * @returns The QR code.
 * @throws {RangeError} When the text is too long for a version 40 symbol at
 * that level (2,953 bytes at `"L"`, 2,331 at `"M"`, 1,663 at `"Q"`, 1,273 at `"H"`).
 * @throws {TypeError} When `ecc` is not one of the four levels.
 * @see {@link https://www.rfc-editor.org/rfc/rfc8628#section-3.3.1 | RFC 8628 section 3.3.1}
 *
 * @example Show a verification URI to scan
 * ```ts
 * import { encodeQr, qrWidth, renderQr } from "./qr.ts";
 *
 * const code = encodeQr("https://example.com/device?user_code=WDJB-MJHT");
 * console.assert(code.version === 4 && code.size === 33);
 * const drawing = renderQr(code);
 * console.assert(drawing.split("\n")[0]!.length === qrWidth(code));
 * ```
 */
export function encodeQr(text: string, options: EncodeQrOptions = {}): QrCode {
  const ecc = options.ecc ?? "M";
  if (!Object.hasOwn(EC_BLOCKS, ecc)) {
    throw new TypeError(`Cannot encode QR code: ecc must be "L", "M", "Q" or "H", got ${ecc}`);
  }
  const bytes = new TextEncoder().encode(text);
  const version = _smallestVersion(bytes.length, ecc);
  const matrix = new Matrix(version);
  matrix.placeData(_codewords(bytes, version, ecc));

  let bestMask = 0;
  let bestPenalty = Infinity;
  for (let mask = 0; mask < 8; mask++) {
    matrix.applyMask(mask);
    matrix.drawFormat(_formatBits(ecc, mask));
    const penalty = matrix.penalty();
    if (penalty < bestPenalty) {
      bestMask = mask;
      bestPenalty = penalty;
    }
    matrix.applyMask(mask); // XOR again to undo
  }
  matrix.applyMask(bestMask);
  matrix.drawFormat(_formatBits(ecc, bestMask));
  return matrix.toQrCode();
}

/**
 * Draws a QR code for a terminal with Unicode half blocks: each text line
 * holds two module rows (`▀` top, `▄` bottom, `█` both, space neither), so
 * modules come out about square in most fonts.
 *
 * By default (`invert: true`) the light modules and the quiet zone are drawn
 * as blocks and the dark modules are left as the terminal's background, which
 * is right for light text on a dark background; `invert: false` draws the dark
 * modules instead, for dark text on a light background. Scanners need dark
 * modules on a lighter surround, so pick the mode that matches the terminal.
 * Lines are not colourised and keep their trailing spaces.
 *
 * @param code The QR code.
 * @param options Which modules to draw, and the quiet zone width (default 4).
 * @returns The lines, joined with `"\n"` and without a final newline:
 * `ceil((size + 2 * quietZone) / 2)` lines of {@linkcode qrWidth} columns each.
 * @throws {RangeError} When `quietZone` is not a non-negative integer.
 */
export function renderQr(code: QrCode, options: RenderQrOptions = {}): string {
  const quiet = _checkQuietZone(options.quietZone ?? 4);
  const invert = options.invert ?? true;
  const total = code.size + 2 * quiet;
  const inked = (x: number, y: number): boolean => {
    if (y >= total) return false; // below the drawing on an odd last line: terminal background
    const mx = x - quiet;
    const my = y - quiet;
    const inside = mx >= 0 && my >= 0 && mx < code.size && my < code.size;
    const dark = inside && code.get(mx, my);
    return dark !== invert;
  };
  const lines: string[] = [];
  for (let y = 0; y < total; y += 2) {
    let line = "";
    for (let x = 0; x < total; x++) {
      const top = inked(x, y);
      const bottom = inked(x, y + 1);
      line += top ? (bottom ? "█" : "▀") : (bottom ? "▄" : " ");
    }
    lines.push(line);
  }
  return lines.join("\n");
}

/**
 * How many terminal columns the output of {@linkcode renderQr} needs: one per
 * module, quiet zone included. (The half blocks are one column wide, except in
 * terminals set to draw East Asian ambiguous-width characters double.)
 *
 * @param code The QR code.
 * @param quietZone The quiet zone passed to {@linkcode renderQr} (default 4).
 * @returns `size + 2 * quietZone`.
 * @throws {RangeError} When `quietZone` is not a non-negative integer.
 */
export function qrWidth(code: QrCode, quietZone = 4): number {
  return code.size + 2 * _checkQuietZone(quietZone);
}

function _checkQuietZone(quietZone: number): number {
  if (!Number.isSafeInteger(quietZone) || quietZone < 0) {
    throw new RangeError(
      `Cannot render QR code: quietZone must be a non-negative integer, got ${quietZone}`,
    );
  }
  return quietZone;
}

// Tables from ISO/IEC 18004:2015, indexed by version - 1.

/** Error correction codewords in each block (Table 9). */
const EC_PER_BLOCK: Readonly<Record<QrEcc, readonly number[]>> = {
  L: _numbers(`
    7 10 15 20 26 18 20 24 30 18 20 24 26 30 22 24 28 30 28 28
    28 28 30 30 26 28 30 30 30 30 30 30 30 30 30 30 30 30 30 30
  `),
  M: _numbers(`
    10 16 26 18 24 16 18 22 22 26 30 22 22 24 24 28 28 26 26 26
    26 28 28 28 28 28 28 28 28 28 28 28 28 28 28 28 28 28 28 28
  `),
  Q: _numbers(`
    13 22 18 26 18 24 18 22 20 24 28 26 24 20 30 24 28 28 26 30
    28 30 30 30 30 28 30 30 30 30 30 30 30 30 30 30 30 30 30 30
  `),
  H: _numbers(`
    17 28 22 16 22 28 26 26 24 28 24 28 22 24 24 30 28 28 26 28
    30 24 30 30 30 30 30 30 30 30 30 30 30 30 30 30 30 30 30 30
  `),
};

/** Number of error correction blocks (Table 9). */
const EC_BLOCKS: Readonly<Record<QrEcc, readonly number[]>> = {
  L: _numbers(`
    1 1 1 1 1 2 2 2 2 4 4 4 4 4 6 6 6 6 7 8
    8 9 9 10 12 12 12 13 14 15 16 17 18 19 19 20 21 22 24 25
  `),
  M: _numbers(`
    1 1 1 2 2 4 4 4 5 5 5 8 9 9 10 10 11 13 14 16
    17 17 18 20 21 23 25 26 28 29 31 33 35 37 38 40 43 45 47 49
  `),
  Q: _numbers(`
    1 1 2 2 4 4 6 6 8 8 8 10 12 16 12 17 16 18 21 20
    23 23 25 27 29 34 34 35 38 40 43 45 48 51 53 56 59 62 65 68
  `),
  H: _numbers(`
    1 1 2 4 4 4 5 6 8 8 11 11 16 16 18 16 19 21 25 25
    25 34 30 32 35 37 40 42 45 48 51 54 57 60 63 66 70 74 77 81
  `),
};

/** Row and column centres of the alignment patterns (Annex E); version 1 has none. */
const ALIGNMENT_CENTRES: readonly (readonly number[])[] = [
  [],
  [6, 18],
  [6, 22],
  [6, 26],
  [6, 30],
  [6, 34],
  [6, 22, 38],
  [6, 24, 42],
  [6, 26, 46],
  [6, 28, 50],
  [6, 30, 54],
  [6, 32, 58],
  [6, 34, 62],
  [6, 26, 46, 66],
  [6, 26, 48, 70],
  [6, 26, 50, 74],
  [6, 30, 54, 78],
  [6, 30, 56, 82],
  [6, 30, 58, 86],
  [6, 34, 62, 90],
  [6, 28, 50, 72, 94],
  [6, 26, 50, 74, 98],
  [6, 30, 54, 78, 102],
  [6, 28, 54, 80, 106],
  [6, 32, 58, 84, 110],
  [6, 30, 58, 86, 114],
  [6, 34, 62, 90, 118],
  [6, 26, 50, 74, 98, 122],
  [6, 30, 54, 78, 102, 126],
  [6, 26, 52, 78, 104, 130],
  [6, 30, 56, 82, 108, 134],
  [6, 34, 60, 86, 112, 138],
  [6, 30, 58, 86, 114, 142],
  [6, 34, 62, 90, 118, 146],
  [6, 30, 54, 78, 102, 126, 150],
  [6, 24, 50, 76, 102, 128, 154],
  [6, 28, 54, 80, 106, 132, 158],
  [6, 32, 58, 84, 110, 136, 162],
  [6, 26, 54, 82, 110, 138, 166],
  [6, 30, 58, 86, 114, 142, 170],
];

/** The two error correction level bits of the format information (Table 12). */
const FORMAT_LEVEL: Readonly<Record<QrEcc, number>> = { L: 0b01, M: 0b00, Q: 0b11, H: 0b10 };

function _numbers(list: string): readonly number[] {
  return list.trim().split(/\s+/).map(Number);
}

function _table(table: readonly number[], version: number): number {
  const value = table[version - 1];
  if (value === undefined) throw new RangeError(`No QR code version ${version}`);
  return value;
}

/** All codewords a version holds: its modules outside the function patterns, over 8. */
const totalCodewordsCache: number[] = [];
function _totalCodewords(version: number): number {
  return totalCodewordsCache[version] ??= Math.floor(new Matrix(version).dataModules() / 8);
}

function _dataCodewords(version: number, ecc: QrEcc): number {
  return _totalCodewords(version) -
    _table(EC_BLOCKS[ecc], version) * _table(EC_PER_BLOCK[ecc], version);
}

/** Bits of the byte-mode character count indicator (Table 3). */
function _countBits(version: number): number {
  return version <= 9 ? 8 : 16;
}

function _smallestVersion(byteLength: number, ecc: QrEcc): number {
  for (let version = 1; version <= 40; version++) {
    const needed = 4 + _countBits(version) + 8 * byteLength;
    if (needed <= 8 * _dataCodewords(version, ecc)) return version;
  }
  const capacity = Math.floor((8 * _dataCodewords(40, ecc) - 4 - _countBits(40)) / 8);
  throw new RangeError(
    `Cannot encode text as a QR code: ${byteLength} bytes exceed the ${capacity} bytes ` +
      `of version 40 at level ${ecc}`,
  );
}

/** The final codeword sequence: data and error correction codewords, interleaved by block. */
function _codewords(bytes: Uint8Array, version: number, ecc: QrEcc): Uint8Array {
  const dataLength = _dataCodewords(version, ecc);
  const data = new Uint8Array(dataLength);
  let bitLength = 0;
  const put = (value: number, width: number) => {
    for (let i = width - 1; i >= 0; i--, bitLength++) {
      if ((value >>> i) & 1) data[bitLength >>> 3]! |= 0x80 >>> (bitLength & 7);
    }
  };
  put(0b0100, 4); // byte mode
  put(bytes.length, _countBits(version));
  for (const byte of bytes) put(byte, 8);
  // The terminator (up to four 0 bits) and the padding to a whole byte are
  // already zero; then alternate the two pad codewords.
  let pad = 0xec;
  for (let i = Math.ceil((bitLength + 4) / 8); i < dataLength; i++, pad ^= 0xec ^ 0x11) {
    data[i] = pad;
  }

  const blockCount = _table(EC_BLOCKS[ecc], version);
  const ecLength = _table(EC_PER_BLOCK[ecc], version);
  const generator = _rsGenerator(ecLength);
  // The last (dataLength % blockCount) blocks hold one data codeword more than the others.
  const shortData = Math.floor(dataLength / blockCount);
  const longBlocks = dataLength % blockCount;
  const dataBlocks: Uint8Array[] = [];
  const ecBlocks: Uint8Array[] = [];
  for (let b = 0, offset = 0; b < blockCount; b++) {
    const length = shortData + (b >= blockCount - longBlocks ? 1 : 0);
    const block = data.subarray(offset, offset + length);
    offset += length;
    dataBlocks.push(block);
    ecBlocks.push(_rsRemainder(block, generator));
  }

  const result = new Uint8Array(_totalCodewords(version));
  let n = 0;
  for (let i = 0; i <= shortData; i++) {
    for (const block of dataBlocks) if (i < block.length) result[n++] = block[i]!;
  }
  for (let i = 0; i < ecLength; i++) {
    for (const block of ecBlocks) result[n++] = block[i]!;
  }
  return result;
}

// Reed-Solomon over GF(2^8) with the field polynomial x^8 + x^4 + x^3 + x^2 + 1.

const GF_EXP = new Uint8Array(255);
const GF_LOG = new Uint8Array(256);
for (let i = 0, value = 1; i < 255; i++) {
  GF_EXP[i] = value;
  GF_LOG[value] = i;
  value <<= 1;
  if (value & 0x100) value ^= 0x11d;
}

function _gfMul(a: number, b: number): number {
  return a === 0 || b === 0 ? 0 : GF_EXP[(GF_LOG[a]! + GF_LOG[b]!) % 255]!;
}

/**
 * The generator polynomial (x - a^0)(x - a^1)...(x - a^(degree-1)), as its
 * coefficients from x^(degree-1) down to x^0 (the leading 1 left out).
 */
function _rsGenerator(degree: number): Uint8Array {
  let poly = Uint8Array.of(1); // highest power first
  for (let i = 0; i < degree; i++) {
    const next = new Uint8Array(poly.length + 1);
    for (let k = 0; k < poly.length; k++) {
      next[k]! ^= poly[k]!;
      next[k + 1]! ^= _gfMul(poly[k]!, GF_EXP[i]!);
    }
    poly = next;
  }
  return poly.subarray(1);
}

/** The remainder of data(x) * x^degree divided by the generator: the EC codewords. */
function _rsRemainder(data: Uint8Array, generator: Uint8Array): Uint8Array {
  const remainder = new Uint8Array(generator.length);
  for (const byte of data) {
    const factor = byte ^ remainder[0]!;
    remainder.copyWithin(0, 1);
    remainder[remainder.length - 1] = 0;
    for (let k = 0; k < generator.length; k++) remainder[k]! ^= _gfMul(generator[k]!, factor);
  }
  return remainder;
}

/** Appends the BCH check bits: the remainder of value * x^checkBits modulo the generator. */
function _bch(value: number, checkBits: number, generator: number): number {
  let remainder = value << checkBits;
  for (let bit = 31 - Math.clz32(remainder); bit >= checkBits; bit--) {
    if ((remainder >>> bit) & 1) remainder ^= generator << (bit - checkBits);
  }
  return (value << checkBits) | remainder;
}

/** The 15 format information bits: level and mask, BCH(15,5), XOR 101010000010010. */
function _formatBits(ecc: QrEcc, mask: number): number {
  return _bch((FORMAT_LEVEL[ecc] << 3) | mask, 10, 0b10100110111) ^ 0b101010000010010;
}

/** The 18 version information bits: the version, BCH(18,6). */
function _versionBits(version: number): number {
  return _bch(version, 12, 0b1111100100101);
}

/** The data mask conditions (Table 10), with i the row and j the column. */
const MASKS: readonly ((i: number, j: number) => boolean)[] = [
  (i, j) => (i + j) % 2 === 0,
  (i) => i % 2 === 0,
  (_, j) => j % 3 === 0,
  (i, j) => (i + j) % 3 === 0,
  (i, j) => (Math.floor(i / 2) + Math.floor(j / 3)) % 2 === 0,
  (i, j) => ((i * j) % 2) + ((i * j) % 3) === 0,
  (i, j) => (((i * j) % 2) + ((i * j) % 3)) % 2 === 0,
  (i, j) => (((i + j) % 2) + ((i * j) % 3)) % 2 === 0,
];

/** A symbol under construction: module colours, and which modules are function patterns. */
class Matrix {
  readonly size: number;
  readonly #dark: Uint8Array;
  readonly #fixed: Uint8Array;

  constructor(readonly version: number) {
    this.size = 4 * version + 17;
    this.#dark = new Uint8Array(this.size * this.size);
    this.#fixed = new Uint8Array(this.size * this.size);
    this.#drawFunctionPatterns();
  }

  #set(x: number, y: number, dark: boolean): void {
    this.#dark[y * this.size + x] = dark ? 1 : 0;
    this.#fixed[y * this.size + x] = 1;
  }

  #drawFunctionPatterns(): void {
    const size = this.size;
    for (let i = 0; i < size; i++) {
      this.#set(6, i, i % 2 === 0);
      this.#set(i, 6, i % 2 === 0);
    }
    // Finder patterns with their light separators: rings at Chebyshev distance
    // 0-1 dark, 2 light, 3 dark, 4 light.
    for (const [cx, cy] of [[3, 3], [size - 4, 3], [3, size - 4]] as const) {
      for (let dy = -4; dy <= 4; dy++) {
        for (let dx = -4; dx <= 4; dx++) {
          const x = cx + dx;
          const y = cy + dy;
          const ring = Math.max(Math.abs(dx), Math.abs(dy));
          if (x >= 0 && y >= 0 && x < size && y < size) this.#set(x, y, ring !== 2 && ring !== 4);
        }
      }
    }
    const centres = ALIGNMENT_CENTRES[this.version - 1] ?? [];
    const last = centres.length - 1;
    centres.forEach((cy, row) => {
      centres.forEach((cx, column) => {
        const onFinder = (row === 0 && (column === 0 || column === last)) ||
          (row === last && column === 0);
        if (onFinder) return;
        for (let dy = -2; dy <= 2; dy++) {
          for (let dx = -2; dx <= 2; dx++) {
            this.#set(cx + dx, cy + dy, Math.max(Math.abs(dx), Math.abs(dy)) !== 1);
          }
        }
      });
    });
    this.drawFormat(0); // reserve the area; the real bits come once the mask is chosen
    if (this.version >= 7) {
      const bits = _versionBits(this.version);
      for (let i = 0; i < 18; i++) {
        const dark = ((bits >>> i) & 1) === 1;
        const a = size - 11 + (i % 3);
        const b = Math.floor(i / 3);
        this.#set(a, b, dark); // above the top right finder
        this.#set(b, a, dark); // left of the bottom left finder
      }
    }
  }

  /** Draws both copies of the format information, bit 14 (most significant) first in reading order. */
  drawFormat(bits: number): void {
    const size = this.size;
    const bit = (i: number) => ((bits >>> i) & 1) === 1;
    // Around the top left finder: bits 0-7 up column 8 (skipping the timing
    // row), bits 8-14 along row 8 leftwards (skipping the timing column).
    for (let i = 0; i <= 5; i++) this.#set(8, i, bit(i));
    this.#set(8, 7, bit(6));
    this.#set(8, 8, bit(7));
    this.#set(7, 8, bit(8));
    for (let i = 9; i < 15; i++) this.#set(14 - i, 8, bit(i));
    // Bits 0-7 along row 8 under the top right finder, leftwards; bits 8-14
    // down column 8 beside the bottom left finder.
    for (let i = 0; i < 8; i++) this.#set(size - 1 - i, 8, bit(i));
    for (let i = 8; i < 15; i++) this.#set(8, size - 15 + i, bit(i));
    this.#set(8, size - 8, true); // the dark module
  }

  dataModules(): number {
    return this.#fixed.reduce((count, fixed) => count + 1 - fixed, 0);
  }

  /**
   * Places the codewords, most significant bit first, in two-module-wide
   * columns from the right, zigzagging up and down and skipping the vertical
   * timing pattern. Leftover remainder bits stay light.
   */
  placeData(codewords: Uint8Array): void {
    const size = this.size;
    let n = 0;
    let upward = true;
    for (let right = size - 1; right > 0; right -= 2) {
      if (right === 6) right = 5;
      for (let step = 0; step < size; step++) {
        const y = upward ? size - 1 - step : step;
        for (let x = right; x >= right - 1; x--) {
          const index = y * size + x;
          if (this.#fixed[index] || n >= codewords.length * 8) continue;
          this.#dark[index] = (codewords[n >>> 3]! >>> (7 - (n & 7))) & 1;
          n++;
        }
      }
      upward = !upward;
    }
  }

  /** Flips the data modules the mask selects; applying it twice undoes it. */
  applyMask(mask: number): void {
    const condition = MASKS[mask]!;
    for (let y = 0; y < this.size; y++) {
      for (let x = 0; x < this.size; x++) {
        const index = y * this.size + x;
        if (!this.#fixed[index] && condition(y, x)) this.#dark[index]! ^= 1;
      }
    }
  }

  /**
   * The penalty score of section 7.8.3: runs of five or more, 2x2 blocks of
   * one colour, finder-like 1:1:3:1:1 patterns with four light modules on one
   * side (the quiet zone counts as light), and imbalance of dark and light.
   */
  penalty(): number {
    const size = this.size;
    const dark = this.#dark;
    let score = 0;
    // Each row and column with four light modules of quiet zone on both ends.
    const line = new Uint8Array(size + 8);
    for (let horizontal = 0; horizontal < 2; horizontal++) {
      for (let a = 0; a < size; a++) {
        for (let b = 0; b < size; b++) {
          line[b + 4] = horizontal ? dark[a * size + b]! : dark[b * size + a]!;
        }
        score += _runPenalty(line.subarray(4, size + 4)) + _finderPenalty(line);
      }
    }
    for (let y = 0; y + 1 < size; y++) {
      for (let x = 0; x + 1 < size; x++) {
        const i = y * size + x;
        const colour = dark[i];
        if (dark[i + 1] === colour && dark[i + size] === colour && dark[i + size + 1] === colour) {
          score += 3;
        }
      }
    }
    const darkCount = dark.reduce((count, module) => count + module, 0);
    const total = size * size;
    score += 10 * Math.floor(Math.abs(darkCount * 20 - total * 10) / total);
    return score;
  }

  toQrCode(): QrCode {
    const { size, version } = this;
    const modules = this.#dark.slice();
    return {
      size,
      version,
      get(x: number, y: number): boolean {
        if (!Number.isInteger(x) || !Number.isInteger(y)) return false;
        if (x < 0 || y < 0 || x >= size || y >= size) return false;
        return modules[y * size + x] === 1;
      },
    };
  }
}

/** 3 for each run of five same-coloured modules, plus 1 for each module more. */
function _runPenalty(line: Uint8Array): number {
  let score = 0;
  let run = 0;
  for (let i = 0; i < line.length; i++) {
    run = i > 0 && line[i] === line[i - 1] ? run + 1 : 1;
    if (run === 5) score += 3;
    else if (run > 5) score += 1;
  }
  return score;
}

/**
 * 40 for each dark:light:dark:light:dark = 1:1:3:1:1 pattern with four light
 * modules before or after it (counted once even when both). The line carries
 * four light modules of quiet zone at each end, so the indexes stay in range.
 */
function _finderPenalty(line: Uint8Array): number {
  let score = 0;
  for (let i = 4; i + 11 <= line.length; i++) {
    const core = line[i] && !line[i + 1] && line[i + 2] && line[i + 3] && line[i + 4] &&
      !line[i + 5] && line[i + 6];
    if (core && (_allLight(line, i - 4, i) || _allLight(line, i + 7, i + 11))) score += 40;
  }
  return score;
}

function _allLight(line: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (line[i]) return false;
  return true;
}
