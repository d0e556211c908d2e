import assert from "node:assert/strict";
import { TokenCache } from "../cache.ts";
import { DeviceFlowClient, type DeviceFlowClientOptions } from "../src/client/client.ts";
import {
  InteractionRequiredError,
  InvalidResponseError,
  NetworkError,
  ServerError,
} from "../src/errors.ts";
import type { DeviceCode, TokenResult } from "../src/types.ts";
import { FakeClock } from "./support/fake_clock.ts";
import {
  json,
  networkError,
  rejection,
  ScriptedFetch,
  text,
  unsignedJwt,
} from "./support/scripted_fetch.ts";

const ISSUER = "https://id.example.com";
const DEVICE = `${ISSUER}/device`;
const TOKEN = `${ISSUER}/token`;
const REVOKE = `${ISSUER}/revoke`;
const CLIENT_ID = "client-test-app";
const SECOND = 1000;

// ------------------------------------------------------------------ options

function construct(options: unknown): () => DeviceFlowClient {
  return () => new DeviceFlowClient(options as DeviceFlowClientOptions);
}

Deno.test("new DeviceFlowClient() requires a clientId, naming it", () => {
  for (const clientId of [undefined, "", "   ", 42]) {
    assert.throws(
      construct({ clientId, authority: ISSUER }),
      (e: unknown) => e instanceof TypeError && /clientId/.test(e.message),
      String(clientId),
    );
  }
});

Deno.test("new DeviceFlowClient() refuses a non-https authority off loopback, naming it", () => {
  for (
    const authority of [
      "http://example.com",
      "http://127.0.0.1.evil.example",
      "http://localhost.evil.example",
      "ftp://example.com",
      "not a url",
    ]
  ) {
    assert.throws(
      construct({ clientId: CLIENT_ID, authority }),
      (e: unknown) => e instanceof TypeError && /authority/.test(e.message),
      authority,
    );
  }
});

Deno.test("new DeviceFlowClient() allows plain http on loopback addresses", () => {
  for (
    const authority of [
      "http://127.0.0.1:8080",
      "http://localhost:8080/realms/dev",
      "http://[::1]:8080",
      "http://127.1.2.3",
    ]
  ) {
    const client = new DeviceFlowClient({ clientId: CLIENT_ID, authority });
    assert.equal(client.authority, authority.replace(/\/$/, ""));
    assert.equal(client.provider, "oidc");
  }
});

Deno.test("new DeviceFlowClient() refuses an unknown provider, naming the option", () => {
  assert.throws(
    construct({ clientId: CLIENT_ID, authority: ISSUER, provider: "azure" }),
    (e: unknown) => e instanceof TypeError && /provider/.test(e.message) && /azure/.test(e.message),
  );
});

Deno.test("new DeviceFlowClient() refuses malformed or insecure endpoints, naming them", () => {
  const cases: [unknown, RegExp][] = [
    ["https://id.example.com/device", /endpoints/],
    [null, /endpoints/],
    [
      { deviceAuthorization: "http://id.example.com/device", token: TOKEN },
      /endpoints\.deviceAuthorization/,
    ],
    [{ deviceAuthorization: DEVICE, token: "not a url" }, /endpoints\.token/],
    [{ deviceAuthorization: DEVICE }, /endpoints\.token/],
    [
      { deviceAuthorization: DEVICE, token: TOKEN, revocation: "http://x.example/r" },
      /endpoints\.revocation/,
    ],
  ];
  for (const [endpoints, pattern] of cases) {
    assert.throws(
      construct({ clientId: CLIENT_ID, endpoints }),
      (e: unknown) => e instanceof TypeError && pattern.test(e.message),
      JSON.stringify(endpoints),
    );
  }
});

