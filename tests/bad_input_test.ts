/**
 * Bad input of every kind ends in a typed error and a clear line, never a
 * crash: responses over the size limit, malformed command lines, environment
 * variables and profiles, and ID tokens that are malformed, for someone else,
 * from someone else, or expired. (`fuzz_test.ts` throws generated input at the
 * same code.)
 */

import assert from "node:assert/strict";
import { type CliIo, main } from "../cli.ts";
import { DeviceFlowClient } from "../src/client/client.ts";
import { InvalidResponseError, ServerError } from "../src/errors.ts";
import { type HttpResult, MAX_BODY_BYTES } from "../src/http.ts";
import { parseErrorBody } from "../src/protocol/responses.ts";
import { redact } from "../src/redact.ts";
import type { Options } from "../src/cli/args.ts";
import { completionsCommand } from "../src/cli/commands/completions.ts";
import { FakeClock } from "./support/fake_clock.ts";
import { json, rejection, ScriptedFetch, unsignedJwt } from "./support/scripted_fetch.ts";

const ISSUER = "https://id.example.com";
const DEVICE = `${ISSUER}/device`;
const TOKEN = `${ISSUER}/token`;
const CLIENT_ID = "bad-input-client";
const MiB = 1024 * 1024;
const CHUNK = 64 * 1024;

// ---------------------------------------------------------------------------
// Responses over the size limit

/** A body of `total` bytes in 64 KiB chunks, one every `delayMs`, that counts what it produced. */
function slowBody(total: number, delayMs: number) {
  const meter = { produced: 0, cancelled: false };
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (meter.produced >= total) return controller.close();
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      meter.produced += CHUNK;
      controller.enqueue(new Uint8Array(CHUNK).fill(0x20));
    },
    cancel() {
      meter.cancelled = true;
    },
  }, { highWaterMark: 0 });
  return { stream, meter };
}

Deno.test("a 100 MiB body streamed slowly is refused after about 1 MiB, without reading the rest", async () => {
  const { stream, meter } = slowBody(100 * MiB, 2);
  const client = new DeviceFlowClient({
    clientId: CLIENT_ID,
    endpoints: { deviceAuthorization: DEVICE, token: TOKEN },
    fetch: () => Promise.resolve(new Response(stream, { status: 200 })),
  });
  const started = performance.now();
  const error = await rejection(client.initiateDeviceFlow());
  const elapsed = performance.now() - started;
  assert.ok(error instanceof InvalidResponseError, String(error));
  assert.match(error.message, /larger than 1 MiB; refused/);
  assert.ok(meter.cancelled, "the body stream was not cancelled");
  // The read that crossed the limit, and nothing more.
  assert.ok(meter.produced <= MAX_BODY_BYTES + CHUNK, `${meter.produced} bytes were produced`);
  assert.ok(elapsed < 2000, `refusing took ${Math.round(elapsed)} ms`);
});

Deno.test("a 100 MiB body from a loopback server is refused after about 1 MiB was sent", async () => {
  const sent = { bytes: 0, cancelled: false };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (sent.bytes >= 100 * MiB) return controller.close();
        // 64 KiB every 10 ms: the whole body would take 16 s.
        await new Promise((resolve) => setTimeout(resolve, 10));
        sent.bytes += CHUNK;
        controller.enqueue(new Uint8Array(CHUNK).fill(0x7b));
      },
      cancel() {
        sent.cancelled = true;
      },
    }, { highWaterMark: 0 });
    return new Response(body, { headers: { "content-type": "application/json" } });
  });
  try {
    const base = `http://127.0.0.1:${server.addr.port}`;
    const client = new DeviceFlowClient({
      clientId: CLIENT_ID,
      endpoints: { deviceAuthorization: `${base}/device`, token: `${base}/token` },
    });
    const started = performance.now();
    const error = await rejection(client.initiateDeviceFlow());
    const elapsed = performance.now() - started;
    assert.ok(error instanceof InvalidResponseError, String(error));
    assert.match(error.message, /larger than 1 MiB; refused/);
    assert.ok(elapsed < 3000, `refusing took ${Math.round(elapsed)} ms`);
    // Let the server notice that the client went away.
    for (let i = 0; i < 100 && !sent.cancelled; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const settled = sent.bytes;
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(sent.bytes, settled, "the server kept sending after the client gave up");
    // 1 MiB, plus what the sockets' buffers took in before the client stopped.
    assert.ok(sent.bytes <= 4 * MiB, `the server sent ${sent.bytes} bytes`);
    console.log(
      `size limit: a 100 MiB body refused after the server sent ${
        Math.round(sent.bytes / 1024)
      } KiB, in ${Math.round(elapsed)} ms`,
    );
  } finally {
    await server.shutdown();
  }
});

