/**
 * A malicious or compromised authorization server against the CLI, class by
 * class (issue 9): untrusted text never controls the terminal, tokens and
 * codes are VSCHAR, verification addresses cannot be disguised, a token is
 * served only for what was granted, command-line endpoints never persist, a
 * refused refresh is never sent again, and a refused revocation is said.
 * Every run's stdout and stderr are checked byte by byte for anything a
 * terminal would act on, in text and in --json-events mode.
 */

import assert from "node:assert/strict";
import { type FakeServer, json, startFakeServer } from "./support/fake_server.ts";
import { main } from "../cli.ts";
import { type CliRun, runCli, runMain, tempCache } from "./support/cli_harness.ts";
import {
  assertTerminalSafe,
  HOSTILE,
  HOSTILE_CLIENT,
  hostileArgs,
  type HostileScript,
  idToken,
  jsonLines,
  serveHostile,
  tokenResponse,
} from "./support/hostile_server.ts";

interface Hostile {
  server: FakeServer;
  cache: string;
  args: string[];
  /** Runs the CLI and checks that stdout and stderr are terminal-safe. */
  run(args: string[], env?: Record<string, string>): Promise<CliRun>;
}

async function withHostile(script: HostileScript, body: (h: Hostile) => Promise<void>) {
  const server = await startFakeServer();
  const cache = await tempCache();
  try {
    serveHostile(server, script);
    const run = async (args: string[], env: Record<string, string> = {}) => {
      const result = await runMain(args, env);
      assertTerminalSafe(result.stdout, `stdout of ${args[0]}`);
      assertTerminalSafe(result.stderr, `stderr of ${args[0]}`);
      return result;
    };
    await body({ server, cache: cache.path, args: hostileArgs(server, cache.path), run });
  } finally {
    await server.close();
    await cache.cleanup();
  }
}

/** The one line an error run wrote. */
function oneLineError(result: CliRun): string {
  const lines = result.stderr.split("\n").filter(Boolean);
  assert.equal(lines.length, 1, `one line expected: ${JSON.stringify(result.stderr)}`);
  return lines[0]!;
}

// ------------------------------------------------------------------ 1. terminal control

Deno.test("a hostile message is shown without escapes, C1 or bidi controls, in text and in JSON events", () =>
  withHostile({ device: { message: `Sign in ${HOSTILE}` } }, async (h) => {
    const text = await h.run(["login", ...h.args]);
    assert.equal(text.code, 0, text.stderr);
    // The library removes whole escape sequences and disguising characters at
    // entry, and folds the server's line breaks: no forged line above the address.
    assert.ok(
      text.stderr.startsWith("\nSign in evil FAKE: forged line\n\n  Address: "),
      text.stderr,
    );

    const events = await h.run(["login", ...h.args, "--json-events"]);
    assert.equal(events.code, 0, events.stderr);
    const lines = jsonLines(events.stderr, "json events");
    const code = lines.find((e) => e.event === "device_code")!;
    assert.equal(code.message, "Sign in evil FAKE: forged line");
    assert.equal(lines.at(-1)!.event, "success");
  }));

Deno.test("a hostile error_description, and an HTML error page, make one safe line", async () => {
  await withHostile({
    token: json(400, { error: "access_denied", error_description: HOSTILE }),
  }, async (h) => {
    const result = await h.run(["login", ...h.args]);
    assert.equal(result.code, 4);
    const line = result.stderr.split("\n").filter(Boolean).at(-1)!;
    assert.match(line, /^deviceflow: /);
    assert.ok(!result.stderr.includes("FAKE: forged line"), "nothing after the line break");
    const events = await h.run(["login", ...h.args, "--json-events"]);
    const error = jsonLines(events.stderr, "json events").at(-1)!;
    assert.equal(error.event, "error");
    assert.equal(error.exitCode, 4);
  });
  await withHostile({
    token: { status: 400, headers: { "content-type": "text/html" }, body: `<h1>${HOSTILE}</h1>` },
  }, async (h) => {
    const result = await h.run(["login", ...h.args]);
    assert.equal(result.code, 1);
    assert.match(result.stderr.split("\n").filter(Boolean).at(-1)!, /HTTP 400/);
  });
});

Deno.test("a hostile issuer in the metadata is quoted safely in the mismatch error", () =>
  withHostile({ discovery: { issuer: `https://evil.example/${HOSTILE}` } }, async (h) => {
    const result = await h.run(["login", ...h.args]);
    assert.equal(result.code, 1);
    assert.match(oneLineError(result), /^deviceflow: .*issuer/);
  }));

