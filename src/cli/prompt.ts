/**
 * What a person sees on stderr while signing in: the prompt, a countdown on
 * terminals, and one line per notable event when stderr is a log.
 *
 * @module
 */

import type { DeviceCode, PollEvent } from "../types.ts";

/** Where the prompt goes and how it may look. */
export interface PromptOutput {
  readonly write: (text: string) => void;
  /** stderr is a terminal: a live countdown is drawn, and colours may be used. */
  readonly terminal: boolean;
  readonly color: boolean;
  readonly verbose: boolean;
  readonly now: () => number;
}

const bold = (out: PromptOutput, text: string) => out.color ? `\x1b[1m${text}\x1b[22m` : text;

/**
 * Writes the sign-in prompt: the server's message, then the address and code
 * on lines of their own, so that they can be copied.
 *
 * @param out Where to write.
 * @param code The device code.
 */
export function showPrompt(out: PromptOutput, code: DeviceCode): void {
  const lines = [
    "",
    code.message,
    "",
    `  Address: ${code.verificationUri}`,
    `  Code:    ${bold(out, code.userCode)}`,
  ];
  if (code.verificationUriComplete) {
    lines.push(`  Or open: ${code.verificationUriComplete}  (the code is filled in)`);
  }
  lines.push("");
  out.write(lines.join("\n") + "\n");
}

/** Formats seconds as m:ss. */
export function clockTime(totalSeconds: number): string {
  const s = Math.max(0, Math.ceil(totalSeconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/**
 * Shows that the tool is waiting: a countdown line redrawn every second on a
 * terminal, a single line otherwise (logs stay readable).
 *
 * @param out Where to write.
 * @param code The device code, for its expiry.
 * @returns `report` for poll events, and `stop` to clear the countdown.
 */
export function startWaiting(out: PromptOutput, code: DeviceCode): {
  report: (event: PollEvent) => void;
  stop: () => void;
} {
  const expiresAt = code.expiresAt.getTime();
  let note = "";
  const draw = () => {
    const left = clockTime((expiresAt - out.now()) / 1000);
    out.write(`\r\x1b[2KWaiting for the sign-in in the browser: ${left} left${note}`);
  };
  let timer: ReturnType<typeof setInterval> | undefined;
  if (out.terminal) {
    draw();
    timer = setInterval(draw, 1000);
  } else {
    out.write(
      `Waiting for the sign-in (the code expires in ${
        clockTime((expiresAt - out.now()) / 1000)
      } min)...\n`,
    );
  }
  const line = (text: string) => {
    if (out.terminal) {
      note = ` (${text})`;
      draw();
    } else {
      out.write(`${text}\n`);
    }
  };
  return {
    report(event) {
      if (event.type === "slow_down") {
        line(`server asked to slow down: polling every ${event.interval} s`);
      } else if (event.type === "retry") {
        line(`${event.reason}; retrying in ${Math.round(event.delay)} s`);
      } else if (out.verbose) line(`pending, next poll in ${event.interval} s`);
    },
    stop() {
      if (timer !== undefined) clearInterval(timer);
      if (out.terminal) out.write("\r\x1b[2K");
    },
  };
}