Deno.test("a declared Content-Length over the limit is refused before any of the body is read", async () => {
  const { stream, meter } = slowBody(100 * MiB, 0);
  const client = new DeviceFlowClient({
    clientId: CLIENT_ID,
    endpoints: { deviceAuthorization: DEVICE, token: TOKEN },
    fetch: () =>
      Promise.resolve(
        new Response(stream, { headers: { "content-length": String(100 * MiB) } }),
      ),
  });
  const error = await rejection(client.initiateDeviceFlow());
  assert.ok(error instanceof InvalidResponseError, String(error));
  assert.match(error.message, /larger than 1 MiB/);
  assert.equal(meter.produced, 0);
});

// ---------------------------------------------------------------------------
// Command lines, environment and profiles: exit 2 and one line naming the option

/** The module of each command `deviceflow --help` lists. */
const COMMAND_MODULES: Readonly<Record<string, string>> = {
  login: "../src/cli/commands/login.ts",
  token: "../src/cli/commands/token.ts",
  accounts: "../src/cli/commands/accounts.ts",
  logout: "../src/cli/commands/logout.ts",
  switch: "../src/cli/commands/switch.ts",
  status: "../src/cli/commands/status.ts",
  "git-credential": "../src/cli/commands/git_credential.ts",
  config: "../src/cli/commands/config.ts",
  fetch: "../src/cli/commands/fetch.ts",
  run: "../src/cli/commands/run.ts",
  decode: "../src/cli/commands/decode.ts",
  completions: "../src/cli/commands/completions.ts",
};

/** Arguments a command needs besides options, so that the option is what fails. */
const POSITIONALS: Readonly<Record<string, { before: string[]; after: string[] }>> = {
  "git-credential": { before: [], after: ["get"] },
  fetch: { before: ["https://api.example.com/"], after: [] },
  run: { before: [], after: ["--", "true"] },
  config: { before: ["show"], after: [] },
  completions: { before: ["bash"], after: [] },
};

/** Malformed values by option, each with what the line must name. */
const BAD_VALUES: Readonly<
  Record<string, readonly (string | { args: string[]; names: string })[]>
> = {
  timeout: ["abc", "-1", "0", "1e3", "Infinity", "5s", "99999999999"],
  "min-ttl": ["x", "-5", "NaN", "1,5"],
  "connect-timeout": ["abc", "0", "-2"],
  "request-timeout": ["soon", "0"],
  authority: [
    "ftp://x",
    "http://example.com",
    "notaurl",
    "https://",
    "http://127.0.0.1.example.com/",
  ],
  "device-endpoint": [
    { args: ["--device-endpoint", "https://id.example.com/device"], names: "--device-endpoint" },
    {
      args: ["--device-endpoint", "ftp://x", "--token-endpoint", "https://id.example.com/t"],
      names: "--device-endpoint",
    },
  ],
  "token-endpoint": [
    {
      args: [
        "--device-endpoint",
        "https://id.example.com/d",
        "--token-endpoint",
        "http://evil.example/t",
      ],
      names: "--token-endpoint",
    },
  ],
  "revocation-endpoint": ["ftp://x", "http://example.com/revoke"],
  tenant: ["a b", "x/y", "../etc", "contoso.onmicrosoft.com?x=1"],
  provider: ["foo", "ENTRA", "github "],
  output: ["yaml", "RAW", "token"],
  "client-id": [" ", "\t"],
  profile: ["nosuch"],
  env: ["1BAD", "A-B", "A B"],
  request: ["GE T", "GET\n"],
  header: ["nocolon", "Authorization: Bearer x", ": value"],
  data: [{ args: ["-d", "a", "-d", "b"], names: "-d" }],
  "data-file": [{ args: ["--data-file", "/nonexistent/body"], names: "/nonexistent/body" }],
  config: [{ args: ["--config", "/nonexistent/config.json"], names: "/nonexistent/config.json" }],
};