Deno.test("hostile claims name no forged rows: login, accounts, status, their JSON, and git-credential", () =>
  withHostile({}, async (h) => {
    const name = `ali\u202ece\x1b[31m\nFAKE ROW`;
    h.server.route(
      "POST",
      "/token",
      tokenResponse({
        id_token: idToken(h.server.url, HOSTILE_CLIENT, { preferred_username: name }),
      }),
    );
    const login = await h.run(["login", ...h.args]);
    assert.equal(login.code, 0, login.stderr);
    assert.ok(
      login.stderr.includes("Signed in as ali\\u202ece\\u001b[31m\\u000aFAKE ROW.\n"),
      login.stderr,
    );
    const loginJson = JSON.parse(login.stdout);
    assert.equal(loginJson.username, name, "JSON carries the name itself, escaped");
    const events = await h.run(["login", ...h.args, "--json-events"]);
    assert.equal(events.code, 0, events.stderr);
    assert.ok(
      events.stderr.includes('"username":"ali\\u202ece\\u001b[31m\\nFAKE ROW"'),
      events.stderr,
    );
    const success = jsonLines(events.stderr, "json events").find((e) => e.event === "success")!;
    assert.equal((success.account as { username: string }).username, name);

    const accounts = await h.run(["accounts", "--cache", h.cache]);
    const rows = accounts.stdout.trimEnd().split("\n");
    assert.equal(rows.length, 2, accounts.stdout);
    assert.ok(rows[1]!.startsWith("*       ali\\u202ece\\u001b[31m\\u000aFAKE ROW  "), rows[1]);

    const accountsJson = await h.run(["accounts", "--cache", h.cache, "--json"]);
    assert.ok(
      accountsJson.stdout.includes("ali\\u202ece\\u001b[31m\\nFAKE ROW"),
      accountsJson.stdout,
    );
    assert.equal(JSON.parse(accountsJson.stdout)[0].username, name);

    const status = await h.run(["status", "--cache", h.cache]);
    assert.equal(status.stdout.split("\n").filter((l) => l.startsWith("Account ")).length, 1);
    assert.ok(!status.stdout.includes("\nFAKE ROW"), status.stdout);
    const statusJson = await h.run(["status", "--cache", h.cache, "--json"]);
    assert.equal(JSON.parse(statusJson.stdout).accounts[0].username, name);
  }));

Deno.test("a hostile name from userinfo (no ID token) is shown safely", () =>
  withHostile(
    { userinfo: json(200, { sub: "u2", preferred_username: `bob${HOSTILE}` }) },
    async (h) => {
      const login = await h.run(["login", ...h.args]);
      assert.equal(login.code, 0, login.stderr);
      const signedIn = login.stderr.split("\n").find((l) => l.startsWith("Signed in as "))!;
      assert.ok(
        signedIn.startsWith("Signed in as bob\\u001b]52;c;ZXZpbA==\\u0007\\u001b[2J\\u009b31m"),
        signedIn,
      );
      assert.ok(signedIn.endsWith("\\u000d\\u000aFAKE: forged line."), signedIn);
    },
  ));

Deno.test("fetch: a hostile WWW-Authenticate description and header values are shown safely", () =>
  withHostile({}, async (h) => {
    assert.equal((await h.run(["login", ...h.args])).code, 0);
    h.server.route("GET", "/api", {
      status: 401,
      headers: {
        "www-authenticate":
          `Bearer error="invalid_request", error_description="\u009b2J\u202eevil"`,
        "x-evil": "\u009b31m\u202e",
      },
      body: "denied",
    });
    // -i prints the head as curl does, with CRLF line ends; each line is made safe.
    const result = await runMain(["fetch", "--cache", h.cache, "-i", `${h.server.url}/api`]);
    assertTerminalSafe(result.stdout.replaceAll("\r\n", "\n"), "fetch -i");
    assertTerminalSafe(result.stderr, "fetch -i");
    assert.equal(result.code, 6);
    assert.match(result.stdout, /^HTTP 401 Unauthorized\r\n/);
    assert.match(result.stdout, /\r\nx-evil: \S*\\u009b31m\S*\\u0080\S*\r\n/);
    assert.match(oneLineError(result), /^deviceflow: fetch: 127\.0\.0\.1:\d+ answered HTTP 401/);
  }));

