/**
 * The sign-in in six languages (issue 12): every language has English's
 * keys and placeholders, the language is chosen as POSIX says, the prompt
 * and the outcome lines keep to the width with the code and address
 * verbatim, and the server is asked for its own text in the same language.
 */

import assert from "node:assert/strict";
import {
  chooseLocale,
  LOCALES,
  MESSAGES,
  parseLocale,
  placeholders,
  say,
} from "../src/i18n/locale.ts";
import { en } from "../src/i18n/en.ts";
import { countdownLine, textView } from "../src/cli/prompt.ts";
import { displayWidth } from "../src/cli/format.ts";
import { DeviceFlowClient } from "../mod.ts";
import { main } from "../cli.ts";

Deno.test("every language has exactly English's keys, each with English's placeholders", () => {
  const keys = Object.keys(en).sort();
  for (const locale of LOCALES) {
    const messages = MESSAGES[locale] as Record<string, string>;
    assert.deepEqual(Object.keys(messages).sort(), keys, `${locale}: keys`);
    for (const key of keys) {
      assert.deepEqual(
        placeholders(messages[key]!),
        placeholders((en as Record<string, string>)[key]!),
        `${locale}.${key}: placeholders`,
      );
      assert.ok(messages[key]!.trim(), `${locale}.${key} is empty`);
    }
  }
});

Deno.test("a language that lacked a key, or had another placeholder, would be caught", () => {
  // The check above, run on a broken copy: it must fail.
  const broken = { ...MESSAGES.de, signedIn: "Angemeldet als {name}." } as Record<string, string>;
  assert.notDeepEqual(placeholders(broken.signedIn!), placeholders(en.signedIn));
  const missing = { ...MESSAGES.fr } as Record<string, string>;
  delete missing.cancelled;
  assert.notDeepEqual(Object.keys(missing).sort(), Object.keys(en).sort());
});

Deno.test("the language: --lang, then DEVICEFLOW_LANG, LC_ALL, LC_MESSAGES, LANG", () => {
  const env = (vars: Record<string, string>) => (name: string) => vars[name];
  const all = { DEVICEFLOW_LANG: "fr", LC_ALL: "de_DE.UTF-8", LC_MESSAGES: "ja_JP", LANG: "es_ES" };
  assert.equal(chooseLocale("zh", env(all)), "zh");
  assert.equal(chooseLocale(undefined, env(all)), "fr");
  assert.equal(chooseLocale(undefined, env({ ...all, DEVICEFLOW_LANG: "" })), "de");
  assert.equal(chooseLocale(undefined, env({ LC_MESSAGES: "ja_JP", LANG: "es_ES" })), "ja");
  assert.equal(chooseLocale(undefined, env({ LANG: "es_MX.UTF-8" })), "es");
  assert.equal(chooseLocale(undefined, env({})), "en");
  // The first one set decides, even when it is C or a language we do not have.
  assert.equal(chooseLocale(undefined, env({ LC_ALL: "C", LANG: "de_DE" })), "en");
  assert.equal(chooseLocale(undefined, env({ LC_ALL: "POSIX.UTF-8", LANG: "de_DE" })), "en");
  assert.equal(chooseLocale(undefined, env({ LC_ALL: "pt_BR.UTF-8", LANG: "de_DE" })), "en");
  assert.equal(chooseLocale("klingon", env({ LANG: "de_DE" })), "en");
});

Deno.test("locale names: region, encoding and modifier suffixes; Simplified Chinese only", () => {
  const cases: [string, string | undefined][] = [
    ["de", "de"],
    ["de_AT.UTF-8", "de"],
    ["es-MX", "es"],
    ["fr_CA.ISO-8859-1@euro", "fr"],
    ["ja_JP.eucJP", "ja"],
    ["zh_CN.UTF-8", "zh"],
    ["zh-Hans", "zh"],
    ["zh_TW.UTF-8", undefined],
    ["zh-Hant", undefined],
    ["en_GB", "en"],
    ["C.UTF-8", "en"],
    ["", undefined],
    ["xx", undefined],
  ];
  for (const [name, want] of cases) assert.equal(parseLocale(name), want, name);
});

