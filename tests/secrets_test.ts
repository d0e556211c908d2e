/**
 * No secret leaks. Every command runs as a real process at its most verbose
 * (`--verbose`: request lines, statuses and timings), against node-oidc-provider
 * through a recording proxy (so that every token the server sent is known,
 * ID tokens included) and against a scripted server whose client needs a
 * secret and which echoes tokens back in its errors and in malformed answers.
 * Then stdout, stderr and every file written (except the KV database, where
 * tokens are meant to be) are searched for every access token, refresh token,
 * ID token, device code and client secret. Only the token `token` (or
 * `git-credential`) was asked to print may appear, and only on stdout.
 */

import assert from "node:assert/strict";
import { approveDeviceCode } from "./support/approve.ts";
import { type DevServer, startDevServer } from "./support/dev_server.ts";
import { TokenCache } from "../cache.ts";
import { findPrompt } from "./support/cli_harness.ts";
import { type ConnectProxy, exchangeText, startConnectProxy } from "./support/connect_proxy.ts";
import {
  discoveryDocument,
  type FakeReply,
  type FakeServer,
  json,
  startFakeServer,
} from "./support/fake_server.ts";
import { unsignedJwt } from "./support/scripted_fetch.ts";

// oidc-provider keeps timers and sockets of its own between tests.
const opts = { sanitizeOps: false, sanitizeResources: false };
const CLI = new URL("../cli.ts", import.meta.url).pathname;
/** The client secret every run has in its environment (the dev server's client refuses it). */
const MARKER = "MARKER-client-secret-7f3a9c21e8d4";
/** A secret kept in a profile of the config file. */
const PROFILE_SECRET = "PROFILE-client-secret-5b1e0d77a2";
/** A wrong secret, which the scripted server echoes back. */
const WRONG_SECRET = "WRONG-client-secret-c0ffee1234";
// Shorter strings are not tokens.
const MIN_SECRET = 8;
const JWT = /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;

interface Run {
  label: string;
  args: string[];
  code: number;
  stdout: string;
  stderr: string;
  /** How to find, on stdout, the token the command was asked to print. */
  prints?: (stdout: string) => string | undefined;
}

interface RunOptions {
  env?: Record<string, string>;
  stdin?: string;
  approve?: (stderr: string) => Promise<boolean>;
  prints?: Run["prints"];
  expect?: number;
}

/** Everything one scan needs: a private HOME, the runs, and every secret seen. */
class Scan {
  readonly runs: Run[] = [];
  readonly secrets = new Map<string, string>();
  readonly home: string;
  readonly env: Record<string, string>;

  constructor(readonly root: string, denoDir: string) {
    this.home = `${root}/home`;
    const inherited = Deno.env.toObject();
    for (const name of Object.keys(inherited)) {
      if (/proxy|^DEVICEFLOW_/i.test(name)) delete inherited[name];
    }
    this.env = {
      ...inherited,
      HOME: this.home,
      XDG_CACHE_HOME: `${this.home}/.cache`,
      XDG_CONFIG_HOME: `${this.home}/.config`,
      DENO_DIR: denoDir,
      NO_COLOR: "1",
      // The scan reads the prompt's words: English, whatever LANG says.
      DEVICEFLOW_LANG: "en",
      DEVICEFLOW_CLIENT_SECRET: MARKER,
    };
  }

  get cachePath(): string {
    return `${this.home}/.cache/deviceflow/cache.db`;
  }

  secret(value: unknown, what: string): void {
    if (typeof value === "string" && value.length >= MIN_SECRET && !this.secrets.has(value)) {
      this.secrets.set(value, what);
    }
  }