// ------------------------------------------------------------------ 2. tokens and codes

const BAD_TOKENS: [string, Record<string, unknown>, RegExp][] = [
  [
    "a header in the access token",
    { access_token: "at-1\r\nX-Injected: 1" },
    /"access_token" must be/,
  ],
  ["an escape in the access token", { access_token: "at-\x1b[2J-0123" }, /"access_token" must be/],
  ["a newline in the refresh token", { refresh_token: "rt-1\nEVIL=1" }, /"refresh_token" must be/],
  ["a C1 control in the ID token", { id_token: "eyJ\u009b.a.b" }, /"id_token" must be/],
  [
    "a space in the token type",
    { token_type: "Bearer X" },
    /"token_type" must be .* without spaces/,
  ],
  ["a line in the token type", { token_type: "Bearer\r\nX: y" }, /"token_type" must be/],
  [
    "an access token of 40,000 characters",
    { access_token: "a".repeat(40_000) },
    /"access_token" must be at most 32768/,
  ],
];

for (const [name, fields, message] of BAD_TOKENS) {
  Deno.test(`${name} is an invalid response: exit 1, one line, nothing cached`, () =>
    withHostile({ token: tokenResponse(fields) }, async (h) => {
      const result = await h.run(["login", ...h.args]);
      assert.equal(result.code, 1, result.stderr);
      // The prompt came first: the code was valid; the answer to the poll was not.
      const errors = result.stderr.split("\n").filter((l) => l.startsWith("deviceflow:"));
      assert.equal(errors.length, 1, result.stderr);
      assert.match(errors[0]!, message);
      assert.ok(result.stderr.endsWith(`${errors[0]}\n`));
      assert.doesNotMatch(result.stderr, /X-Injected|EVIL=1|aaaaaaaaaa/);
      const accounts = await h.run(["accounts", "--cache", h.cache, "--json"]);
      assert.equal(accounts.stdout, "[]\n");
    }));
}

const BAD_CODES: [string, Record<string, unknown>, RegExp][] = [
  [
    "an escape in the user code",
    { user_code: "AB\x1b[2JCD" },
    /"user_code" must be .* without spaces/,
  ],
  ["a space in the user code", { user_code: "ABCD EFGH" }, /"user_code" must be/],
  ["a bidi override in the user code", { user_code: "ABCD\u202eEFGH" }, /"user_code" must be/],
  ["a newline in the device code", { device_code: "dc\nline" }, /"device_code" must be/],
];

for (const [name, fields, message] of BAD_CODES) {
  Deno.test(`${name} stops the sign-in in one line`, () =>
    withHostile({ device: fields }, async (h) => {
      const result = await h.run(["login", ...h.args]);
      assert.equal(result.code, 1);
      assert.match(oneLineError(result), message);
      assert.equal(h.server.requestsTo("/token").length, 0, "no poll");
    }));
}

Deno.test("implausible lifetimes are clamped to a year, and the approved sign-in is kept", () =>
  withHostile(
    { device: { expires_in: 1e12 }, token: tokenResponse({ expires_in: 1e15 }) },
    async (h) => {
      const result = await h.run(["login", ...h.args]);
      assert.equal(result.code, 0, result.stderr);
      const expiresAt = Date.parse(JSON.parse(result.stdout).expiresAt);
      const year = 365 * 24 * 3600 * 1000;
      assert.ok(
        expiresAt > Date.now() + year - 60_000 && expiresAt <= Date.now() + year,
        result.stdout,
      );
      assert.equal((await h.run(["token", "--cache", h.cache])).code, 0);
    },
  ));

// ------------------------------------------------------------------ 3. addresses

const BAD_ADDRESSES: [string, Record<string, unknown>][] = [
  ["userinfo before the host", {
    verification_uri: "https://login.microsoftonline.com@evil.test/device",
  }],
  ["userinfo in the complete address", {
    verification_uri_complete: "https://login.microsoftonline.com:pw@evil.test/device?code=1",
  }],
  ["2,049 characters", { verification_uri: `https://id.example.com/${"a".repeat(2049 - 23)}` }],
  ["an escape", { verification_uri: "https://id.example.com/\x1b[2Jdevice" }],
  ["a bidi override", { verification_uri: "https://id.example.com/\u202emoc.live" }],
  ["a zero-width space", { verification_uri: "https://id.exa\u200bmple.com/device" }],
  ["plain http", { verification_uri: "http://id.example.com/device" }],
  ["a backslash", { verification_uri: "https://evil.test\\@id.example.com/device" }],
  ["javascript:", { verification_uri: "javascript:alert(1)" }],
];