Deno.test("new DeviceFlowClient() refuses a requestTimeout that is not a positive number", () => {
  for (const requestTimeout of [0, -1, NaN, Infinity, "30000"]) {
    assert.throws(
      construct({ clientId: CLIENT_ID, authority: ISSUER, requestTimeout }),
      (e: unknown) => e instanceof TypeError && /requestTimeout/.test(e.message),
      String(requestTimeout),
    );
  }
});

Deno.test("new DeviceFlowClient() requires an authority, endpoints or a preset provider", () => {
  assert.throws(
    construct({ clientId: CLIENT_ID }),
    (e: unknown) => e instanceof TypeError && /authority/.test(e.message),
  );
  assert.equal(
    new DeviceFlowClient({ clientId: CLIENT_ID, provider: "github" }).authority,
    "https://github.com",
  );
});

// ------------------------------------------------------------------ a fake server

interface Setup {
  clock: FakeClock;
  server: ScriptedFetch;
  cache: TokenCache;
  client: DeviceFlowClient;
}

function setup(options: Partial<DeviceFlowClientOptions> = {}): Setup {
  const clock = new FakeClock();
  const server = new ScriptedFetch(clock);
  const cache = TokenCache.memory();
  const client = new DeviceFlowClient({
    clientId: CLIENT_ID,
    endpoints: { deviceAuthorization: DEVICE, token: TOKEN, revocation: REVOKE, issuer: ISSUER },
    fetch: server.fetch,
    clock,
    cache,
    ...options,
  });
  return { clock, server, cache, client };
}

function deviceBody(deviceCode = `dc-${crypto.randomUUID()}`) {
  return {
    device_code: deviceCode,
    user_code: "WDJB-MJHT",
    verification_uri: "https://id.example.com/activate",
    expires_in: 900,
    interval: 5,
  };
}

function tokenBody(accessToken: string, refreshToken?: string, expiresIn = 3600) {
  return {
    access_token: accessToken,
    token_type: "Bearer",
    expires_in: expiresIn,
    scope: "api.read",
    ...(refreshToken ? { refresh_token: refreshToken } : {}),
    id_token: unsignedJwt({
      iss: ISSUER,
      aud: CLIENT_ID,
      sub: "user-1",
      preferred_username: "ada@example.com",
    }),
  };
}

/** A complete device-flow sign-in; returns the tokens and when they were issued. */
async function signIn(s: Setup, accessToken: string, refreshToken: string) {
  s.server.on(DEVICE, json(200, deviceBody()));
  s.server.on(TOKEN, json(200, tokenBody(accessToken, refreshToken)));
  const code = await s.client.initiateDeviceFlow({ scopes: ["api.read"] });
  const token = await s.client.acquireTokenByDeviceFlow(code);
  return { token, issuedAt: s.clock.now() };
}

function tokenCalls(s: Setup) {
  return s.server.callsTo(TOKEN, "POST");
}

// ------------------------------------------------------------------ scopes

Deno.test("initiateDeviceFlow() splits scopes on spaces and removes duplicates", async () => {
  const s = setup();
  s.server.on(DEVICE, json(200, deviceBody()));
  const code = await s.client.initiateDeviceFlow({
    scopes: ["api.read  api.write", "api.read", " openid ", "api.write\tapi.admin"],
  });
  const expected = ["api.read", "api.write", "openid", "api.admin", "profile", "offline_access"];
  assert.deepEqual(code.scopes, expected);
  assert.equal(s.server.callsTo(DEVICE)[0]?.form?.scope, expected.join(" "));
});

Deno.test("initiateDeviceFlow() with defaultScopes: false adds no scopes", async () => {
  const s = setup({ defaultScopes: false });
  s.server.on(DEVICE, json(200, deviceBody()));
  const code = await s.client.initiateDeviceFlow({ scopes: ["api.read"] });
  assert.deepEqual(code.scopes, ["api.read"]);
  assert.equal(s.server.callsTo(DEVICE)[0]?.form?.scope, "api.read");
  await s.client.initiateDeviceFlow();
  assert.deepEqual(s.server.callsTo(DEVICE)[1]?.form, { client_id: CLIENT_ID });
});