  /** Runs the CLI as a process; asserts the exit code. */
  async run(label: string, args: string[], options: RunOptions = {}): Promise<Run> {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", "--unstable-kv", CLI, ...args],
      stdin: options.stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
      clearEnv: true,
      env: { ...this.env, ...options.env },
      cwd: this.home,
    }).spawn();
    if (options.stdin !== undefined) {
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(options.stdin));
      await writer.close();
    }
    // A run that waits for a sign-in nobody approves must not hold the suite.
    const timer = setTimeout(() => child.kill(), 60_000);
    const stdout = new Response(child.stdout).text();
    let stderr = "";
    let approved = !options.approve;
    for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) {
      stderr += text;
      if (!approved) approved = await options.approve!(stderr);
    }
    const status = await child.status;
    clearTimeout(timer);
    const run: Run = {
      label,
      args,
      code: status.code,
      stdout: await stdout,
      stderr,
      ...(options.prints ? { prints: options.prints } : {}),
    };
    this.runs.push(run);
    assert.equal(run.code, options.expect ?? 0, `${label}: ${run.stderr}`);
    return run;
  }

  /** Every token in the cache file, read as a program would. */
  async collectFromCache(): Promise<void> {
    const cache = await TokenCache.open(this.cachePath);
    try {
      for (const account of await cache.getAccounts()) {
        for (const token of await cache.getAccessTokens(account)) {
          this.secret(token.secret, "access token (cache)");
        }
        this.secret((await cache.getRefreshToken(account))?.secret, "refresh token (cache)");
      }
      for (const { pending } of await cache.listPending()) {
        this.secret(pending.deviceCode, "device code (cache)");
      }
    } finally {
      cache.close();
    }
  }

  /** Every token in the plain HTTP the proxy saw, both ways. */
  collectFromProxy(proxy: ConnectProxy): void {
    for (const request of proxy.requests) {
      const { request: sent, response } = exchangeText(request);
      for (const [, name, value] of response.matchAll(FIELD_IN_JSON)) {
        this.secret(value, `${name} (server)`);
      }
      for (const [, name, value] of sent.matchAll(FIELD_IN_FORM)) {
        this.secret(decodeURIComponent(value!.replace(/\+/g, " ")), `${name} (client)`);
      }
      for (const [, value] of sent.matchAll(/^authorization: Bearer (\S+)/gim)) {
        this.secret(value, "access token (Authorization header)");
      }
    }
  }

  /** Every file under the scan's directory, except the KV database and the config file. */
  async files(): Promise<{ path: string; text: string }[]> {
    const out: { path: string; text: string }[] = [];
    const walk = async (dir: string) => {
      for await (const entry of Deno.readDir(dir)) {
        const path = `${dir}/${entry.name}`;
        if (entry.isDirectory) await walk(path);
        else if (
          entry.isFile && !/^cache\.db(-wal|-shm|-journal)?$|^config\.json$/.test(entry.name)
        ) {
          out.push({ path, text: new TextDecoder().decode(await Deno.readFile(path)) });
        }
      }
    };
    await walk(this.root);
    return out;
  }

  /** The leaks: each secret anywhere it may not be. */
  async leaks(): Promise<{ found: string[]; files: string[]; outputs: number }> {
    const found: string[] = [];
    const secrets = [...this.secrets.entries()];
    const known = (value: string) => this.secrets.get(value);
    for (const run of this.runs) {
      const printed = run.prints?.(run.stdout);
      if (run.prints) {
        assert.ok(printed, `${run.label}: no token found on stdout`);
        assert.match(
          known(printed) ?? "",
          /^access token/,
          `${run.label} printed ${known(printed)}`,
        );
      }
      for (const [value, what] of secrets) {
        if (run.stderr.includes(value)) {
          found.push(`${run.label}: ${what} on stderr: ${lineWith(run.stderr, value)}`);
        }
        if (value !== printed && run.stdout.includes(value)) {
          found.push(`${run.label}: ${what} on stdout: ${lineWith(run.stdout, value)}`);
        }
      }
      for (const [stream, text] of [["stderr", run.stderr], ["stdout", run.stdout]] as const) {
        for (const [jwt] of text.matchAll(JWT)) {
          if (jwt !== printed) {
            found.push(`${run.label}: a JWT on ${stream}: ${jwt.slice(0, 20)}...`);
          }
        }
      }
    }
    const files = await this.files();
    for (const file of files) {
      for (const [value, what] of secrets) {
        if (file.text.includes(value)) found.push(`${file.path}: ${what}`);
      }
    }
    return { found, files: files.map((f) => f.path), outputs: this.runs.length * 2 };
  }
}