for (const [name, fields] of BAD_ADDRESSES) {
  Deno.test(`a verification address with ${name} stops the sign-in: the server gave an unsafe address`, () =>
    withHostile({ device: fields }, async (h) => {
      for (const extra of [[], ["--json-events"], ["--open", "--qr"]]) {
        const result = await h.run(["login", ...h.args, ...extra], { BROWSER: "false" });
        assert.equal(result.code, 1);
        const line = extra.length === 1
          ? String(jsonLines(result.stderr, "json events").at(-1)!.message)
          : oneLineError(result);
        assert.match(line, /the server gave an unsafe address in "verification_uri(_complete)?"/);
        assert.doesNotMatch(result.stderr, /Address:|evil\.test\/device/);
      }
    }));
}

Deno.test("an internationalised host is shown as the punycode it really is", () =>
  withHostile(
    { device: { verification_uri: "https://micr\u043esoft.com/devicelogin" } },
    async (h) => {
      const result = await h.run(["login", ...h.args]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(
        result.stderr,
        /Address: https:\/\/micr\u043esoft\.com\/devicelogin {2}\(host: xn--micrsoft-/,
      );
    },
  ));

Deno.test("a loopback http address and an ordinary https one are accepted, shown as sent", () =>
  withHostile({
    device: { verification_uri_complete: "https://id.example.com/device?user_code=HOST-ILE1" },
  }, async (h) => {
    const result = await h.run(["login", ...h.args]);
    assert.equal(result.code, 0, result.stderr);
    assert.ok(
      result.stderr.includes(`  Address: ${h.server.url}/verify\n  Code:    HOST-ILE1\n`),
      result.stderr,
    );
    assert.ok(
      result.stderr.includes(
        "  Or open: https://id.example.com/device?user_code=HOST-ILE1  (the code is filled in)\n",
      ),
    );
  }));

// ------------------------------------------------------------------ 6. what was granted

Deno.test("a token covers only the scopes the server granted, not all it was asked for", () =>
  withHostile({ token: tokenResponse({ scope: "read" }) }, async (h) => {
    const login = await h.run(["login", ...h.args, "--scope", "read write"]);
    assert.equal(login.code, 0, login.stderr);
    const before = h.server.requestsTo("/token").length;
    const read = await h.run(["token", ...h.args, "--scope", "read", "--no-interactive"]);
    assert.equal(read.stdout, "at-hostile-0123456789\n");
    assert.equal(h.server.requestsTo("/token").length, before, "read is a cache hit");
    // write was asked for and not granted: not a cache hit, so the server is asked.
    await h.run(["token", ...h.args, "--scope", "write", "--no-interactive"]);
    const after = h.server.requestsTo("/token");
    assert.equal(after.length, before + 1, "write is not a cache hit");
    assert.equal(after.at(-1)!.form.get("grant_type"), "refresh_token");
    assert.equal(after.at(-1)!.form.get("scope"), "write");
  }));

Deno.test("a hostile --revocation-endpoint is used for its run only: a later logout revokes at the real server", async () => {
  const evil = await startFakeServer();
  evil.route("POST", "/revoke", { status: 200, body: "" });
  try {
    await withHostile({}, async (h) => {
      assert.equal((await h.run(["login", ...h.args])).code, 0);
      const endpoints = [
        "--device-endpoint",
        `${h.server.url}/device`,
        "--token-endpoint",
        `${h.server.url}/token`,
        "--revocation-endpoint",
        `${evil.url}/revoke`,
      ];
      const token = await h.run(["token", ...h.args, ...endpoints, "--force-refresh"]);
      assert.equal(token.code, 0, token.stderr);
      const logout = await h.run(["logout", "--cache", h.cache]);
      assert.equal(logout.code, 0, logout.stderr);
      assert.match(logout.stderr, /the refresh token was revoked at the server/);
      assert.equal(evil.requests.length, 0, "nothing went to the hostile endpoint");
      assert.equal(h.server.requestsTo("/revoke").length, 1);
    });
  } finally {
    await evil.close();
  }
});

// ------------------------------------------------------------------ 7. refused refreshes and revocations

for (const status of [200, 400]) {
  Deno.test(`a refresh refused as bad_refresh_token (HTTP ${status}) asks for a sign-in and is never sent again`, () =>
    withHostile({ token: tokenResponse({ expires_in: 1 }) }, async (h) => {
      assert.equal((await h.run(["login", ...h.args])).code, 0);
      await new Promise((resolve) => setTimeout(resolve, 1100)); // the 1 s access token expires
      h.server.route(
        "POST",
        "/token",
        json(status, {
          error: "bad_refresh_token",
          error_description: "The refresh token passed is incorrect or expired.",
        }),
      );
      const first = await h.run(["token", "--cache", h.cache, "--no-interactive"]);
      assert.equal(first.code, 3, first.stderr);
      assert.match(
        oneLineError(first),
        /refused the cached sign-in of user1 \(bad_refresh_token\); sign in again with: deviceflow login --authority http:\/\/127\.0\.0\.1:\d+ --client-id hostile-client$/,
      );
      const sent = h.server.requestsTo("/token").length;
      const second = await h.run(["token", "--cache", h.cache, "--no-interactive"]);
      assert.equal(second.code, 3);
      assert.equal(
        h.server.requestsTo("/token").length,
        sent,
        "the dead refresh token was not sent again",
      );
      const state = JSON.parse((await h.run(["status", "--cache", h.cache, "--json"])).stdout);
      assert.equal(state.accounts[0].refreshToken, false);
    }));
}

Deno.test("a refresh refused as bad_refresh_token falls back to a device code sign-in without --no-interactive", () =>
  withHostile({ token: tokenResponse({ expires_in: 1 }) }, async (h) => {
    assert.equal((await h.run(["login", ...h.args])).code, 0);
    await new Promise((resolve) => setTimeout(resolve, 1100)); // the 1 s access token expires
    h.server.route(
      "POST",
      "/token",
      (req) =>
        req.form.get("grant_type") === "refresh_token"
          ? json(200, { error: "bad_refresh_token" })
          : tokenResponse({ access_token: "at-new-0123456789" }),
    );
    const result = await h.run(["token", "--cache", h.cache, "--json-events"]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "at-new-0123456789\n");
    assert.ok(jsonLines(result.stderr, "json events").some((e) => e.event === "device_code"));
  }));

Deno.test("logout says when the server refuses the revocation: the refresh token stays valid", () =>
  withHostile({ revoke: json(401, { error: "invalid_client" }) }, async (h) => {
    assert.equal((await h.run(["login", ...h.args])).code, 0);
    const result = await h.run(["logout", "--cache", h.cache]);
    assert.equal(result.code, 0);
    assert.equal(
      result.stderr,
      `Signed out user1 (${h.server.url}); the server refused to revoke the refresh token (HTTP 401), so it stays valid at the server until it expires\n`,
    );
    assert.equal((await h.run(["accounts", "--cache", h.cache, "--json"])).stdout, "[]\n");
  }));

// ------------------------------------------------------------------ 4. git-credential

/** Runs `git-credential get` with git's request on stdin. */
async function gitGet(args: string[], request: string): Promise<CliRun> {
  let stdout = "";
  let stderr = "";
  const code = await main(["git-credential", ...args, "get"], {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    env: () => undefined,
    stderrIsTerminal: false,
    stdin: () => Promise.resolve(request),
  });
  return { code, stdout, stderr };
}

Deno.test("git-credential answers only for its hosts over https: a hostile remote gets nothing", () =>
  withHostile({}, async (h) => {
    assert.equal((await h.run(["login", ...h.args])).code, 0);
    const args = ["--cache", h.cache, "--no-interactive"];
    const served = new URL(h.server.url).host; // the authority's host, by default
    const requests = h.server.requests.length;
    for (
      const [request, why] of [
        ["protocol=https\nhost=evil.example\npath=org/repo.git\n\n", "another host"],
        [`protocol=https\nhost=${served}.evil.example\n\n`, "a host that starts like ours"],
        ["protocol=http\nhost=git.example.com\n\n", "plain http"],
        ["protocol=ssh\nhost=git.example.com\n\n", "another protocol"],
        ["host=git.example.com\n\n", "no protocol"],
        ["protocol=https\n\n", "no host"],
      ]
    ) {
      const result = await gitGet([...args, "--git-host", "git.example.com"], request!);
      assert.deepEqual(result, { code: 0, stdout: "", stderr: "" }, why);
    }
    assert.equal(h.server.requests.length, requests, "nothing was asked of the server");
    // The authority's host by default; http is allowed there because it is a loopback address.
    const own = await gitGet(args, `protocol=http\nhost=${served}\n\n`);
    assert.equal(own.code, 0, own.stderr);
    assert.match(own.stdout, /\npassword=at-hostile-0123456789\n/);
    assert.deepEqual(await gitGet(args, "protocol=https\nhost=git.example.com\n\n"), {
      code: 0,
      stdout: "",
      stderr: "",
    });
    // --git-host names the hosts, case-insensitively, ports included.
    const named = await gitGet(
      [...args, "--git-host", "GIT.example.com:8443"],
      "protocol=https\nhost=git.example.com:8443\n\n",
    );
    assert.match(named.stdout, /^protocol=https\nhost=git\.example\.com:8443\nusername=user1\n/);
    assert.equal(
      (await gitGet(
        [...args, "--git-host", "git.example.com"],
        "protocol=https\nhost=git.example.com:8443\n\n",
      )).stdout,
      "",
      "another port is another host",
    );
    const bad = await gitGet([...args, "--git-host", "https://git.example.com/"], "");
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--git-host must be a host name/);
  }));

Deno.test("git-credential takes its hosts from a profile's gitHosts", () =>
  withHostile({}, async (h) => {
    assert.equal((await h.run(["login", ...h.args])).code, 0);
    const dir = await Deno.makeTempDir();
    try {
      const config = `${dir}/config.json`;
      await Deno.writeTextFile(
        config,
        JSON.stringify({ profiles: { default: { gitHosts: ["git.example.com"] } } }),
      );
      const args = ["--cache", h.cache, "--config", config, "--no-interactive"];
      assert.match(
        (await gitGet(args, "protocol=https\nhost=git.example.com\n\n")).stdout,
        /\npassword=at-hostile-0123456789\n/,
      );
      assert.equal((await gitGet(args, "protocol=https\nhost=other.example\n\n")).stdout, "");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }));

Deno.test("git-credential never writes a value with a line break: a name from a claim is left out, the token is not", () =>
  withHostile({}, async (h) => {
    h.server.route(
      "POST",
      "/token",
      tokenResponse({
        id_token: idToken(h.server.url, HOSTILE_CLIENT, {
          preferred_username: "alice\npassword=stolen\nusername=mallory",
        }),
      }),
    );
    assert.equal((await h.run(["login", ...h.args])).code, 0);
    const result = await gitGet(
      ["--cache", h.cache, "--no-interactive", "--git-host", "git.example.com"],
      "protocol=https\nhost=git.example.com\npath=a\rb\n\n",
    );
    assert.equal(result.code, 0, result.stderr);
    const expiry = result.stdout.match(/\npassword_expiry_utc=(\d+)\n/)?.[1];
    assert.equal(
      result.stdout,
      `protocol=https\nhost=git.example.com\npassword=at-hostile-0123456789\npassword_expiry_utc=${expiry}\n\n`,
    );
  }));

// ------------------------------------------------------------------ 5. run's child environment

Deno.test("run does not pass the cache key or the client secret on to its command", () =>
  withHostile({}, async (h) => {
    const key = new Uint8Array(32).fill(7).toBase64();
    const secrets = {
      DEVICEFLOW_CACHE_KEY: key,
      DEVICEFLOW_CLIENT_SECRET: "client-secret-0123456789",
    };
    const login = await runCli(["login", ...h.args], secrets);
    assert.equal(login.code, 0, login.stderr);
    const result = await runCli(
      ["run", "--cache", h.cache, "--no-interactive", "--", "sh", "-c", "env"],
      { ...secrets, DEVICEFLOW_CACHE_KEY_FILE: "/nonexistent/key" },
    );
    assert.equal(result.code, 0, result.stderr);
    const names = result.stdout.split("\n").map((line) => line.split("=")[0]);
    assert.ok(names.includes("ACCESS_TOKEN"), result.stdout);
    assert.ok(names.includes("NO_COLOR"), "the rest of the environment is passed on");
    for (const name of Object.keys(secrets).concat("DEVICEFLOW_CACHE_KEY_FILE")) {
      assert.ok(!names.includes(name), `${name} reached the command`);
    }
    assert.ok(!result.stdout.includes(key) && !result.stdout.includes("client-secret-0123456789"));
  }));