// ------------------------------------------------------------------ redaction

Deno.test("ServerError redacts a device code the server echoes in error_description", async () => {
  const s = setup();
  const deviceCode = "GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS";
  s.server.on(DEVICE, json(200, deviceBody(deviceCode)));
  s.server.on(
    TOKEN,
    json(400, {
      error: "invalid_request",
      error_description: `Unknown device_code ${deviceCode} for this client`,
    }),
  );
  const code = await s.client.initiateDeviceFlow();
  const error = await rejection(s.client.acquireTokenByDeviceFlow(code));
  assert.ok(error instanceof ServerError, String(error));
  assert.equal(tokenCalls(s)[0]?.form?.device_code, deviceCode);
  assert.ok(!error.message.includes(deviceCode), error.message);
  assert.match(error.message, /Unknown device_code \[redacted\] for this client/);
  assert.ok(!Deno.inspect(error).includes(deviceCode), "inspecting the error shows the code");
});

Deno.test("ServerError redacts an access token seen earlier that the server echoes back", async () => {
  const s = setup();
  const accessToken = "at-echoed-secret-7f3a9c2e";
  await signIn(s, accessToken, "rt-echoed-secret-1b2c3d");
  s.server.on(
    TOKEN,
    json(400, {
      error: "invalid_request",
      error_description: `Token ${accessToken} was presented where a refresh token was expected`,
    }),
  );
  const error = await rejection(s.client.acquireTokenSilent({ forceRefresh: true }));
  assert.ok(error instanceof ServerError, String(error));
  assert.ok(!error.message.includes(accessToken), error.message);
  assert.match(error.message, /Token \[redacted\] was presented/);
  assert.ok(!Deno.inspect(error).includes(accessToken));
});

Deno.test("InvalidResponseError keeps the tokens of a malformed token response out of its cause", async () => {
  const s = setup();
  const accessToken = "at-malformed-secret-0a1b2c";
  s.server.on(DEVICE, json(200, deviceBody()));
  s.server.on(TOKEN, json(200, { access_token: accessToken, expires_in: "soon" }));
  const code = await s.client.initiateDeviceFlow();
  const error = await rejection(s.client.acquireTokenByDeviceFlow(code));
  assert.ok(error instanceof InvalidResponseError, String(error));
  assert.match(error.message, /"expires_in"/);
  assert.ok(!Deno.inspect(error).includes(accessToken), Deno.inspect(error));
});

// ------------------------------------------------------------------ silent acquisition

Deno.test("acquireTokenSilent() returns the cached token after a device-flow sign-in, with no request", async () => {
  const s = setup();
  const { token } = await signIn(s, "at-cached-1", "rt-cached-1");
  const before = s.server.calls.length;
  const silent = await s.client.acquireTokenSilent();
  const scoped = await s.client.acquireTokenSilent({ scopes: ["api.read"] });
  assert.equal(silent.accessToken, "at-cached-1");
  assert.equal(scoped.accessToken, "at-cached-1");
  assert.deepEqual(silent.account, token.account);
  assert.equal(silent.expiresAt?.getTime(), token.expiresAt?.getTime());
  assert.equal(silent.idTokenClaims?.preferred_username, "ada@example.com");
  assert.equal(s.server.calls.length, before);
  const accounts = await s.client.getAccounts();
  assert.deepEqual(accounts.map((a) => a.username), ["ada@example.com"]);
});