/** The line of a text that holds a secret, with the secret masked, for the failure message. */
function lineWith(text: string, secret: string): string {
  const line = text.split("\n").find((l) => l.includes(secret)) ?? "";
  return JSON.stringify(line.replaceAll(secret, "<SECRET>").slice(0, 300));
}

/** The kinds of secret, for the summary. */
const KINDS: readonly [string, RegExp][] = [
  ["access token", /access/i],
  ["refresh token", /refresh/i],
  ["ID token", /^id.?token/i],
  ["device code", /device/i],
  ["client secret", /secret/i],
];

const FIELD_IN_JSON =
  /"(access_token|refresh_token|id_token|device_code|client_secret)"\s*:\s*"([^"\\]+)"/g;
const FIELD_IN_FORM = /(?:^|[&\n])(refresh_token|device_code|client_secret|token)=([^&\s]+)/g;

async function denoDir(): Promise<string> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json"],
    stdout: "piped",
    stderr: "null",
  }).output();
  return JSON.parse(new TextDecoder().decode(output.stdout)).denoDir;
}

/** Approves the prompt (text or JSON events) once it is on stderr; false while it is not. */
function approver(login: string) {
  return async (stderr: string): Promise<boolean> => {
    const text = findPrompt(stderr);
    const event = stderr.split("\n").map((line) => {
      try {
        return JSON.parse(line);
      } catch {
        return undefined;
      }
    }).find((e) => e?.event === "device_code");
    const prompt = text ??
      (event ? { address: event.verificationUri, code: event.userCode } : undefined);
    if (!prompt) return false;
    await approveDeviceCode(prompt.address, prompt.code, { login });
    return true;
  };
}

const raw = (stdout: string) => stdout.trim();
const PRINTS: Readonly<Record<string, (stdout: string) => string | undefined>> = {
  raw,
  json: (stdout) => JSON.parse(stdout).accessToken,
  env: (stdout) => stdout.match(/^export ACCESS_TOKEN='([^']*)'$/m)?.[1],
  header: (stdout) => stdout.match(/^Authorization: \S+ (\S+)$/m)?.[1],
  "exec-credential": (stdout) => JSON.parse(stdout).status.token,
};

// ---------------------------------------------------------------------------

