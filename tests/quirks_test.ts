/**
 * Provider quirks and faults that node-oidc-provider cannot produce, from the
 * scriptable fake server, through the CLI in real time. The polling rules are
 * asserted from the server side: the gaps between the polls it received.
 */

import assert from "node:assert/strict";
import {
  discoveryDocument,
  type FakeReply,
  type FakeServer,
  json,
  startFakeServer,
} from "./support/fake_server.ts";
import { runMain, tempCache } from "./support/cli_harness.ts";

const CLIENT = "quirk-client";

function deviceResponse(overrides: Record<string, unknown> = {}): FakeReply {
  return json(200, {
    device_code: "dc-secret-0123456789",
    user_code: "WDJB-MJHT",
    verification_uri: "https://example.com/device",
    expires_in: 600,
    interval: 1,
    ...overrides,
  });
}

const TOKEN_OK = json(200, {
  access_token: "at-0123456789abcdef",
  token_type: "Bearer",
  expires_in: 3600,
  refresh_token: "rt-0123456789abcdef",
});

async function withFake(
  setup: (server: FakeServer) => void,
  run: (server: FakeServer, args: string[]) => Promise<void>,
): Promise<void> {
  const server = await startFakeServer();
  const cache = await tempCache();
  try {
    server.route(
      "GET",
      "/.well-known/openid-configuration",
      json(200, discoveryDocument(server.url)),
    );
    setup(server);
    await run(server, [
      "login",
      "--authority",
      server.url,
      "--client-id",
      CLIENT,
      "--cache",
      cache.path,
      "--no-default-scopes",
    ]);
  } finally {
    await server.close();
    await cache.cleanup();
  }
}

function pollGaps(server: FakeServer): number[] {
  const times = server.requestsTo("/token").map((r) => r.time);
  return times.slice(1).map((t, i) => t - times[i]!);
}

const pending = json(400, { error: "authorization_pending" });

Deno.test("a GitHub-style HTTP 200 slow_down with a new interval is honoured", () =>
  withFake((server) => {
    server.route("POST", "/device", deviceResponse());
    server.route("POST", "/token", [
      json(200, { error: "authorization_pending" }),
      json(200, { error: "slow_down", interval: 7 }),
      json(200, { error: "authorization_pending" }),
      TOKEN_OK,
    ]);
  }, async (server, args) => {
    const result = await runMain(args);
    assert.equal(result.code, 0, result.stderr);
    const gaps = pollGaps(server);
    assert.equal(gaps.length, 3);
    assert.ok(gaps[0]! >= 990, `gap ${gaps[0]}`);
    // max(1 + 5, 7) = 7 s, and it stays at 7 for the next poll too.
    assert.ok(gaps[1]! >= 6990, `gap after slow_down ${gaps[1]}`);
    assert.ok(gaps[2]! >= 6990, `gap after pending ${gaps[2]}`);
    const first = server.requestsTo("/token")[0]!;
    assert.equal(first.form.get("grant_type"), "urn:ietf:params:oauth:grant-type:device_code");
    assert.equal(first.form.get("device_code"), "dc-secret-0123456789");
    assert.equal(first.form.get("client_id"), CLIENT);
    assert.ok(!result.stderr.includes("dc-secret"), "the device code leaked");
  }));

Deno.test("429 with Retry-After and 503 without it delay the next poll", () =>
  withFake((server) => {
    server.route("POST", "/device", deviceResponse());
    server.route("POST", "/token", [
      json(429, { message: "too many" }, { "retry-after": "3" }),
      {
        status: 503,
        body: "<html>Service Unavailable</html>",
        headers: { "content-type": "text/html" },
      },
      TOKEN_OK,
    ]);
  }, async (server, args) => {
    const result = await runMain(args);
    assert.equal(result.code, 0, result.stderr);
    const gaps = pollGaps(server);
    assert.ok(gaps[0]! >= 2990, `Retry-After 3 was not honoured: ${gaps[0]}`);
    // The first failure backs off to twice the interval.
    assert.ok(gaps[1]! >= 1990, `503 did not back off: ${gaps[1]}`);
    assert.match(result.stderr, /HTTP 429 Too Many Requests; retrying in 3 s/);
    assert.match(result.stderr, /HTTP 503; retrying in 2 s/);
  }));

Deno.test("a connection reset mid-response while polling is retried with back-off", () =>
  withFake((server) => {
    server.route("POST", "/device", deviceResponse());
    // A connection closed before answering is retried by fetch itself; one
    // cut mid-body reaches the client.
    server.route("POST", "/token", [
      { fault: "reset-mid-body", status: 200, body: '{"error":"authoriz' },
      TOKEN_OK,
    ]);
  }, async (server, args) => {
    const result = await runMain(args);
    assert.equal(result.code, 0, result.stderr);
    assert.ok(pollGaps(server)[0]! >= 1990);
    assert.match(result.stderr, /127\.0\.0\.1:\d+ was cut short.*retrying in 2 s/);
  }));

Deno.test("Google's verification_url and numeric strings are accepted", () =>
  withFake((server) => {
    server.route(
      "POST",
      "/device",
      json(200, {
        device_code: "dc-secret-0123456789",
        user_code: "GQVQ-JKEC",
        verification_url: "https://www.google.com/device",
        expires_in: "1800",
        interval: "1",
      }),
    );
    server.route("POST", "/token", [json(428, { error: "authorization_pending" }), TOKEN_OK]);
  }, async (_server, args) => {
    const result = await runMain(args);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /Address: https:\/\/www\.google\.com\/device/);
    assert.match(result.stderr, /Code:\s+GQVQ-JKEC/);
  }));

