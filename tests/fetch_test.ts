/**
 * `deviceflow fetch` and `client.fetch()`: the token on the request, one
 * retry after a refresh or a claims challenge, exit codes, curl-like options,
 * and redirects that never take the token to another origin. Against
 * node-oidc-provider's userinfo endpoint, and the fake server as the API.
 */

import assert from "node:assert/strict";
import { startDevServer } from "./support/dev_server.ts";
import { TokenCache } from "../cache.ts";
import { DeviceFlowClient, InteractionRequiredError, parseWwwAuthenticate } from "../mod.ts";
import { decodeClaimsChallenge } from "../src/client/api_fetch.ts";
import { type FakeServer, json, startFakeServer } from "./support/fake_server.ts";
import { runMain, tempCache } from "./support/cli_harness.ts";
import {
  FAKE_CLIENT,
  type FakeTokens,
  runProcess,
  runWithIo,
  signInDev,
  signInFake,
} from "./support/signed_in.ts";

// oidc-provider keeps timers and sockets of its own between tests.
const opts = { sanitizeOps: false, sanitizeResources: false };

const CLAIMS = '{"access_token":{"acrs":{"essential":true,"value":"c1"}}}';

async function withApi(
  run: (server: FakeServer, cache: string, tokens: FakeTokens) => Promise<void>,
): Promise<void> {
  const server = await startFakeServer();
  const cache = await tempCache();
  try {
    const tokens = await signInFake(server, cache.path);
    await run(server, cache.path, tokens);
  } finally {
    await server.close();
    await cache.cleanup();
  }
}

function auth(server: FakeServer, path: string): (string | null)[] {
  return server.requestsTo(path).map((r) => r.headers.get("authorization"));
}

// ------------------------------------------------------------------ node-oidc-provider

Deno.test({
  name: "fetch calls node-oidc-provider's userinfo with the cached token and prints the JSON",
  ...opts,
  fn: async () => {
    const server = await startDevServer({ interval: 1 });
    const cache = await tempCache();
    try {
      await signInDev(server, cache.path, "alice");
      const result = await runMain(["fetch", `${server.issuer}/me`, "--cache", cache.path]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(JSON.parse(result.stdout).sub, "alice");
      assert.equal(result.stderr, "");
      const included = await runMain(["fetch", "-i", `${server.issuer}/me`, "--cache", cache.path]);
      assert.equal(included.code, 0, included.stderr);
      const [head, body] = included.stdout.split("\r\n\r\n");
      assert.match(head!, /^HTTP 200 OK\r\n/);
      assert.match(head!, /\r\ncontent-type: application\/json/);
      assert.equal(JSON.parse(body!).sub, "alice");
      // Without a token the same endpoint refuses: the token is what made it work.
      const bare = await fetch(`${server.issuer}/me`);
      await bare.body?.cancel();
      assert.equal(bare.status, 401);
    } finally {
      await server.close();
      await cache.cleanup();
    }
  },
});

Deno.test({
  name: "fetch refreshes once on invalid_token from node-oidc-provider, and exits 3 when refused",
  ...opts,
  fn: async () => {
    const server = await startDevServer({ interval: 1 });
    const cache = await tempCache();
    try {
      await signInDev(server, cache.path, "alice");
      await server.revokeAllGrants();
      const result = await runMain([
        "fetch",
        `${server.issuer}/me`,
        "--cache",
        cache.path,
        "--no-interactive",
      ]);
      assert.equal(result.code, 3, result.stderr);
      assert.equal(server.count({ path: "/me" }), 1);
      assert.equal(server.count({ path: "/token", grantType: "refresh_token" }), 1);
      assert.match(result.stderr, /refused the cached sign-in of alice \(invalid_grant\)/);
      assert.equal(result.stdout, "");
    } finally {
      await server.close();
      await cache.cleanup();
    }
  },
});

// ------------------------------------------------------------------ retries

Deno.test("fetch refreshes the token once and retries once after 401 invalid_token", () =>
  withApi(async (server, cache, tokens) => {
    server.route("GET", "/api/data", [
      {
        status: 401,
        headers: {
          "www-authenticate": 'Bearer error="invalid_token", error_description="expired"',
        },
        json: { error: "expired" },
      },
      json(200, { ok: true }),
    ]);
    const result = await runMain(["fetch", `${server.url}/api/data`, "--cache", cache]);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), { ok: true });
    assert.equal(tokens.refreshes().length, 1);
    assert.deepEqual(auth(server, "/api/data"), [
      "Bearer at-0-0123456789",
      "Bearer at-1-0123456789",
    ]);
    // The refreshed token is cached: the next call sends it without a refresh.
    const again = await runMain(["fetch", `${server.url}/api/data`, "--cache", cache]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(auth(server, "/api/data")[2], "Bearer at-1-0123456789");
    assert.equal(tokens.refreshes().length, 1);
  }));