async function devServerRuns(scan: Scan, server: DevServer, proxy: ConnectProxy): Promise<void> {
  const env = { HTTP_PROXY: proxy.url };
  // The dev client is public: it must not be sent a secret, so these runs have none.
  const publicEnv = { ...env, DEVICEFLOW_CLIENT_SECRET: "" };
  const server_ = ["--authority", server.issuer, "--client-id", server.clientId];
  const v = "--verbose";

  await scan.run("login (secret refused by a public client)", ["login", v, ...server_], {
    env,
    expect: 1,
  });
  await scan.run("login", ["login", v, ...server_], {
    env: publicEnv,
    approve: approver("alice"),
  });
  await scan.run("login --json-events", ["login", v, "--json-events", ...server_], {
    env: publicEnv,
    approve: approver("alice"),
  });
  const started = await scan.run("login --no-wait", ["login", v, "--no-wait", ...server_], {
    env: publicEnv,
  });
  const pending = JSON.parse(started.stdout);
  await scan.collectFromCache();
  await approveDeviceCode(pending.verificationUri, pending.userCode, { login: "alice" });
  await scan.run("login --resume", ["login", v, "--resume"], { env: publicEnv });
  await scan.collectFromCache();

  for (const output of Object.keys(PRINTS)) {
    await scan.run(`token -o ${output}`, ["token", v, "-o", output], {
      env: publicEnv,
      prints: PRINTS[output]!,
    });
  }
  await scan.run("token --force-refresh", ["token", v, "--force-refresh"], {
    env: publicEnv,
    prints: raw,
  });
  await scan.collectFromCache();
  await scan.run("git-credential get", [
    "git-credential",
    v,
    "--git-host",
    "git.example.com",
    "get",
  ], {
    env: publicEnv,
    stdin: "protocol=https\nhost=git.example.com\n\n",
    prints: (stdout) => stdout.match(/^password=(.*)$/m)?.[1],
  });
  for (const args of [["accounts"], ["accounts", "--json"], ["status"], ["status", "--json"]]) {
    await scan.run(args.join(" "), [...args, v], { env });
  }
  for (const args of [["config", "list"], ["config", "show"], ["config", "show", "--json"]]) {
    await scan.run(args.join(" "), [...args, v, "--profile", "dev"], { env });
  }
  await scan.run("config show (environment secret)", ["config", "show", v], { env });
  await scan.run("fetch", ["fetch", v, `${server.issuer}/me`], { env: publicEnv });
  await scan.run("fetch -i", ["fetch", v, "-i", `${server.issuer}/me`], { env: publicEnv });
  await scan.run(
    "run",
    ["run", v, "--", "sh", "-c", 'test "${#ACCESS_TOKEN}" -gt 20 && echo child ran'],
    { env: publicEnv },
  );

  // decode prints the claims of the token it is given, never the token.
  scan.collectFromProxy(proxy);
  const idToken = [...scan.secrets].find(([, what]) => what.startsWith("id_token"))?.[0];
  assert.ok(idToken, "no ID token went through the proxy");
  await scan.run("decode (ID token on stdin)", ["decode"], { stdin: idToken });
  const accessToken = [...scan.secrets].find(([, what]) => what.startsWith("access"))?.[0];
  await scan.run("decode (opaque access token)", ["decode", "-"], {
    stdin: accessToken!,
    expect: 1,
  });

  // The server forgets every grant: refreshing is refused.
  await server.revokeAllGrants();
  await scan.run(
    "token --force-refresh (invalid_grant)",
    ["token", v, "--force-refresh", "--no-interactive"],
    { env: publicEnv, expect: 3 },
  );
  await scan.run("login (again)", ["login", v, ...server_], {
    env: publicEnv,
    approve: approver("alice"),
  });
  await scan.collectFromCache();
  await scan.run("logout", ["logout", v], { env: publicEnv });
  await scan.run("logout (nothing left)", ["logout", v], { env: publicEnv, expect: 3 });
  await scan.run("status (nothing left)", ["status", v], { env, expect: 3 });
  scan.collectFromProxy(proxy);
  for (const poll of server.polls()) scan.secret(poll.deviceCode, "device code (server log)");
}

/** What the scripted server's token endpoint does with a refresh. */
type RefreshMode =
  | "ok"
  | "echo"
  | "echo-400"
  | "echo-500"
  | "echo-form"
  | "array"
  | "wrong-type"
  | "html"
  | "bad-issuer";

const CLIENT = "secret-client";