Deno.test("Entra's AADSTS errors come with advice and IDs, on one line", () =>
  withFake((server) => {
    server.route(
      "POST",
      "/device",
      json(400, {
        error: "invalid_request",
        error_description:
          "AADSTS50059: No tenant-identifying information found in either the request or implied by any provided credentials.\r\nTrace ID: abc\r\nCorrelation ID: def",
        error_codes: [50059],
        trace_id: "0b1e2a3c-trace",
        correlation_id: "9f8e7d6c-corr",
      }),
    );
  }, async (_server, args) => {
    const result = await runMain(args);
    assert.equal(result.code, 1);
    const lines = result.stderr.trim().split("\n");
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0]!, /AADSTS50059: No tenant-identifying information/);
    assert.match(lines[0]!, /Use a tenanted authority/);
    assert.match(lines[0]!, /trace ID 0b1e2a3c-trace, correlation ID 9f8e7d6c-corr/);
  }));

Deno.test("authorization_declined while polling exits 4", () =>
  withFake((server) => {
    server.route("POST", "/device", deviceResponse());
    server.route("POST", "/token", [pending, json(400, { error: "authorization_declined" })]);
  }, async (_server, args) => {
    const result = await runMain(args);
    assert.equal(result.code, 4);
    assert.match(result.stderr, /declined/);
  }));

Deno.test("malformed device responses exit 1 with a message naming the field", async (t) => {
  const cases: [string, FakeReply, RegExp][] = [
    [
      "missing user_code",
      deviceResponse({ user_code: undefined }),
      /"user_code" must be a non-empty string/,
    ],
    [
      "numeric device_code",
      deviceResponse({ device_code: 42 }),
      /"device_code" must be a non-empty string/,
    ],
    ["bad expires_in", deviceResponse({ expires_in: "soon" }), /"expires_in" must be/],
    [
      "javascript: address",
      deviceResponse({ verification_uri: "javascript:alert(1)" }),
      /unsafe address in "verification_uri": not https/,
    ],
    ["HTML page", {
      status: 200,
      body: "<html><body>Sign in</body></html>",
      headers: { "content-type": "text/html" },
    }, /expected a JSON object .*<html>/],
    ["broken JSON", {
      status: 200,
      body: '{"device_code": "x", ',
      headers: { "content-type": "application/json" },
    }, /expected a JSON object/],
    ["empty body", { status: 200, body: "" }, /expected a JSON object .*\(empty\)/],
  ];
  for (const [name, reply, pattern] of cases) {
    await t.step(
      name,
      () =>
        withFake((server) => server.route("POST", "/device", reply), async (_server, args) => {
          const result = await runMain(args);
          assert.equal(result.code, 1, result.stderr);
          assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
          assert.match(result.stderr, pattern);
        }),
    );
  }
});

Deno.test("a token response without access_token exits 1 naming the field", () =>
  withFake((server) => {
    server.route("POST", "/device", deviceResponse());
    server.route("POST", "/token", json(200, { token_type: "Bearer" }));
  }, async (_server, args) => {
    const result = await runMain(args);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /"access_token" must be a non-empty string/);
  }));

Deno.test("a server that is down exits 5", () =>
  withFake((server) => {
    server.route("POST", "/device", { status: 502, body: "Bad Gateway" });
  }, async (_server, args) => {
    const result = await runMain(args);
    assert.equal(result.code, 5);
    assert.match(result.stderr, /HTTP 502/);
  }));

Deno.test("metadata without a device authorization endpoint gives a clear error", async () => {
  const server = await startFakeServer();
  const cache = await tempCache();
  try {
    const doc = discoveryDocument(server.url);
    delete doc.device_authorization_endpoint;
    server.route("GET", "/.well-known/openid-configuration", json(200, doc));
    const result = await runMain([
      "login",
      "--authority",
      server.url,
      "--client-id",
      CLIENT,
      "--cache",
      cache.path,
    ]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /offers no device authorization endpoint/);
  } finally {
    await server.close();
    await cache.cleanup();
  }
});

Deno.test("explicit endpoints work for servers without discovery (GitHub-style)", async () => {
  const server = await startFakeServer();
  const cache = await tempCache();
  try {
    server.route("POST", "/login/device/code", deviceResponse({ interval: 1 }));
    server.route("POST", "/login/oauth/access_token", [
      json(200, { error: "authorization_pending" }),
      json(200, {
        access_token: "gho_0123456789abcdef",
        token_type: "bearer",
        scope: "repo,read:org",
      }),
    ]);
    server.route("GET", "/api/v3/user", json(200, { login: "octocat", id: 583231 }));
    const result = await runMain([
      "login",
      "--provider",
      "github",
      "--authority",
      server.url,
      "--client-id",
      CLIENT,
      "--scope",
      "repo read:org",
      "--cache",
      cache.path,
    ]);
    assert.equal(result.code, 0, result.stderr);
    const summary = JSON.parse(result.stdout);
    assert.equal(summary.username, "octocat");
    assert.equal(summary.homeAccountId, "583231");
    assert.deepEqual(summary.scopes, ["repo", "read:org"]);
    assert.equal(summary.expiresAt, null);
    const device = server.requestsTo("/login/device/code")[0]!;
    assert.equal(device.form.get("scope"), "repo read:org");
    assert.equal(device.headers.get("accept"), "application/json");
    assert.equal(server.requestsTo("/.well-known/openid-configuration").length, 0);
    // GitHub tokens without expiry are served from the cache.
    const token = await runMain(["token", "--cache", cache.path]);
    assert.equal(token.stdout, "gho_0123456789abcdef\n");
  } finally {
    await server.close();
    await cache.cleanup();
  }
});