Deno.test("fetch retries only once: a second invalid_token is the answer, exit 6", () =>
  withApi(async (server, cache, tokens) => {
    server.route("GET", "/api/data", {
      status: 401,
      headers: { "www-authenticate": 'Bearer realm="api", error="invalid_token"' },
      body: "no",
    });
    const result = await runMain(["fetch", `${server.url}/api/data`, "--cache", cache]);
    assert.equal(result.code, 6);
    assert.equal(result.stdout, "no");
    assert.equal(server.requestsTo("/api/data").length, 2);
    assert.equal(tokens.refreshes().length, 1);
    assert.match(
      result.stderr,
      /^deviceflow: fetch: 127\.0\.0\.1:\d+ answered HTTP 401 Unauthorized \(invalid_token\)\n$/,
    );
  }));

Deno.test("fetch answers a claims challenge: the refresh carries the decoded claims, and the retry succeeds", () =>
  withApi(async (server, cache, tokens) => {
    server.route("GET", "/api/secure", [
      {
        status: 401,
        headers: {
          "www-authenticate": `Bearer realm="", error="insufficient_claims", claims="${
            btoa(CLAIMS)
          }"`,
        },
        json: {},
      },
      { status: 200, body: "secret data" },
    ]);
    // Nobody approves here: the fake server answers the poll at once, so --interactive stands in for the person.
    const result = await runMain([
      "fetch",
      `${server.url}/api/secure`,
      "--cache",
      cache,
      "--interactive",
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "secret data");
    const [refresh] = tokens.refreshes();
    assert.equal(tokens.refreshes().length, 1);
    assert.equal(refresh!.form.get("claims"), CLAIMS);
    assert.equal(refresh!.form.get("refresh_token"), "rt-0-0123456789");
    assert.deepEqual(auth(server, "/api/secure"), [
      "Bearer at-0-0123456789",
      "Bearer at-1-0123456789",
    ]);
  }));

Deno.test("fetch signs in with the challenge's claims when the refresh token cannot answer it", () =>
  withApi(async (server, cache) => {
    // The server wants a new sign-in: the refresh fails, the device flow carries the claims.
    server.route(
      "POST",
      "/token",
      (req) =>
        req.form.get("grant_type") === "refresh_token"
          ? json(400, { error: "invalid_grant", error_description: "interaction required" })
          : json(200, {
            access_token: "at-9-0123456789",
            token_type: "Bearer",
            expires_in: 3600,
            refresh_token: "rt-9-0123456789",
          }),
    );
    server.route("GET", "/api/secure", [
      {
        status: 401,
        headers: {
          "www-authenticate": `Bearer error="insufficient_claims", claims="${btoa(CLAIMS)}"`,
        },
        json: {},
      },
      { status: 200, body: "secret data" },
    ]);
    // Nobody approves here: the fake server answers the poll at once, so --interactive stands in for the person.
    const result = await runMain([
      "fetch",
      `${server.url}/api/secure`,
      "--cache",
      cache,
      "--interactive",
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "secret data");
    const devices = server.requestsTo("/device");
    assert.equal(devices.length, 2, "one sign-in before, one for the challenge");
    assert.equal(devices[1]!.form.get("claims"), CLAIMS);
    assert.equal(devices[0]!.form.get("claims"), null);
    assert.deepEqual(auth(server, "/api/secure"), [
      "Bearer at-0-0123456789",
      "Bearer at-9-0123456789",
    ]);
  }));

Deno.test("fetch does not retry a 401 without invalid_token or a claims challenge", () =>
  withApi(async (server, cache, tokens) => {
    server.route("GET", "/api/data", {
      status: 401,
      headers: {
        "www-authenticate": 'Bearer realm="api", error="insufficient_user_authentication"',
      },
      body: "step up",
    });
    const result = await runMain(["fetch", `${server.url}/api/data`, "--cache", cache]);
    assert.equal(result.code, 6);
    assert.equal(server.requestsTo("/api/data").length, 1);
    assert.equal(tokens.refreshes().length, 0);
  }));

// ------------------------------------------------------------------ exit codes and output

Deno.test("fetch exits 6 on a 404 and still prints the body; -i prints the status and headers", () =>
  withApi(async (server, cache) => {
    server.route("GET", "/api/missing", {
      status: 404,
      headers: { "x-request-id": "r-42" },
      json: { error: "no such thing" },
    });
    const result = await runMain(["fetch", `${server.url}/api/missing`, "--cache", cache]);
    assert.equal(result.code, 6);
    assert.deepEqual(JSON.parse(result.stdout), { error: "no such thing" });
    assert.match(
      result.stderr,
      /^deviceflow: fetch: 127\.0\.0\.1:\d+ answered HTTP 404 Not Found\n$/,
    );
    const events = await runMain([
      "fetch",
      `${server.url}/api/missing`,
      "--json-events",
      "--cache",
      cache,
    ]);
    assert.equal(events.code, 6);
    assert.deepEqual(JSON.parse(events.stderr), {
      event: "error",
      code: "http_error",
      message: `fetch: ${new URL(server.url).host} answered HTTP 404 Not Found`,
      status: 404,
      exitCode: 6,
    });
    const included = await runMain(["fetch", `${server.url}/api/missing`, "-i", "--cache", cache]);
    assert.equal(included.code, 6);
    assert.equal(
      included.stdout,
      "HTTP 404 Not Found\r\nconnection: keep-alive\r\ncontent-length: 25\r\n" +
        'content-type: application/json\r\nx-request-id: r-42\r\n\r\n{"error":"no such thing"}',
    );
  }));

Deno.test("fetch writes a binary body to stdout byte for byte", () =>
  withApi(async (server, cache) => {
    const bytes = Uint8Array.from({ length: 70_000 }, (_, i) => (i * 7 + (i >> 8)) % 256);
    server.route("GET", "/api/blob", { status: 200, body: bytes });
    const inProcess = await runWithIo(["fetch", `${server.url}/api/blob`, "--cache", cache]);
    assert.equal(inProcess.code, 0, inProcess.stderr);
    assert.deepEqual(inProcess.bytes, bytes);
    const child = await runProcess(["fetch", `${server.url}/api/blob`, "--cache", cache]);
    assert.equal(child.code, 0, child.stderr);
    assert.deepEqual(child.bytes, bytes);
  }));

Deno.test("fetch refuses a plain-http URL that is not loopback with exit 2, before any request", () =>
  withApi(async (server, cache) => {
    const before = server.requests.length;
    const result = await runMain(["fetch", "http://api.example.com/x", "--cache", cache]);
    assert.equal(result.code, 2);
    assert.match(
      result.stderr,
      /^deviceflow: fetch: .*must use https \(plain http is allowed only on loopback addresses\)\n/,
    );
    assert.equal(server.requests.length, before);
    const noUrl = await runMain(["fetch", "--cache", cache]);
    assert.equal(noUrl.code, 2);
    assert.match(noUrl.stderr, /fetch: give the URL to call/);
  }));

// ------------------------------------------------------------------ request options

Deno.test("fetch sends -X, -H and -d as given; -d alone means a form POST", () =>
  withApi(async (server, cache) => {
    server.route("PUT", "/api/item", json(200, { saved: true }));
    server.route("POST", "/api/form", json(201, { created: true }));
    const put = await runMain([
      "fetch",
      `${server.url}/api/item`,
      "-X",
      "PUT",
      "-H",
      "Content-Type: application/json",
      "-H",
      "X-Trace:  abc 123 ",
      "-d",
      '{"name":"x"}',
      "--cache",
      cache,
    ]);
    assert.equal(put.code, 0, put.stderr);
    const [req] = server.requestsTo("/api/item");
    assert.equal(req!.method, "PUT");
    assert.equal(req!.headers.get("content-type"), "application/json");
    assert.equal(req!.headers.get("x-trace"), "abc 123");
    assert.equal(req!.body, '{"name":"x"}');
    assert.equal(req!.headers.get("authorization"), "Bearer at-0-0123456789");

    const post = await runMain([
      "fetch",
      `${server.url}/api/form`,
      "-d",
      "a=1&b=2",
      "--cache",
      cache,
    ]);
    assert.equal(post.code, 0, post.stderr);
    const [form] = server.requestsTo("/api/form");
    assert.equal(form!.method, "POST");
    assert.equal(form!.headers.get("content-type"), "application/x-www-form-urlencoded");
    assert.equal(form!.form.get("b"), "2");
  }));

Deno.test("fetch sends --data-file bytes and -d @- from stdin, and the same body again on a retry", () =>
  withApi(async (server, cache) => {
    const dir = await Deno.makeTempDir();
    try {
      const file = `${dir}/body.bin`;
      await Deno.writeFile(file, new TextEncoder().encode("from a file\n\u00e9"));
      server.route("POST", "/api/upload", [
        { status: 401, headers: { "www-authenticate": 'Bearer error="invalid_token"' } },
        json(200, {}),
      ]);
      const fromFile = await runMain([
        "fetch",
        `${server.url}/api/upload`,
        "--data-file",
        file,
        "-H",
        "content-type: text/plain",
        "--cache",
        cache,
      ]);
      assert.equal(fromFile.code, 0, fromFile.stderr);
      const sent = server.requestsTo("/api/upload");
      assert.equal(sent.length, 2);
      for (const req of sent) {
        assert.equal(req.body, "from a file\n\u00e9");
        assert.equal(req.headers.get("content-type"), "text/plain");
      }

      server.route("POST", "/api/stdin", json(200, {}));
      const fromStdin = await runWithIo(
        ["fetch", `${server.url}/api/stdin`, "-d", "@-", "--cache", cache],
        "q=from+stdin",
      );
      assert.equal(fromStdin.code, 0, fromStdin.stderr);
      assert.equal(server.requestsTo("/api/stdin")[0]!.body, "q=from+stdin");

      const child = await runProcess(
        ["fetch", `${server.url}/api/stdin`, "-d", "@-", "--cache", cache],
        "piped=yes",
      );
      assert.equal(child.code, 0, child.stderr);
      assert.equal(server.requestsTo("/api/stdin")[1]!.form.get("piped"), "yes");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }));

Deno.test("fetch rejects malformed options with exit 2", () =>
  withApi(async (server, cache) => {
    const url = `${server.url}/api/x`;
    for (
      const [args, pattern] of [
        [["-H", "no colon"], /-H needs "Name: value"/],
        [["-H", "Authorization: Bearer mine"], /-H Authorization is not allowed/],
        [["-X", "GET", "-d", "x"], /cannot send GET/],
        [["-d", "a", "-d", "b"], /give -d once/],
        [["-d", "a", "--data-file", "/etc/hostname"], /exclude each other/],
        [["-X", "BAD METHOD"], /-X needs a method name/],
        [[`${server.url}/other`], /unexpected argument/],
      ] as const
    ) {
      const result = await runMain(["fetch", url, ...args, "--cache", cache]);
      assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
      assert.match(result.stderr, pattern);
    }
    assert.equal(server.requestsTo("/api/x").length, 0);
  }));

// ------------------------------------------------------------------ redirects

Deno.test("fetch follows a same-origin redirect with the token, but not one to another origin", () =>
  withApi(async (server, cache) => {
    const other = await startFakeServer();
    try {
      other.route("GET", "/landing", json(200, { leaked: true }));
      server.route("GET", "/api/old", { status: 302, headers: { location: "/api/new" } });
      server.route("GET", "/api/new", json(200, { moved: true }));
      server.route("GET", "/api/away", {
        status: 302,
        headers: { location: `${other.url}/landing` },
        body: "moved away",
      });
      const same = await runMain(["fetch", `${server.url}/api/old`, "--cache", cache]);
      assert.equal(same.code, 0, same.stderr);
      assert.deepEqual(JSON.parse(same.stdout), { moved: true });
      assert.deepEqual(auth(server, "/api/new"), ["Bearer at-0-0123456789"]);

      const away = await runMain(["fetch", `${server.url}/api/away`, "-i", "--cache", cache]);
      assert.equal(away.code, 6);
      assert.match(away.stdout, /^HTTP 302 Found\r\n/);
      assert.match(away.stdout, new RegExp(`\r\nlocation: ${other.url}/landing\r\n`));
      assert.match(away.stderr, /redirect to http:\/\/127\.0\.0\.1:\d+ was not followed/);
      assert.equal(other.requests.length, 0, "the other origin was called");
    } finally {
      await other.close();
    }
  }));

// ------------------------------------------------------------------ the library

Deno.test("client.fetch() retries after invalid_token and a claims challenge, and keeps redirects in the origin", () =>
  withApi(async (server, cachePath, tokens) => {
    const cache = await TokenCache.open(cachePath);
    const other = await startFakeServer();
    try {
      const client = new DeviceFlowClient({ authority: server.url, clientId: FAKE_CLIENT, cache });
      server.route("POST", "/api/echo", [
        { status: 401, headers: { "www-authenticate": 'Bearer error="invalid_token"' } },
        { status: 200, body: "first" },
      ]);
      const first = await client.fetch(`${server.url}/api/echo`, {
        method: "POST",
        body: new URLSearchParams({ x: "1" }),
      });
      assert.equal(first.status, 200);
      assert.equal(await first.text(), "first");
      assert.deepEqual(server.requestsTo("/api/echo").map((r) => r.form.get("x")), ["1", "1"]);
      assert.equal(tokens.refreshes().length, 1);

      const challenge = btoa(CLAIMS).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
      server.route("GET", "/api/claims", [
        {
          status: 401,
          headers: {
            "www-authenticate":
              `Basic realm="x", Bearer error="insufficient_claims", claims="${challenge}"`,
          },
        },
        { status: 200, body: "second" },
      ]);
      const second = await client.fetch(new Request(`${server.url}/api/claims`));
      assert.equal(await second.text(), "second");
      assert.equal(tokens.refreshes()[1]!.form.get("claims"), CLAIMS);
      assert.deepEqual(auth(server, "/api/claims"), [
        "Bearer at-1-0123456789",
        "Bearer at-2-0123456789",
      ]);

      server.route("GET", "/api/away", { status: 307, headers: { location: `${other.url}/x` } });
      const away = await client.fetch(`${server.url}/api/away`);
      await away.body?.cancel();
      assert.equal(away.status, 307);
      assert.equal(other.requests.length, 0);

      await assert.rejects(client.fetch("http://api.example.com/"), TypeError);
      await assert.rejects(
        client.fetch(`${server.url}/x`, { account: "nobody" }),
        InteractionRequiredError,
      );
    } finally {
      cache.close();
      await other.close();
    }
  }));

// ------------------------------------------------------------------ WWW-Authenticate

Deno.test("parseWwwAuthenticate() reads several challenges, quoted strings with escapes and token68", () => {
  assert.deepEqual(
    parseWwwAuthenticate(
      'Newauth realm="apps", type=1, title="Login to \\"apps\\"", Basic realm="simple", ' +
        'Bearer realm="", error="insufficient_claims", claims="eyJh==", Negotiate abc+/9==',
    ),
    [
      { scheme: "Newauth", params: { realm: "apps", type: "1", title: 'Login to "apps"' } },
      { scheme: "Basic", params: { realm: "simple" } },
      { scheme: "Bearer", params: { realm: "", error: "insufficient_claims", claims: "eyJh==" } },
      { scheme: "Negotiate", params: {}, token68: "abc+/9==" },
    ],
  );
  assert.deepEqual(parseWwwAuthenticate('Bearer  ERROR = "a,b" ,error_description="x"'), [
    { scheme: "Bearer", params: { error: "a,b", error_description: "x" } },
  ]);
  assert.deepEqual(parseWwwAuthenticate("Bearer"), [{ scheme: "Bearer", params: {} }]);
  assert.deepEqual(parseWwwAuthenticate(""), []);
});

Deno.test("decodeClaimsChallenge() takes standard and URL-safe base64 JSON, and refuses the rest", () => {
  // Its base64 has "/", "+" and padding.
  const json = '{"access_token":{"xms_cc":{"values":["cp1"]},"note":"???>>>"}}';
  const standard = btoa(json);
  assert.match(standard, /\/.*\+.*=$/);
  assert.equal(decodeClaimsChallenge(standard), json);
  assert.equal(decodeClaimsChallenge(standard.replace(/=+$/, "")), json);
  assert.equal(decodeClaimsChallenge(standard.replaceAll("+", "-").replaceAll("/", "_")), json);
  assert.equal(decodeClaimsChallenge(json), json);
  assert.equal(decodeClaimsChallenge(btoa("[1]")), undefined);
  assert.equal(decodeClaimsChallenge("not base64!"), undefined);
});