Deno.test("acquireTokenSilent() refreshes an expired access token once and keeps the rotated refresh token", async () => {
  const s = setup();
  const { token } = await signIn(s, "at-expiring-1", "rt-rotating-1");
  s.clock.advance(3600 * SECOND);
  s.server.on(TOKEN, json(200, tokenBody("at-refreshed-2", "rt-rotating-2")));
  const before = tokenCalls(s).length;

  const refreshed = await s.client.acquireTokenSilent({ scopes: ["api.read"] });
  assert.equal(refreshed.accessToken, "at-refreshed-2");
  assert.equal(refreshed.expiresAt?.getTime(), s.clock.now() + 3600 * SECOND);
  const calls = tokenCalls(s).slice(before);
  assert.equal(calls.length, 1);
  assert.deepEqual(calls[0]?.form, {
    grant_type: "refresh_token",
    refresh_token: "rt-rotating-1",
    client_id: CLIENT_ID,
    scope: "api.read openid profile offline_access",
  });
  const stored = await s.cache.getRefreshToken(token.account);
  assert.equal(stored?.secret, "rt-rotating-2");

  const again = await s.client.acquireTokenSilent({ scopes: ["api.read"] });
  assert.equal(again.accessToken, "at-refreshed-2");
  assert.equal(tokenCalls(s).length, before + 1);
});

Deno.test("acquireTokenSilent() keeps the old refresh token when the refresh answer has none", async () => {
  const s = setup();
  const { token } = await signIn(s, "at-no-rotation-1", "rt-no-rotation-1");
  s.clock.advance(3601 * SECOND);
  s.server.on(TOKEN, json(200, tokenBody("at-no-rotation-2")));
  assert.equal((await s.client.acquireTokenSilent()).accessToken, "at-no-rotation-2");
  assert.equal((await s.cache.getRefreshToken(token.account))?.secret, "rt-no-rotation-1");
});

Deno.test("acquireTokenSilent() turns invalid_grant into InteractionRequiredError and forgets the refresh token", async () => {
  const s = setup();
  const { token } = await signIn(s, "at-revoked-1", "rt-revoked-1");
  s.clock.advance(3600 * SECOND);
  s.server.on(
    TOKEN,
    json(400, { error: "invalid_grant", error_description: "The refresh token was revoked" }),
  );
  const before = tokenCalls(s).length;
  const error = await rejection(s.client.acquireTokenSilent());
  assert.ok(error instanceof InteractionRequiredError, String(error));
  assert.equal(error.code, "interaction_required");
  assert.equal(error.serverError?.error, "invalid_grant");
  assert.equal(tokenCalls(s).length, before + 1);
  assert.equal(await s.cache.getRefreshToken(token.account), undefined);

  const later = await rejection(s.client.acquireTokenSilent());
  assert.ok(later instanceof InteractionRequiredError, String(later));
  assert.equal(tokenCalls(s).length, before + 1);
});

Deno.test("acquireTokenSilent() returns the cached token when a refresh fails on the network before it expires", async () => {
  const s = setup();
  await signIn(s, "at-still-valid-1", "rt-still-valid-1");
  // 100 s left: inside the 300 s minTtl window, so a refresh is due, but the token still works.
  s.clock.advance(3500 * SECOND);
  s.server.on(TOKEN, networkError());
  const before = tokenCalls(s).length;
  const result = await s.client.acquireTokenSilent();
  assert.equal(result.accessToken, "at-still-valid-1");
  assert.equal(tokenCalls(s).length, before + 1);

  // Once it has expired, the network error is the answer.
  s.clock.advance(200 * SECOND);
  const error = await rejection(s.client.acquireTokenSilent());
  assert.ok(error instanceof NetworkError, String(error));
});

Deno.test("acquireTokenSilent() with forceRefresh refreshes a token that is still fresh", async () => {
  const s = setup();
  await signIn(s, "at-forced-1", "rt-forced-1");
  s.server.on(TOKEN, json(200, tokenBody("at-forced-2", "rt-forced-2")));
  const before = tokenCalls(s).length;
  const result = await s.client.acquireTokenSilent({ forceRefresh: true });
  assert.equal(result.accessToken, "at-forced-2");
  assert.equal(tokenCalls(s).length, before + 1);
  assert.equal(tokenCalls(s).at(-1)?.form?.refresh_token, "rt-forced-1");
  assert.equal((await s.client.acquireTokenSilent()).accessToken, "at-forced-2");
  assert.equal(tokenCalls(s).length, before + 1);
});