interface Case {
  command: string;
  args: string[];
  env?: Record<string, string>;
  /** The line must name one of these. */
  names: string[];
}

async function commandOptions(): Promise<Map<string, Options>> {
  let help = "";
  await main(["--help"], { ...quietIo(), stdout: (text) => void (help += text) });
  const names = help.split("\nCommands:\n")[1]!.split("\n\n")[0]!
    .split("\n").map((line) => line.trim().split(/\s+/)[0]!);
  assert.ok(names.length >= 10, `too few commands in --help: ${names.join(", ")}`);
  const out = new Map<string, Options>();
  for (const name of names) {
    const module = COMMAND_MODULES[name];
    assert.ok(module, `the command ${name} has no entry in COMMAND_MODULES`);
    const exports = await import(module);
    const command = name === "completions"
      ? completionsCommand(() => Promise.resolve({}))
      : exports.command;
    out.set(name, command.options);
  }
  return out;
}

function quietIo(): CliIo {
  return { stdout: () => {}, stderr: () => {}, env: () => undefined, stderrIsTerminal: false };
}

async function allCases(): Promise<Case[]> {
  const cases: Case[] = [];
  for (const [command, options] of await commandOptions()) {
    const { before, after } = POSITIONALS[command] ?? { before: [], after: [] };
    const line = (args: string[]) => [...before, ...args, ...after];
    cases.push({ command, args: line(["--no-such-option"]), names: ["--no-such-option"] });
    cases.push({ command, args: line(["-Z"]), names: ["-Z"] });
    for (const [name, spec] of Object.entries(options)) {
      // A message may name the option by its long or its short name.
      const names = spec.short ? [`--${name}`, `-${spec.short}`] : [`--${name}`];
      if (spec.type === "boolean") {
        cases.push({ command, args: line([`--${name}=yes`]), names });
        continue;
      }
      // A missing value: the option is the last argument.
      cases.push({ command, args: [...before, `--${name}`], names });
      if (spec.short) cases.push({ command, args: [...before, `-${spec.short}`], names });
      if (name !== "data") {
        cases.push({ command, args: line([`--${name}`, ""]), names });
        cases.push({ command, args: line([`--${name}`, " "]), names });
      }
      for (const bad of BAD_VALUES[name] ?? []) {
        cases.push(
          typeof bad === "string"
            ? { command, args: line([`--${name}`, bad]), names }
            : { command, args: line(bad.args), names: [bad.names] },
        );
      }
    }
  }
  return cases;
}

const ENV_CASES: { env: Record<string, string>; names: string; context?: string[] }[] = [
  { env: { DEVICEFLOW_AUTHORITY: "notaurl" }, names: "DEVICEFLOW_AUTHORITY" },
  { env: { DEVICEFLOW_AUTHORITY: "ftp://x" }, names: "DEVICEFLOW_AUTHORITY" },
  { env: { DEVICEFLOW_AUTHORITY: "http://example.com" }, names: "DEVICEFLOW_AUTHORITY" },
  { env: { DEVICEFLOW_PROVIDER: "foo" }, names: "DEVICEFLOW_PROVIDER" },
  { env: { DEVICEFLOW_TENANT: "a b" }, names: "DEVICEFLOW_TENANT" },
  {
    env: { DEVICEFLOW_TENANT: "contoso", DEVICEFLOW_PROVIDER: "github" },
    names: "DEVICEFLOW_TENANT",
  },
  { env: { DEVICEFLOW_CLIENT_ID: "  " }, names: "DEVICEFLOW_CLIENT_ID" },
  { env: { DEVICEFLOW_PROFILE: "nosuch" }, names: "DEVICEFLOW_PROFILE" },
  { env: { DEVICEFLOW_CONFIG: "/nonexistent/config.json" }, names: "/nonexistent/config.json" },
  ...["DEVICEFLOW_CONNECT_TIMEOUT", "DEVICEFLOW_REQUEST_TIMEOUT", "DEVICEFLOW_LEASE_TTL"].map((
    name,
  ) => ({
    env: { [name]: "abc" },
    names: name,
    context: ["--client-id", "c", "--authority", "https://id.example.com"],
  })),
];

