/**
 * What a person (or a program) sees on stderr while signing in: the prompt
 * with an optional QR code, a countdown on terminals, one line per notable
 * event when stderr is a log, or one JSON object per line with
 * `--json-events`.
 *
 * @module
 */

import { type Locale, type MessageKey, say } from "../i18n/locale.ts";
import { encodeQr, qrWidth, renderQr } from "./qr.ts";
import type { Account, DeviceCode, PollEvent } from "../types.ts";
import { type CliControl, displayWidth, jsonLine, oneLine, truncate, wrap } from "./format.ts";

/** How the sign-in is shown. */
export interface SignInView {
  /** Shows the code to enter and where; with `wait` false, no countdown follows. */
  deviceCode(code: DeviceCode, wait?: boolean): void;
  /** Says which pending sign-in (from `login --no-wait`) is being waited for, without the whole prompt again. */
  resuming(code: DeviceCode): void;
  /** Reports a polling event. */
  event(event: PollEvent): void;
  /** Says that the old code expired and a new one follows. */
  renewing(attempt: number, max: number): void;
  /** Says who signed in. */
  success(account: Account): void;
  /** Clears what is drawn live (the countdown). */
  stop(): void;
}

/** Settings of the text view. */
export interface TextViewOptions {
  /** Writes text; the CLI's writer makes it terminal-safe. */
  readonly write: (text: string) => void;
  /** Writes the CLI's own terminal sequences (colours, the countdown's redraw). */
  readonly control: CliControl;
  /** stderr is a terminal: a live countdown is drawn. */
  readonly terminal: boolean;
  readonly color: boolean;
  readonly verbose: boolean;
  /** "on" always draws a QR code, "off" never, "auto" when it helps (terminal, wide enough, complete address). */
  readonly qr: "auto" | "on" | "off";
  /** The terminal's width in columns, when known. */
  readonly columns: number | undefined;
  /** The terminal's height in rows, when known. */
  readonly rows?: number | undefined;
  readonly now: () => number;
  /** The language of the text (default English). */
  readonly locale?: Locale;
}