/** The prompt and outcome lines as the CLI writes them on a terminal of this width. */
function promptLines(locale: typeof LOCALES[number], columns: number): string {
  let text = "";
  const makeView = (verbose: boolean) =>
    textView({
      write: (t) => void (text += t),
      // A cleared line starts a new one here, so that each redraw is its own line.
      control: (name) => void (name === "clearLine" && (text += "\n")),
      terminal: true,
      color: false,
      verbose,
      qr: "off",
      columns,
      now: () => 0,
      locale,
    });
  const view = makeView(true);
  const address = "https://login.example.com/device";
  const code = {
    deviceCode: "dc",
    userCode: "WDJB-MJHT",
    verificationUri: address,
    verificationUriComplete: `${address}?user_code=WDJB-MJHT`,
    expiresAt: new Date(900_000),
    interval: 5,
    message: say(locale, "message", { address, code: "WDJB-MJHT" }),
    scopes: [],
  };
  // The message wrapped as the CLI wraps a terminal's.
  view.deviceCode(code);
  view.event({ type: "slow_down", interval: 10, expiresAt: new Date(900_000) });
  view.event({ type: "retry", reason: "HTTP 503", delay: 20, expiresAt: new Date(900_000) });
  view.renewing(1, 3);
  view.success({
    username: "alice@example.com",
    homeAccountId: "a",
    authority: "x",
    clientId: "c",
  });
  // The line `login --resume` writes instead of the whole prompt, on a view of its own.
  text += "\n";
  const resumed = makeView(false);
  resumed.resuming(code);
  resumed.stop();
  return text + countdownLine("14:59", say(locale, "slowDown", { interval: 10 }), columns) + "\n";
}

for (const locale of LOCALES) {
  for (const columns of [60, 100]) {
    Deno.test(`${locale} at ${columns} columns: no line wider, the code and the address verbatim`, () => {
      const text = promptLines(locale, columns);
      for (const line of text.split("\n")) {
        // Only a line that is one unbreakable address may be wider.
        if (/^\s*\S*https:\/\/\S+$/.test(line) && !line.includes(" ")) continue;
        if (line.includes("?user_code=")) continue;
        assert.ok(
          displayWidth(line) <= columns,
          `${locale}: ${displayWidth(line)} > ${columns}: ${line}`,
        );
      }
      assert.ok(text.includes("WDJB-MJHT"));
      assert.ok(text.includes("https://login.example.com/device"));
      assert.ok(text.includes(say(locale, "signedIn", { username: "alice@example.com" })));
      if (locale !== "en") assert.ok(!text.includes("Signed in as"), text);
    });
  }
}

/** A server that records the device authorization requests. */
function recordingServer(metadata: Record<string, unknown> | undefined) {
  const forms: URLSearchParams[] = [];
  const fetch: typeof globalThis.fetch = (input, init) => Promise.resolve(answer(input, init));
  const answer = (input: RequestInfo | URL, init?: RequestInit): Response => {
    const url = String(input instanceof Request ? input.url : input);
    if (url.includes("/.well-known/openid-configuration") && metadata) {
      return Response.json(metadata);
    }
    if (url.endsWith("/device") || url.endsWith("/devicecode")) {
      forms.push(new URLSearchParams(String(init?.body ?? "")));
      return Response.json({
        device_code: "dc-123",
        user_code: "WDJB-MJHT",
        verification_uri: "https://id.example.com/verify",
        expires_in: 900,
        interval: 5,
      });
    }
    return new Response("not found", { status: 404 });
  };
  return { forms, fetch: fetch as typeof globalThis.fetch };
}

Deno.test("the device authorization request asks Entra for mkt, and a server that lists the language for ui_locales", async () => {
  const entra = recordingServer(undefined);
  const tenant = "https://login.microsoftonline.com/contoso.onmicrosoft.com";
  const entraClient = new DeviceFlowClient({
    authority: tenant,
    clientId: "app",
    locale: "de_DE.UTF-8",
    fetch: entra.fetch,
    endpoints: {
      deviceAuthorization: `${tenant}/oauth2/v2.0/devicecode`,
      token: `${tenant}/oauth2/v2.0/token`,
    },
  });
  await entraClient.initiateDeviceFlow({ scopes: ["User.Read"] });
  assert.equal(entra.forms[0]?.get("mkt"), "de-DE");
  assert.equal(entra.forms[0]?.get("ui_locales"), null);

  const issuer = "https://id.example.com";
  const metadata = {
    issuer,
    token_endpoint: `${issuer}/token`,
    device_authorization_endpoint: `${issuer}/device`,
  };
  for (
    const [supported, locale, want] of [
      [["en", "ja-JP", "de"], "ja", "ja-JP"],
      [["en", "de"], "de", "de"],
      [["en", "fr"], "de", null],
      [undefined, "de", null],
    ] as const
  ) {
    const server = recordingServer(
      supported ? { ...metadata, ui_locales_supported: supported } : metadata,
    );
    const client = new DeviceFlowClient({
      authority: issuer,
      clientId: "app",
      locale,
      fetch: server.fetch,
    });
    const code = await client.initiateDeviceFlow({ scopes: ["api"] });
    assert.equal(server.forms[0]?.get("ui_locales"), want, JSON.stringify(supported));
    assert.equal(server.forms[0]?.get("mkt"), null);
    // No message from the server: the library composes one in the language.
    assert.equal(
      code.message,
      say(locale, "message", { address: code.verificationUri, code: code.userCode }),
    );
  }
  // Without a locale, neither is sent, and the message is English.
  const plain = recordingServer({ ...metadata, ui_locales_supported: ["de"] });
  const client = new DeviceFlowClient({ authority: issuer, clientId: "app", fetch: plain.fetch });
  const code = await client.initiateDeviceFlow({ scopes: ["api"] });
  assert.equal(plain.forms[0]?.get("ui_locales"), null);
  assert.match(code.message, /^To sign in on this device, open /);
});

