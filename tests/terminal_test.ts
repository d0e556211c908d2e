/**
 * The sign-in in a real terminal (issue 10, item 6), through tmux: the
 * address and the code are the last lines before the countdown, the QR code
 * is drawn only where it fits, no line is wider than the terminal, and each
 * redraw of the countdown replaces its line, retry notes included.
 */

import assert from "node:assert/strict";
import { json, startFakeServer } from "./support/fake_server.ts";
import { runMain, tempCache } from "./support/cli_harness.ts";
import { HOSTILE_CLIENT, hostileArgs, idToken, serveHostile } from "./support/hostile_server.ts";
import { countdownLine } from "../src/cli/prompt.ts";
import { displayWidth, wrap } from "../src/cli/format.ts";

const CLI = new URL("../cli.ts", import.meta.url).pathname;

/**
 * The tmux server of the test that runs: each test has its own (-L), so that
 * one test's server shutting down never meets the next test's first session.
 */
let socket = "deviceflow-test";

async function tmux(...args: string[]): Promise<string> {
  const output = await new Deno.Command("tmux", {
    args: ["-L", socket, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(`tmux ${args[0]}: ${new TextDecoder().decode(output.stderr)}`);
  }
  return new TextDecoder().decode(output.stdout);
}

/** Starts the CLI in a new tmux session of the given size (it stays open 30 s after). */
async function cliInTmux(session: string, columns: number, rows: number, args: string[]) {
  const command = [Deno.execPath(), "run", "-A", "--unstable-kv", CLI, ...args]
    .map((word) => `'${word}'`).join(" ");
  await tmux(
    "new-session",
    "-d",
    "-s",
    session,
    "-x",
    String(columns),
    "-y",
    String(rows),
    `${command}; sleep 30`,
  );
}

/** The screen of a tmux session, once `ready` matches it. */
async function screenWhen(session: string, ready: RegExp, timeoutMs = 15_000): Promise<string> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const screen = await tmux("capture-pane", "-p", "-t", session);
    if (ready.test(screen)) return screen;
    if (Date.now() > until) throw new Error(`the screen never matched ${ready}:\n${screen}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

interface Layout {
  columns: number;
  rows: number;
  qr: boolean;
  /** `--lang`: the server then sends no message, so that the composed one shows. */
  lang?: string;
}

async function signInOnScreen(
  { columns, rows, lang }: Layout,
  token: Parameters<typeof json>[1] | "503",
  check: (screen: string, lines: string[]) => Promise<void> | void,
): Promise<void> {
  const server = await startFakeServer();
  const cache = await tempCache();
  const session = `deviceflow-${crypto.randomUUID().slice(0, 8)}`;
  socket = session;
  try {
    serveHostile(server, {
      device: {
        message: lang === undefined
          ? "To sign in, use a web browser to open the page shown below and enter the code to authenticate this command-line tool on another device."
          : undefined,
        verification_uri_complete: `${server.url}/verify?user_code=HOST-ILE1`,
        interval: 1,
      },
      token: token === "503" ? { status: 503, body: "down" } : json(400, token),
    });
    await cliInTmux(session, columns, rows, [
      "login",
      ...hostileArgs(server, cache.path),
      ...(lang ? ["--lang", lang] : []),
    ]);
    const screen = await screenWhen(
      session,
      lang ? /\d+:\d\d/ : /Waiting for the sign-in(?: in the browser)?: \d+:\d\d left/,
    );
    const lines = screen.split("\n");
    for (const line of lines) {
      assert.ok(
        displayWidth(line.trimEnd()) <= columns,
        `wider than ${columns}: ${JSON.stringify(line)}`,
      );
    }
    await check(screen, lines);
  } finally {
    await tmux("kill-server").catch(() => {});
    await server.close();
    await cache.cleanup();
  }
}

/** The non-blank lines that end the screen. */
function lastLines(lines: string[], n: number): string[] {
  return lines.map((l) => l.trimEnd()).filter(Boolean).slice(-n);
}

for (
  const layout of [{ columns: 60, rows: 20, qr: false }, { columns: 100, rows: 30, qr: false }, {
    columns: 100,
    rows: 60,
    qr: true,
  }]
) {
  Deno.test({
    name:
      `at ${layout.columns}x${layout.rows} the address and the code are the last lines before the countdown${
        layout.qr ? ", below the QR code" : " (no QR code: it would push them off screen)"
      }`,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: () =>
      signInOnScreen(layout, { error: "authorization_pending" }, async (screen, lines) => {
        const [address, code, open, countdown] = lastLines(lines, 4);
        assert.match(address!, /^ {2}Address: http:\/\/127\.0\.0\.1:\d+\/verify$/);
        assert.match(code!, /^ {2}Code: {4}HOST-ILE1$/);
        assert.match(open!, /^ {2}Or open: /);
        assert.match(countdown!, /^Waiting for the sign-in in the browser: \d+:\d\d left$/);
        assert.equal(/Or scan this code with a phone/.test(screen), layout.qr, screen);
        // The message is wrapped at word boundaries, not cut.
        assert.ok(screen.includes("command-line tool"), screen);
        // A second later the countdown has been redrawn in place, not stacked.
        await new Promise((resolve) => setTimeout(resolve, 1500));
        const later = await tmux(
          "capture-pane",
          "-p",
          "-t",
          (await tmux("list-sessions", "-F", "#{session_name}")).split("\n").find((s) =>
            s.startsWith("deviceflow-")
          )!,
        );
        assert.equal(
          later.split("\n").filter((l) => l.startsWith("Waiting for the sign-in")).length,
          1,
          later,
        );
      }),
  });
}

Deno.test({
  name: "at 60 columns a retry note is shortened so that the countdown stays one line",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    signInOnScreen({ columns: 60, rows: 20, qr: false }, "503", async () => {
      const session = (await tmux("list-sessions", "-F", "#{session_name}")).split("\n").find((s) =>
        s.startsWith("deviceflow-")
      )!;
      const screen = await screenWhen(
        session,
        /Waiting for the sign-in: \d+:\d\d left \(/,
      );
      const countdown = screen.split("\n").filter((l) => l.startsWith("Waiting for the sign-in"));
      assert.equal(countdown.length, 1, screen);
      assert.ok(displayWidth(countdown[0]!.trimEnd()) < 60, countdown[0]);
      assert.match(countdown[0]!, /^Waiting for the sign-in: \d+:\d\d left \(HTTP 503.*…\)\s*$/);
    }),
});

Deno.test("countdownLine() and wrap() keep to the width, wide characters counted as two", () => {
  assert.equal(countdownLine("9:59", "", 100), "Waiting for the sign-in in the browser: 9:59 left");
  const noted = countdownLine("9:59", "HTTP 503 temporarily_unavailable; retrying in 20 s", 60);
  assert.ok(displayWidth(noted) < 60, noted);
  assert.match(noted, /^Waiting for the sign-in: 9:59 left \(HTTP 503 temporarily_…\)$/);
  assert.ok(displayWidth(countdownLine("9:59", "x", 30)) < 30);
  const japanese =
    "ブラウザーで https://microsoft.com/devicelogin を開き、コード ABCD-EFGH を入力してサインインしてください。";
  for (const line of wrap(japanese, 30).split("\n")) {
    // A word wider than the line (the address) has a line of its own.
    if (!line.includes("https://")) assert.ok(displayWidth(line) <= 30, line);
  }
  assert.ok(
    wrap(japanese, 30).includes("https://microsoft.com/devicelogin"),
    "an address is never broken",
  );
  assert.equal(wrap("one two three four", 9), "one two\nthree\nfour");
  assert.equal(displayWidth("サインイン"), 10);
});

Deno.test({
  name: "switch on a real terminal lists the accounts, asks, and takes the typed answer",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const server = await startFakeServer();
    const cache = await tempCache();
    const session = `deviceflow-${crypto.randomUUID().slice(0, 8)}`;
    socket = session;
    try {
      serveHostile(server);
      for (const name of ["alice", "bob"]) {
        server.route(
          "POST",
          "/token",
          json(200, {
            access_token: `at-${name}-0123456789`,
            token_type: "Bearer",
            expires_in: 3600,
            id_token: idToken(server.url, HOSTILE_CLIENT, { sub: name, preferred_username: name }),
          }),
        );
        assert.equal((await runMain(["login", ...hostileArgs(server, cache.path)])).code, 0);
      }
      await cliInTmux(session, 100, 20, ["switch", "--cache", cache.path]);
      const asked = await screenWhen(session, /Switch to which account\? \[1-2\]:/);
      const aliceAt = asked.split("\n").find((l) => / alice /.test(l))!.trim().split(".")[0]!;
      await tmux("send-keys", "-t", session, aliceAt, "Enter");
      await screenWhen(session, /^Switched to alice /m);
      assert.equal(
        (await runMain(["token", "--cache", cache.path, "--no-interactive"])).stdout,
        "at-alice-0123456789\n",
      );
    } finally {
      await tmux("kill-server").catch(() => {});
      await server.close();
      await cache.cleanup();
    }
  },
});

for (const columns of [60, 100]) {
  Deno.test({
    name:
      `in Japanese at ${columns} columns (wide characters) no line is wider than the terminal, and the address and code are verbatim`,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: () =>
      signInOnScreen(
        { columns, rows: 30, qr: false, lang: "ja_JP.UTF-8" },
        { error: "authorization_pending" },
        (screen, lines) => {
          const shown = lastLines(lines, 6);
          const address = shown.find((l) => l.startsWith("  アドレス:"));
          const code = shown.find((l) => l.startsWith("  コード:"));
          assert.match(address ?? "", /^ {2}アドレス: http:\/\/127\.0\.0\.1:\d+\/verify$/, screen);
          assert.match(code ?? "", /^ {2}コード: {3}HOST-ILE1$/, screen);
          assert.match(shown.at(-1)!, /^(ブラウザーでの)?サインインを待っています: 残り \d+:\d\d/);
          // Every line fits without the terminal breaking it: the label and the complete
          // address go on lines of their own when together they would not.
          for (const line of lines) {
            assert.ok(displayWidth(line.trimEnd()) <= columns, `${columns}: ${line}`);
          }
          // The complete address whole on one screen line, never broken by the terminal.
          assert.match(
            screen,
            /^ {2}(?:または次を開く: )?http:\/\/127\.0\.0\.1:\d+\/verify\?user_code=HOST-ILE1(?: {2}\(.*\))? *$/m,
          );
          // The composed message, in Japanese, wrapped at the width: the address in it whole.
          assert.ok(screen.includes("このデバイスでサインインするには"), screen);
          assert.match(screen, /http:\/\/127\.0\.0\.1:\d+\/verify/);
        },
      ),
  });
}