/** Formats seconds as m:ss. */
export function clockTime(totalSeconds: number): string {
  const s = Math.max(0, Math.ceil(totalSeconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/**
 * The QR code to draw for a device code, or `undefined` when none should be.
 *
 * @param code The device code.
 * @param options The view settings.
 * @returns The drawn code.
 */
export function qrFor(
  code: DeviceCode,
  options: TextViewOptions,
  otherRows = 0,
): string | undefined {
  if (options.qr === "off") return undefined;
  // Scanning saves typing only when the address carries the code.
  const address = code.verificationUriComplete ??
    (options.qr === "on" ? code.verificationUri : undefined);
  if (!address) return undefined;
  let qr;
  try {
    qr = encodeQr(address, { ecc: "L" });
  } catch {
    return undefined;
  }
  if (options.qr === "auto") {
    // Only where it fits beside everything else, so that the address and the
    // code never scroll out of sight.
    if (!options.terminal || options.columns === undefined) return undefined;
    if (qrWidth(qr) > options.columns) return undefined;
    const qrRows = Math.ceil(qrWidth(qr) / 2);
    if (options.rows !== undefined && qrRows + otherRows > options.rows) return undefined;
  }
  // Dark terminals are the common case: light modules are drawn as blocks.
  return renderQr(qr, { invert: true });
}

/**
 * The human view: the prompt, a QR code when it helps, and a countdown on
 * terminals (one line per event otherwise, so that logs stay readable).
 *
 * @param options Where to write and how it may look.
 * @returns The view.
 */
export function textView(options: TextViewOptions): SignInView {
  const { write, control, color } = options;
  const locale = options.locale ?? "en";
  const t = (key: MessageKey, values?: Record<string, string | number>) => say(locale, key, values);
  let timer: ReturnType<typeof setInterval> | undefined;
  let expiresAt = 0;
  let note = "";
  /** Writes text, with one of the CLI's own styles where colours are on. */
  const styled = (style: "bold" | "dim", text: string) => {
    if (color) control(style);
    write(text);
    if (color) control("normal");
  };
  const draw = () => {
    const left = clockTime((expiresAt - options.now()) / 1000);
    control("clearLine");
    write(countdownLine(left, note, options.columns, locale));
  };
  const line = (text: string) => {
    if (options.terminal) {
      note = text;
      draw();
    } else {
      write(`${text}\n`);
    }
  };
  const stop = () => {
    if (timer !== undefined) clearInterval(timer);
    timer = undefined;
    if (options.terminal) control("clearLine");
  };
  return {
    deviceCode(code, wait = true) {
      expiresAt = code.expiresAt.getTime();
      // One column spare: a line that fills the width makes some terminals wrap.
      const message = options.terminal && options.columns
        ? wrap(code.message, options.columns - 1)
        : code.message;
      const promptRows = code.verificationUriComplete ? 4 : 2;
      // Blank, message, blank, the QR's label and blank, the QR, blank, the prompt, blank, countdown.
      const otherRows = 1 + message.split("\n").length + 1 + 2 + 1 + promptRows + 1 + 1;
      const qr = qrFor(code, options, otherRows);
      write(`\n${message}\n\n`);
      if (qr) write(`  ${t("scanQr")}\n\n${qr}\n\n`);
      // The address and the code come last, nearest the cursor: they stay on screen.
      // The labels padded to one width, so that the address and the code line up.
      const [address, codeLabel] = padLabels(t("address"), t("code"));
      write(`  ${address} ${code.verificationUri}${hostNote(code.verificationUri, locale)}\n`);
      write(`  ${codeLabel} `);
      styled("bold", code.userCode);
      write("\n");
      if (code.verificationUriComplete) {
        const label = `  ${t("openComplete")}`;
        const open = `${label} ${code.verificationUriComplete}`;
        const filled = `  ${t("codeFilledIn")}`;
        if (options.columns && displayWidth(open) > options.columns) {
          // The address on a line of its own: a label that pushes it past the
          // edge would have the terminal break it.
          write(`${label}\n  ${code.verificationUriComplete}\n`);
        } else {
          write(open);
          // The note only where it fits: a wrapped line would push the address up.
          if (!options.columns || displayWidth(open + filled) < options.columns) {
            styled("dim", filled);
          }
          write("\n");
        }
      }
      write("\n");
      if (!wait) return;
      if (options.terminal) {
        draw();
        timer = setInterval(draw, 1000);
      } else {
        const message = t("waiting", { time: clockTime((expiresAt - options.now()) / 1000) });
        write(`${options.columns ? wrap(message, options.columns - 1) : message}\n`);
      }
    },
    resuming(code) {
      expiresAt = code.expiresAt.getTime();
      const resuming = t("resuming", {
        code: code.userCode,
        address: code.verificationUri,
        time: clockTime((expiresAt - options.now()) / 1000),
      });
      write(`${options.columns ? wrap(resuming, options.columns - 1) : resuming}\n`);
      if (options.terminal) {
        draw();
        timer = setInterval(draw, 1000);
      }
    },
    event(event) {
      if (event.type === "slow_down") {
        line(t("slowDown", { interval: event.interval }));
      } else if (event.type === "retry") {
        line(t("retrying", { reason: oneLine(event.reason), delay: Math.round(event.delay) }));
      } else if (options.verbose) line(t("pending", { interval: event.interval }));
    },
    renewing(attempt, max) {
      stop();
      write(`${t("renewing", { attempt, max })}\n`);
    },
    success(account) {
      stop();
      write(`${t("signedIn", { username: oneLine(account.username) })}\n`);
    },
    stop,
  };
}

/**
 * The countdown, never wider than the terminal: a redraw that wraps would
 * stack a new line every second instead of replacing the old one. The note
 * (a retry, a slow-down) is shortened first, then the words.
 *
 * @param left The time left, as m:ss.
 * @param note What happened last, or "".
 * @param columns The terminal's width, when known.
 * @returns The line.
 */
export function countdownLine(
  left: string,
  note: string,
  columns: number | undefined,
  locale: Locale = "en",
): string {
  const long = say(locale, "countdown", { time: left });
  const full = note ? `${long} (${note})` : long;
  if (columns === undefined || displayWidth(full) < columns) return full;
  const short = say(locale, "countdownShort", { time: left });
  for (const base of note ? [long, short] : []) {
    const room = columns - 1 - displayWidth(base) - 3;
    if (room >= 12) return `${base} (${truncate(note, room)})`;
  }
  if (displayWidth(long) < columns) return long;
  return truncate(short, columns - 1);
}

/**
 * The host of an address in plain ASCII, when the address spells it
 * otherwise: an internationalised name that could imitate another
 * (`microsоft.com` with a Cyrillic o) is shown as the punycode it really is.
 */
function hostNote(address: string, locale: Locale): string {
  let host: string;
  try {
    host = new URL(address).host;
  } catch {
    return "";
  }
  return address.toLowerCase().includes(`//${host}`) ? "" : `  ${say(locale, "host", { host })}`;
}

/** Labels padded with spaces to one display width (wide characters count two). */
function padLabels(...labels: string[]): string[] {
  const width = Math.max(...labels.map(displayWidth));
  return labels.map((label) => label + " ".repeat(width - displayWidth(label)));
}

/**
 * The machine view: one JSON object per line, for programs that relay the
 * code (a chat bot, a CI job). The device code itself is never in it.
 *
 * @param write Where the lines go.
 * @returns The view.
 */
export function jsonView(write: (text: string) => void): SignInView {
  const emit = (event: Record<string, unknown>) => write(jsonLine(event));
  return {
    deviceCode(code) {
      emit({
        event: "device_code",
        userCode: code.userCode,
        verificationUri: code.verificationUri,
        verificationUriComplete: code.verificationUriComplete ?? null,
        expiresAt: code.expiresAt.toISOString(),
        interval: code.interval,
        message: code.message,
      });
    },
    resuming(code) {
      emit({
        event: "resuming",
        userCode: code.userCode,
        verificationUri: code.verificationUri,
        expiresAt: code.expiresAt.toISOString(),
      });
    },
    event(event) {
      if (event.type === "retry") {
        emit({ event: "retry", reason: event.reason, delay: event.delay });
      } else {
        emit({ event: event.type, interval: event.interval });
      }
    },
    renewing(attempt, max) {
      emit({ event: "renewing", attempt, max });
    },
    success(account) {
      emit({
        event: "success",
        account: {
          username: account.username,
          homeAccountId: account.homeAccountId,
          tenantId: account.tenantId ?? null,
          authority: account.authority,
          clientId: account.clientId,
        },
      });
    },
    stop() {},
  };
}