Deno.test("the CLI's sign-in-needed line is in the user's language; --json-events keys are not", async () => {
  const run = async (args: string[], vars: Record<string, string>) => {
    let stderr = "";
    const code = await main([
      "token",
      "--cache",
      ":memory:",
      "--authority",
      "https://id.example.com",
      "--client-id",
      "app",
      ...args,
    ], {
      stdout: () => {},
      stderr: (t) => void (stderr += t),
      env: (name) => vars[name],
      stderrIsTerminal: false,
    });
    return { code, stderr };
  };
  const de = await run([], { LANG: "de_DE.UTF-8" });
  assert.equal(de.code, 3);
  assert.match(
    de.stderr,
    /^deviceflow: Eine Anmeldung ist erforderlich; führen Sie aus: deviceflow login --authority https:\/\/id\.example\.com --client-id app\n$/,
  );
  const ja = await run(["--lang", "ja"], { LANG: "de_DE.UTF-8" });
  assert.match(ja.stderr, /サインインが必要です/);
  const en = await run([], { LANG: "C.UTF-8" });
  assert.match(en.stderr, /there is no terminal to show a code on/);
  const events = await run(["--json-events", "--no-interactive"], { LANG: "zh_CN.UTF-8" });
  const event = JSON.parse(events.stderr.trim().split("\n").at(-1)!);
  assert.deepEqual(Object.keys(event).sort(), ["code", "event", "exitCode", "message"]);
  assert.equal(event.event, "error");
  assert.equal(event.code, "interaction_required");
  assert.match(event.message, /需要登录/);
});

Deno.test("login --no-wait says how to finish in the person's language; a pending sign-in not yet approved too", async () => {
  const server = recordingServer(undefined);
  const dir = await Deno.makeTempDir();
  let stderr = "";
  let stdout = "";
  const code = await main([
    "login",
    "--no-wait",
    "--lang",
    "de",
    "--cache",
    `${dir}/cache.db`,
    "--client-id",
    "app",
    "--device-endpoint",
    "https://id.example.com/device",
    "--token-endpoint",
    "https://id.example.com/token",
  ], {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    env: () => undefined,
    stderrIsTerminal: false,
    fetch: server.fetch,
  });
  assert.equal(code, 0, stderr);
  assert.match(
    stderr,
    /^Wenn Sie sich angemeldet haben, schließen Sie ab mit: deviceflow login --resume$/m,
  );
  assert.match(stderr, /^ {2}Adresse: https:\/\/id\.example\.com\/verify$/m);
  assert.ok(!/When you have signed in/.test(stderr), stderr);
  assert.equal(JSON.parse(stdout).userCode, "WDJB-MJHT");
  await Deno.remove(dir, { recursive: true });

  const { report } = await import("../src/cli/exit.ts");
  const { InteractionRequiredError } = await import("../mod.ts");
  const words = { address: "https://id.example.com/verify", code: "WDJB-MJHT" };
  const error = Object.assign(new InteractionRequiredError(say("en", "notApproved", words)), {
    localized: { key: "notApproved" as const, values: words },
  });
  let line = "";
  const io = {
    stdout: () => {},
    stderr: (t: string) => void (line += t),
    stdoutBytes: () => {},
    control: () => {},
    env: () => undefined,
    stderrIsTerminal: false,
  };
  assert.equal(report(error, io, "token", false, "ja"), 3);
  assert.equal(line, `deviceflow: ${say("ja", "notApproved", words)}\n`);
  assert.ok(line.includes("https://id.example.com/verify") && line.includes("WDJB-MJHT"));
});

Deno.test("token says in the person's language that a sign-in starts, then prompts in it", async () => {
  const server = recordingServer(undefined);
  let stderr = "";
  await main([
    "token",
    "--interactive",
    "--timeout",
    "1",
    "--lang",
    "fr_CA.UTF-8",
    "--cache",
    ":memory:",
    "--client-id",
    "app",
    "--device-endpoint",
    "https://id.example.com/device",
    "--token-endpoint",
    "https://id.example.com/token",
  ], {
    stdout: () => {},
    stderr: (t) => void (stderr += t),
    env: () => undefined,
    stderrIsTerminal: false,
    fetch: server.fetch,
  });
  const lines = stderr.split("\n");
  assert.equal(lines[0], say("fr", "startingSignIn"), stderr);
  assert.ok(lines.includes("  Adresse : https://id.example.com/verify"), stderr);
  assert.ok(!stderr.includes("Not signed in"), stderr);
});