function scriptServer(server: FakeServer, scan: Scan) {
  const issued: string[] = [];
  let n = 0;
  const state = { mode: "ok" as RefreshMode, pollError: false, refresh: "", access: "" };
  const fresh = (what: string) => {
    // URL-safe, so that a form or a query echoing one carries it as it is.
    const value = `${what.replaceAll(" ", "_")}-${++n}-${crypto.randomUUID()}`;
    scan.secret(value, what);
    issued.push(value);
    return value;
  };
  const deviceCode = fresh("device-code");
  const idToken = (iss = server.url) => {
    const token = unsignedJwt({
      iss,
      aud: CLIENT,
      sub: "carol",
      preferred_username: "carol",
      exp: Math.floor(Date.now() / 1000) + 3600,
    });
    scan.secret(token, "id token");
    return token;
  };
  const tokens = () => {
    state.access = fresh("access token");
    state.refresh = fresh("refresh token");
    return {
      access_token: state.access,
      refresh_token: state.refresh,
      id_token: idToken(),
      token_type: "Bearer",
      expires_in: 3600,
    };
  };
  // What a refreshing process has seen: the refresh token, the cached access token, the secret.
  const everything = () => `refresh ${state.refresh} access ${state.access} secret ${MARKER}`;
  const badSecret = (secret: string | null): FakeReply | undefined =>
    secret === MARKER ? undefined : json(401, {
      error: "invalid_client",
      error_description: `client_secret ${secret} is wrong`,
    });

  server.route(
    "GET",
    "/.well-known/openid-configuration",
    json(200, discoveryDocument(server.url)),
  );
  let polls = 0;
  server.route("POST", "/device", (req) => {
    polls = 0;
    return badSecret(req.form.get("client_secret")) ?? json(200, {
      device_code: deviceCode,
      user_code: "WDJB-MJHT",
      verification_uri: `${server.url}/verify`,
      expires_in: 600,
      interval: 1,
    });
  });
  server.route("POST", "/token", (req) => {
    const bad = badSecret(req.form.get("client_secret"));
    if (bad) return bad;
    if (req.form.get("grant_type") !== "refresh_token") {
      if (state.pollError) {
        return json(400, {
          error: "invalid_request",
          error_description: `device_code ${req.form.get("device_code")} is malformed (${MARKER})`,
        });
      }
      return ++polls === 1
        ? json(400, {
          error: "authorization_pending",
          error_description: `waiting for ${req.form.get("device_code")}`,
        })
        : json(200, tokens());
    }
    switch (state.mode) {
      case "ok":
        return json(200, tokens());
      case "echo":
        return json(400, { error: "invalid_grant", error_description: everything() });
      case "echo-400":
        return json(400, { error: "invalid_scope", error_description: everything() });
      case "echo-500":
        return json(500, { error: "server_error", error_description: everything() });
      case "echo-form":
        return {
          status: 400,
          headers: { "content-type": "text/plain" },
          body: `error=invalid_request&error_description=${encodeURIComponent(everything())}`,
        };
      case "array":
        return json(200, [{
          access_token: fresh("access token"),
          refresh_token: fresh("refresh token"),
        }]);
      case "wrong-type":
        return json(200, {
          access_token: fresh("access token"),
          refresh_token: fresh("refresh token"),
          expires_in: "soon",
        });
      case "html":
        return {
          status: 400,
          headers: { "content-type": "text/html" },
          body: `<html><body>Bad request. access_token=${
            fresh("access token")
          } refresh_token=${state.refresh}</body></html>`,
        };
      case "bad-issuer":
        return json(200, { ...tokens(), id_token: idToken("https://evil.example") });
    }
  });
  server.route("POST", "/revoke", (req) =>
    json(400, {
      error: "unsupported_token_type",
      error_description: `cannot revoke ${req.form.get("token")}`,
    }));
  server.route("GET", "/userinfo", json(200, { sub: "carol", preferred_username: "carol" }));
  server.route("GET", "/api", (req) => ({
    status: 401,
    headers: {
      "www-authenticate": `Bearer error="invalid_token", error_description="the token ${
        req.headers.get("authorization")?.replace(/^Bearer /, "")
      } has expired"`,
      "content-type": "application/json",
    },
    body: JSON.stringify({ error: "invalid_token" }),
  }));
  return state;
}