/** Runs main() with a private HOME, no network, and the given environment. */
async function runIsolated(args: string[], home: string, env: Record<string, string> = {}) {
  let stdout = "";
  let stderr = "";
  const fetches: string[] = [];
  const all: Record<string, string> = {
    HOME: home,
    XDG_CACHE_HOME: `${home}/cache`,
    XDG_CONFIG_HOME: `${home}/config`,
    ...env,
  };
  const io: CliIo = {
    stdout: (text) => void (stdout += text),
    stderr: (text) => void (stderr += text),
    env: (name) => all[name],
    stderrIsTerminal: false,
    stdin: () => Promise.resolve(""),
    fetch: (input) => {
      fetches.push(String(input instanceof Request ? input.url : input));
      return Promise.reject(new TypeError("no network in this test"));
    },
  };
  const code = await main(args, io);
  return { code, stdout, stderr, fetches };
}

function checkUsageError(
  label: string,
  run: { code: number; stderr: string; fetches: string[] },
  names: string | string[],
): string | undefined {
  const lines = run.stderr.split("\n").filter((line) => !/^deviceflow: warning:/.test(line));
  const first = lines[0] ?? "";
  if (run.code !== 2) return `${label}: exit ${run.code}, not 2: ${run.stderr.trim()}`;
  const wanted = typeof names === "string" ? [names] : names;
  if (!first.startsWith("deviceflow: ") || !wanted.some((name) => first.includes(name))) {
    return `${label}: the first line does not name ${wanted.join(" or ")}: ${
      JSON.stringify(first)
    }`;
  }
  // One line, and at most the pointer to --help.
  const rest = lines.slice(1).filter(Boolean);
  if (rest.length > 1 || (rest[0] !== undefined && !/--help' for usage/.test(rest[0]))) {
    return `${label}: more than one line: ${JSON.stringify(run.stderr)}`;
  }
  if (run.fetches.length) return `${label}: made requests: ${run.fetches.join(", ")}`;
  return undefined;
}

Deno.test("every option of every command, given a malformed value or none, exits 2 with one line naming it", async () => {
  const home = await Deno.makeTempDir({ prefix: "deviceflow-bad-args-" });
  try {
    const cases = await allCases();
    const problems: string[] = [];
    for (const c of cases) {
      const run = await runIsolated([c.command, ...c.args], home, c.env);
      const problem = checkUsageError(`${c.command} ${JSON.stringify(c.args)}`, run, c.names);
      if (problem) problems.push(problem);
    }
    assert.ok(cases.length > 200, `only ${cases.length} cases`);
    assert.deepEqual(problems, [], `${problems.length} of ${cases.length} cases failed`);
    console.log(
      `bad arguments: ${cases.length} command lines, each exit 2 with one line naming the option`,
    );
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("malformed environment variables exit 2 with one line naming the variable", async () => {
  const home = await Deno.makeTempDir({ prefix: "deviceflow-bad-env-" });
  try {
    const problems: string[] = [];
    for (const command of ["login", "token", "git-credential", "fetch", "run"]) {
      const { before, after } = POSITIONALS[command] ?? { before: [], after: [] };
      for (const c of ENV_CASES) {
        const args = [command, ...before, ...(c.context ?? []), ...after];
        const run = await runIsolated(args, home, c.env);
        const problem = checkUsageError(`${JSON.stringify(c.env)} ${command}`, run, c.names);
        if (problem) problems.push(problem);
      }
    }
    assert.deepEqual(problems, []);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("a profile's malformed authority exits 2 naming the profile and the key", async () => {
  const home = await Deno.makeTempDir({ prefix: "deviceflow-bad-profile-" });
  try {
    await Deno.mkdir(`${home}/config/deviceflow`, { recursive: true });
    await Deno.writeTextFile(
      `${home}/config/deviceflow/config.json`,
      JSON.stringify({
        profiles: { work: { authority: "http://login.example.com", clientId: "c" } },
      }),
    );
    const run = await runIsolated(["token", "--profile", "work"], home);
    assert.equal(
      checkUsageError("profile", run, `"authority" of profile "work"`),
      undefined,
      run.stderr,
    );
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

// ---------------------------------------------------------------------------
// ID tokens: malformed, for another client, from another issuer, expired

const DEVICE_BODY = {
  device_code: "dc-bad-input-0123456789",
  user_code: "WDJB-MJHT",
  verification_uri: `${ISSUER}/activate`,
  expires_in: 900,
  interval: 5,
};

/** A whole device code sign-in whose token response carries `idToken`. */
async function signInWith(idToken: string) {
  const clock = new FakeClock();
  const server = new ScriptedFetch(clock);
  const client = new DeviceFlowClient({
    clientId: CLIENT_ID,
    endpoints: { deviceAuthorization: DEVICE, token: TOKEN, issuer: ISSUER },
    fetch: server.fetch,
    clock,
  });
  server.on(DEVICE, json(200, DEVICE_BODY));
  server.on(
    TOKEN,
    json(200, {
      access_token: "at-bad-input-0123456789",
      token_type: "Bearer",
      expires_in: 3600,
      id_token: idToken,
    }),
  );
  const code = await client.initiateDeviceFlow({ scopes: ["openid"] });
  return { promise: client.acquireTokenByDeviceFlow(code), now: clock.now() };
}

/** Seconds since 1970 on the fake clock, when the token arrives (one 5 s poll later). */
const arrival = () => Math.floor((new FakeClock().now() + 5000) / 1000);

function claims(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    iss: ISSUER,
    aud: CLIENT_ID,
    sub: "user-1",
    iat: arrival(),
    exp: arrival() + 3600,
    ...extra,
  };
}

const b64 = (text: string) => btoa(text).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
const HEADER = b64(JSON.stringify({ alg: "RS256", typ: "JWT" }));

const REJECTED: readonly [string, string, RegExp][] = [
  ["two parts", `${HEADER}.${b64(JSON.stringify(claims()))}`, /"id_token" is not a JWT/],
  ["four parts", `${unsignedJwt(claims())}.x`, /"id_token" is not a JWT/],
  ["bad base64", `${HEADER}.!!!!.sig`, /"id_token" is not a JWT/],
  ["base64 padding inside", `${HEADER}.ab=c.sig`, /"id_token" is not a JWT/],
  ["claims that are not JSON", `${HEADER}.${b64("not json")}.sig`, /"id_token" is not a JWT/],
  ["claims that are a JSON array", `${HEADER}.${b64("[1,2]")}.sig`, /"id_token" is not a JWT/],
  ["claims that are JSON null", `${HEADER}.${b64("null")}.sig`, /"id_token" is not a JWT/],
  ["a header that is not JSON", `${b64("{")}.${b64(JSON.stringify(claims()))}.sig`, /not a JWT/],
  [
    "invalid UTF-8 in the claims",
    `${HEADER}.${btoa("\xff\xfe").replace(/=+$/, "")}.sig`,
    /not a JWT/,
  ],
  ["an empty token", ".", /not a JWT/],
  ["no sub", unsignedJwt(claims({ sub: undefined })), /"sub" claim/],
  ["a numeric sub", unsignedJwt(claims({ sub: 12345 })), /"sub" claim/],
  ["a sub over 255 characters", unsignedJwt(claims({ sub: "s".repeat(256) })), /"sub" claim/],
  ["another audience", unsignedJwt(claims({ aud: "someone-else" })), /audience \("aud"\)/],
  ["an audience list without us", unsignedJwt(claims({ aud: ["a", "b"] })), /audience/],
  ["no audience", unsignedJwt(claims({ aud: undefined })), /audience/],
  ["another issuer", unsignedJwt(claims({ iss: "https://evil.example" })), /issuer \("iss"\)/],
  ["no issuer", unsignedJwt(claims({ iss: undefined })), /issuer \("iss"\) is missing/],
  ["an issuer with a trailing slash", unsignedJwt(claims({ iss: `${ISSUER}/` })), /issuer/],
  ["expired an hour ago", unsignedJwt(claims({ exp: arrival() - 3600 })), /expired at .*"exp"/],
  ["expired 6 minutes ago", unsignedJwt(claims({ exp: arrival() - 360 })), /expired/],
  ["exp as a string", unsignedJwt(claims({ exp: String(arrival() + 3600) })), /"exp" claim must/],
  ["exp as a date", unsignedJwt(claims({ exp: "2030-01-01T00:00:00Z" })), /"exp" claim must/],
  ["nbf an hour ahead", unsignedJwt(claims({ nbf: arrival() + 3600 })), /not valid before .*"nbf"/],
  ["nbf as an object", unsignedJwt(claims({ nbf: {} })), /"nbf" claim must/],
];

for (const [what, idToken, message] of REJECTED) {
  Deno.test(`an ID token with ${what} is rejected with an InvalidResponseError`, async () => {
    const { promise } = await signInWith(idToken);
    const error = await rejection(promise);
    assert.ok(error instanceof InvalidResponseError, String(error));
    assert.match(error.message, message);
    assert.ok(error.message.length < 400, error.message);
    assert.ok(!error.message.includes(idToken.slice(0, 40)) || idToken.length < 10);
  });
}

const ACCEPTED: readonly [string, Record<string, unknown>][] = [
  ["exp 4 minutes past (clock skew)", claims({ exp: arrival() - 240 })],
  ["nbf 4 minutes ahead (clock skew)", claims({ nbf: arrival() + 240 })],
  ["no exp at all", claims({ exp: undefined })],
  ["an audience list with us", claims({ aud: ["other", CLIENT_ID] })],
  ["a 255-character sub", claims({ sub: "s".repeat(255) })],
  [
    "a 10 KB name, which is not used as the username",
    claims({ preferred_username: "n".repeat(10_000) }),
  ],
];

for (const [what, payload] of ACCEPTED) {
  Deno.test(`an ID token with ${what} is accepted`, async () => {
    const { promise } = await signInWith(unsignedJwt(payload));
    const result = await promise;
    assert.equal(result.account.homeAccountId, payload.sub);
    assert.ok(result.account.username.length <= 256);
  });
}

Deno.test("an issuer of 300 KB is not copied whole into the message", async () => {
  const { promise } = await signInWith(unsignedJwt(claims({ iss: "x".repeat(300_000) })));
  const error = await rejection(promise);
  assert.ok(error instanceof InvalidResponseError);
  assert.ok(error.message.length < 400, `${error.message.length} characters`);
});

// ---------------------------------------------------------------------------
// What the fuzzer found, kept as examples

function result(body: unknown): HttpResult {
  return { url: TOKEN, status: 400, headers: new Headers(), body, snippet: "" };
}

Deno.test("an error code of control characters and spaces is no error code", () => {
  for (const error of ["\u0000", " \n\t ", "\u001b[31m", ""]) {
    assert.equal(parseErrorBody(result({ error })), undefined, JSON.stringify(error));
  }
  assert.equal(parseErrorBody(result({ error: " slow_down\n" }))?.error, "slow_down");
  assert.equal(parseErrorBody(result({ error: "a\u0007b\nc" }))?.error, "ab c");
});

Deno.test("redacting 90 KB of JWT look-alikes from a server takes linear time", () => {
  const started = performance.now();
  const error = new ServerError({
    error: "invalid_grant",
    errorDescription: "eyJ".repeat(30_000),
    status: 400,
  });
  redact("eyJa".repeat(50_000));
  const elapsed = performance.now() - started;
  assert.ok(elapsed < 500, `took ${Math.round(elapsed)} ms`);
  assert.ok(error.message.startsWith("The server returned invalid_grant"));
});

Deno.test("redact still removes JWTs and registered secrets", () => {
  const jwt = unsignedJwt({ sub: "x" });
  assert.equal(redact(`Bearer ${jwt}.`), "Bearer [redacted].");
  assert.equal(redact(`token=${jwt}&x`), "token=[redacted]&x");
});

Deno.test("a cached expiry beyond what a date can hold is skipped as corrupt, not a crash", async () => {
  const home = await Deno.makeTempDir({ prefix: "deviceflow-bad-cache-" });
  try {
    const path = `${home}/cache.db`;
    const kv = await Deno.openKv(path);
    const account = {
      username: "alice",
      homeAccountId: "alice",
      authority: ISSUER,
      clientId: CLIENT_ID,
      provider: "oidc",
      signedInAt: Date.now(),
    };
    const ns = ["deviceflow", "v1"];
    await kv.set([...ns, "account", ISSUER, CLIENT_ID, "alice"], account);
    await kv.set([...ns, "access_token", ISSUER, CLIENT_ID, "alice", "api"], {
      secret: "at-0123456789",
      tokenType: "Bearer",
      scopes: ["api"],
      requestedScopes: ["api"],
      cachedAt: Date.now(),
      expiresAt: 1e300,
    });
    kv.close();
    for (const args of [["status", "--json"], ["token", "--no-interactive", "-o", "json"]]) {
      const run = await runIsolated([...args, "--cache", path], home);
      assert.doesNotMatch(run.stderr, /unexpected error/, `${args[0]}: ${run.stderr}`);
    }
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