Deno.test("acquireTokenSilent() makes one refresh request for concurrent callers", async () => {
  const s = setup();
  await signIn(s, "at-concurrent-1", "rt-concurrent-1");
  s.clock.advance(4000 * SECOND);
  s.server.on(TOKEN, async () => {
    await new Promise((resolve) => setTimeout(resolve, 5));
    return json(200, tokenBody("at-concurrent-2", "rt-concurrent-2"));
  });
  const before = tokenCalls(s).length;
  const results = await Promise.all([
    s.client.acquireTokenSilent(),
    s.client.acquireTokenSilent({ scopes: ["api.read"] }),
    s.client.acquireTokenSilent(),
    s.client.acquireTokenSilent({ scopes: ["api.read"] }),
  ]);
  assert.deepEqual(results.map((r) => r.accessToken), Array(4).fill("at-concurrent-2"));
  assert.equal(tokenCalls(s).length, before + 1);
});

Deno.test("removeAccount() revokes the refresh token with token_type_hint=refresh_token", async () => {
  const s = setup();
  const { token } = await signIn(s, "at-logout-1", "rt-logout-1");
  s.server.on(REVOKE, text(200, ""));
  const outcome = await s.client.removeAccount(token.account);
  assert.deepEqual(outcome, { revoked: true, revocation: "revoked" });
  const [call] = s.server.callsTo(REVOKE, "POST");
  assert.deepEqual(call?.form, {
    token: "rt-logout-1",
    token_type_hint: "refresh_token",
    client_id: CLIENT_ID,
  });
  assert.deepEqual(await s.client.getAccounts(), []);
  assert.ok((await rejection(s.client.acquireTokenSilent())) instanceof InteractionRequiredError);
});

Deno.test("removeAccount() removes the account even when revocation fails", async () => {
  const outcomes = [
    { revoked: false, revocation: "failed" },
    { revoked: false, revocation: "refused", status: 503 },
  ];
  for (const [i, failure] of [networkError(), text(503, "unavailable")].entries()) {
    const s = setup();
    const { token } = await signIn(s, "at-logout-fail-1", "rt-logout-fail-1");
    s.server.on(REVOKE, failure);
    const outcome = await s.client.removeAccount(token.account);
    assert.deepEqual(outcome, outcomes[i]);
    assert.equal(s.server.callsTo(REVOKE, "POST").length, 1);
    assert.deepEqual(await s.client.getAccounts(), []);
    assert.equal(await s.cache.getRefreshToken(token.account), undefined);
  }
});

Deno.test("acquireToken() falls back to the device flow when nothing is cached, and calls onDeviceCode", async () => {
  const s = setup();
  s.server.on(DEVICE, json(200, deviceBody()));
  s.server.on(
    TOKEN,
    json(400, { error: "authorization_pending" }),
    json(200, tokenBody("at-fallback-1", "rt-fallback-1")),
  );
  const shown: DeviceCode[] = [];
  const result: TokenResult = await s.client.acquireToken({
    scopes: ["api.read"],
    onDeviceCode: (code) => {
      shown.push(code);
    },
  });
  assert.equal(result.accessToken, "at-fallback-1");
  assert.equal(shown.length, 1);
  assert.equal(shown[0]?.userCode, "WDJB-MJHT");
  assert.deepEqual(s.server.calls.map((c) => c.url), [DEVICE, TOKEN, TOKEN]);

  const again = await s.client.acquireToken({
    scopes: ["api.read"],
    onDeviceCode: (code) => {
      shown.push(code);
    },
  });
  assert.equal(again.accessToken, "at-fallback-1");
  assert.equal(shown.length, 1);
  assert.equal(s.server.calls.length, 3);
});