async function scriptedServerRuns(scan: Scan, server: FakeServer): Promise<void> {
  const state = scriptServer(server, scan);
  scan.secret(WRONG_SECRET, "a wrong client secret");
  const v = "--verbose";
  const server_ = [
    "--authority",
    server.url,
    "--client-id",
    CLIENT,
    "--cache",
    `${scan.root}/b/cache.db`,
  ];
  await scan.run("secret client: login with a wrong secret", ["login", v, ...server_], {
    env: { DEVICEFLOW_CLIENT_SECRET: WRONG_SECRET },
    expect: 1,
  });
  state.pollError = true;
  await scan.run("secret client: login (a poll error echoing the device code)", [
    "login",
    v,
    ...server_,
  ], { expect: 1 });
  state.pollError = false;
  await scan.run("secret client: login", ["login", v, ...server_]);
  await scan.run("secret client: token -o json", ["token", v, "-o", "json", ...server_], {
    prints: PRINTS.json!,
  });
  const outcomes: [RefreshMode, number][] = [
    ["ok", 0],
    ["echo", 3],
    ["ok", 0],
    // An error the CLI prints with the server's description.
    ["echo-400", 1],
    // An unavailable server: the cached token, still valid, is used.
    ["echo-500", 0],
    ["echo-form", 1],
    ["array", 1],
    ["wrong-type", 1],
    ["html", 1],
    ["bad-issuer", 1],
    ["ok", 0],
  ];
  for (const [mode, code] of outcomes) {
    state.mode = mode;
    // "echo" makes the server refuse the refresh token: sign in again after it.
    if (mode === "ok" && code === 0 && scan.runs.at(-1)?.code === 3) {
      await scan.run("secret client: login (again)", ["login", v, ...server_]);
    }
    await scan.run(
      `secret client: refresh (${mode})`,
      ["token", v, "--force-refresh", "--no-interactive", ...server_],
      {
        expect: code,
        ...(code === 0 ? { prints: raw } : {}),
      },
    );
  }
  state.mode = "ok";
  await scan.run("secret client: fetch (401 echoing the token)", [
    "fetch",
    v,
    `${server.url}/api`,
    ...server_,
  ], {
    expect: 6,
  });
  await scan.run("secret client: status --json", [
    "status",
    v,
    "--json",
    "--cache",
    `${scan.root}/b/cache.db`,
  ]);
  await scan.run("secret client: logout (revocation error echoing the token)", [
    "logout",
    v,
    "--cache",
    `${scan.root}/b/cache.db`,
  ]);
  // Everything the server was sent.
  for (const request of server.requests) {
    for (const [name, value] of request.form) {
      if (/^(access_token|refresh_token|token|device_code|client_secret)$/.test(name)) {
        scan.secret(value, `${name} (sent)`);
      }
    }
  }
}

Deno.test({
  name: "no command, at its most verbose, prints or writes a token, device code or client secret",
  ...opts,
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "deviceflow-secrets-" });
    const scan = new Scan(root, await denoDir());
    scan.secret(MARKER, "client secret (environment)");
    scan.secret(PROFILE_SECRET, "client secret (profile)");
    await Deno.mkdir(`${scan.home}/.config/deviceflow`, { recursive: true });
    const config = `${scan.home}/.config/deviceflow/config.json`;
    const devServer = await startDevServer({ interval: 1 });
    const proxy = await startConnectProxy({ record: true });
    const fake = await startFakeServer();
    try {
      await Deno.writeTextFile(
        config,
        JSON.stringify({
          profiles: {
            dev: {
              authority: devServer.issuer,
              clientId: devServer.clientId,
              clientSecret: PROFILE_SECRET,
            },
          },
        }),
        { mode: 0o600 },
      );
      await devServerRuns(scan, devServer, proxy);
      await scriptedServerRuns(scan, fake);
    } finally {
      await fake.close();
      await proxy.close();
      await devServer.close();
    }
    try {
      const counts = new Map<string, number>();
      for (const what of scan.secrets.values()) {
        const kind = KINDS.find(([, pattern]) => pattern.test(what))?.[0] ?? what;
        counts.set(kind, (counts.get(kind) ?? 0) + 1);
      }
      for (const [kind] of KINDS) assert.ok(counts.get(kind), `no ${kind} was collected`);
      const { found, files, outputs } = await scan.leaks();
      console.log(
        `secret scan: ${scan.runs.length} runs, ${scan.secrets.size} secrets (${
          [...counts].map(([kind, n]) => `${n} ${kind}s`).join(", ")
        }), ${outputs} outputs searched, ${files.length} files written besides the cache and the config file, ${found.length} found`,
      );
      // The cache is the only file the CLI writes.
      assert.deepEqual(files, []);
      assert.deepEqual(found, []);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});
