import assert from "node:assert/strict";
import { DeviceFlowClient } from "../src/client/client.ts";
import { guessProvider } from "../src/protocol/presets.ts";
import { DeviceFlowError, InvalidResponseError, ServerError } from "../src/errors.ts";
import type { Provider } from "../src/types.ts";
import { FakeClock } from "./support/fake_clock.ts";
import {
  clientInfo,
  json,
  rejection,
  ScriptedFetch,
  text,
  unsignedJwt,
} from "./support/scripted_fetch.ts";

const SECOND = 1000;

function metadata(issuer: string, extra: Record<string, unknown> = {}) {
  return {
    issuer,
    authorization_endpoint: `${issuer}/authorize`,
    device_authorization_endpoint: `${issuer}/device`,
    token_endpoint: `${issuer}/token`,
    revocation_endpoint: `${issuer}/revoke`,
    userinfo_endpoint: `${issuer}/userinfo`,
    ...extra,
  };
}

function deviceBody(extra: Record<string, unknown> = {}) {
  return {
    device_code: `dc-${crypto.randomUUID()}`,
    user_code: "WDJB-MJHT",
    verification_uri: "https://id.example.com/activate",
    expires_in: 900,
    interval: 5,
    ...extra,
  };
}

function makeClient(options: {
  authority?: string;
  provider?: Provider;
  clientSecret?: string;
  clientId?: string;
}) {
  const clock = new FakeClock();
  const server = new ScriptedFetch(clock);
  const client = new DeviceFlowClient({
    clientId: options.clientId ?? "endpoints-client",
    fetch: server.fetch,
    clock,
    ...options,
  });
  return { clock, server, client };
}

function gets(server: ScriptedFetch): string[] {
  return server.calls.filter((c) => c.method === "GET").map((c) => c.url);
}

Deno.test("resolveEndpoints() fetches OIDC discovery once per client instance", async () => {
  const issuer = "https://id.example.com";
  const { client, server } = makeClient({ authority: issuer });
  server.on(`${issuer}/.well-known/openid-configuration`, json(200, metadata(issuer)));
  server.on(`${issuer}/device`, json(200, deviceBody()));
  await Promise.all([client.initiateDeviceFlow(), client.initiateDeviceFlow()]);
  await client.initiateDeviceFlow();
  assert.deepEqual(gets(server), [`${issuer}/.well-known/openid-configuration`]);
  assert.equal(server.callsTo(`${issuer}/device`, "POST").length, 3);
  const endpoints = await client.resolveEndpoints();
  assert.deepEqual(endpoints, {
    issuer,
    deviceAuthorization: `${issuer}/device`,
    token: `${issuer}/token`,
    revocation: `${issuer}/revoke`,
    userinfo: `${issuer}/userinfo`,
  });
  assert.equal(gets(server).length, 1);
});

Deno.test("resolveEndpoints() falls back to RFC 8414 metadata when openid-configuration is 404", async () => {
  const issuer = "https://as.example.com/tenant1";
  const notFoundAnswers = [
    text(404, "Not Found"),
    // Spring Boot's error page is JSON with an "error" member.
    json(404, { timestamp: "2025-01-01T00:00:00Z", status: 404, error: "Not Found", path: "/" }),
  ];
  for (const notFound of notFoundAnswers) {
    const { client, server } = makeClient({ authority: issuer });
    server.on(`${issuer}/.well-known/openid-configuration`, notFound);
    server.on(
      "https://as.example.com/.well-known/oauth-authorization-server/tenant1",
      json(200, metadata(issuer)),
    );
    server.on(`${issuer}/device`, json(200, deviceBody()));
    await client.initiateDeviceFlow();
    assert.deepEqual(gets(server), [
      "https://as.example.com/tenant1/.well-known/openid-configuration",
      "https://as.example.com/.well-known/oauth-authorization-server/tenant1",
    ]);
    assert.equal(server.callsTo(`${issuer}/device`, "POST").length, 1);
  }
});

Deno.test("resolveEndpoints() rejects metadata whose issuer does not match the authority", async () => {
  const issuer = "https://id.example.com";
  const { client, server } = makeClient({ authority: issuer });
  server.on(
    `${issuer}/.well-known/openid-configuration`,
    json(200, metadata("https://impostor.example.com")),
  );
  const error = await rejection(client.initiateDeviceFlow());
  assert.ok(error instanceof InvalidResponseError, String(error));
  assert.match(error.message, /"issuer"/);
  assert.match(error.message, /impostor\.example\.com/);
  assert.equal(server.calls.filter((c) => c.method === "POST").length, 0);
});

Deno.test("resolveEndpoints() fails with no_device_endpoint when the metadata has no device_authorization_endpoint", async () => {
  const issuer = "https://id.example.com";
  const { client, server } = makeClient({ authority: issuer });
  server.on(
    `${issuer}/.well-known/openid-configuration`,
    json(200, metadata(issuer, { device_authorization_endpoint: undefined })),
  );
  const error = await rejection(client.initiateDeviceFlow());
  assert.ok(error instanceof DeviceFlowError, String(error));
  assert.equal(error.code, "no_device_endpoint");
  assert.match(error.message, /device_authorization_endpoint/);
});

Deno.test("resolveEndpoints() rejects an insecure endpoint in the metadata", async () => {
  const issuer = "https://id.example.com";
  const { client, server } = makeClient({ authority: issuer });
  server.on(
    `${issuer}/.well-known/openid-configuration`,
    json(200, metadata(issuer, { token_endpoint: "http://id.example.com/token" })),
  );
  server.on(`${issuer}/device`, json(200, deviceBody()));
  const error = await rejection(client.initiateDeviceFlow());
  assert.ok(error instanceof InvalidResponseError, String(error));
  assert.match(error.message, /token_endpoint/);
  assert.match(error.message, /https/);
  assert.equal(server.calls.filter((c) => c.method === "POST").length, 0);
});

Deno.test("DeviceFlowClient discovers an Entra tenant under /v2.0, adds the OIDC scopes and sends client_info=1", async () => {
  const tid = "72f988bf-86f1-41af-91ab-2d7cd011db47";
  const base = `https://login.microsoftonline.com/${tid}`;
  const { client, server } = makeClient({
    authority: "https://login.microsoftonline.com/contoso.onmicrosoft.com",
    clientId: "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
  });
  assert.equal(client.provider, "entra");
  server.on(
    "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration",
    json(200, {
      issuer: `${base}/v2.0`,
      token_endpoint: `${base}/oauth2/v2.0/token`,
      device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
      userinfo_endpoint: "https://graph.microsoft.com/oidc/userinfo",
    }),
  );
  server.on(
    `${base}/oauth2/v2.0/devicecode`,
    json(200, {
      device_code: "DAQABAAEAAAD--DLA3VO7QrddgJg7WevrEntraDeviceCode",
      user_code: "F7ZQ8SL4K",
      verification_uri: "https://microsoft.com/devicelogin",
      expires_in: 900,
      interval: 5,
      message:
        "To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code F7ZQ8SL4K to authenticate.",
    }),
  );
  server.on(
    `${base}/oauth2/v2.0/token`,
    json(400, {
      error: "authorization_pending",
      error_description: "AADSTS70016: OAuth 2.0 device flow error. Authorization is pending.",
      error_codes: [70016],
    }),
    json(200, {
      token_type: "Bearer",
      scope: "User.Read profile openid email",
      expires_in: 4742,
      access_token: "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.entra-access.sig",
      refresh_token: "0.AAAA-entra-refresh",
      client_info: clientInfo("uid-1", tid),
      id_token: unsignedJwt({
        iss: `${base}/v2.0`,
        aud: "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
        sub: "pairwise",
        preferred_username: "ada@contoso.com",
        tid,
      }),
    }),
  );
  const code = await client.initiateDeviceFlow({ scopes: ["User.Read"] });
  assert.match(code.message, /F7ZQ8SL4K/);
  const [deviceCall] = server.callsTo(`${base}/oauth2/v2.0/devicecode`, "POST");
  assert.equal(deviceCall?.form?.scope, "User.Read openid profile offline_access");
  assert.equal(deviceCall?.form?.client_id, "04b07795-8ddb-461a-bbee-02f9e1bf7b46");

  const token = await client.acquireTokenByDeviceFlow(code);
  const polls = server.callsTo(`${base}/oauth2/v2.0/token`, "POST");
  assert.equal(polls.length, 2);
  for (const poll of polls) {
    assert.equal(poll.form?.client_info, "1");
    assert.equal(poll.form?.device_code, code.deviceCode);
  }
  assert.equal(token.account.homeAccountId, `uid-1.${tid}`);
  assert.equal(token.account.tenantId, tid);
  assert.equal(token.account.username, "ada@contoso.com");
  assert.equal(
    gets(server).join(),
    "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration",
  );
});

Deno.test("DeviceFlowClient reports an unknown Entra tenant as a ServerError with advice", async () => {
  const { client, server } = makeClient({
    authority: "https://login.microsoftonline.com/nope.onmicrosoft.com",
  });
  server.on(
    "https://login.microsoftonline.com/nope.onmicrosoft.com/v2.0/.well-known/openid-configuration",
    json(400, {
      error: "invalid_tenant",
      error_description:
        "AADSTS90002: Tenant 'nope.onmicrosoft.com' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.\r\nTrace ID: 1\r\nCorrelation ID: 2",
      error_codes: [90002],
      timestamp: "2025-01-01 00:00:00Z",
      trace_id: "trace-1",
      correlation_id: "corr-1",
      error_uri: "https://login.microsoftonline.com/error?code=90002",
    }),
  );
  const error = await rejection(client.initiateDeviceFlow({ scopes: ["User.Read"] }));
  assert.ok(error instanceof ServerError, String(error));
  assert.equal(error.error, "invalid_tenant");
  assert.equal(error.status, 400);
  assert.deepEqual(error.errorCodes, [90002]);
  assert.equal(error.correlationId, "corr-1");
  assert.match(error.advice ?? "", /tenant was not found/);
  assert.match(error.message, /AADSTS90002/);
  assert.match(error.message, /check the tenant name and the cloud/);
});

Deno.test("DeviceFlowClient uses GitHub's fixed endpoints with Accept: application/json and no default scopes", async () => {
  const { client, server } = makeClient({ provider: "github", clientId: "Iv1.github-client" });
  server.on(
    "https://github.com/login/device/code",
    json(200, {
      device_code: "3584d83530557fdd1f46af8289938c8ef79f9dc5",
      user_code: "WDJB-MJHT",
      verification_uri: "https://github.com/login/device",
      expires_in: 899,
      interval: 5,
    }),
  );
  server.on(
    "https://github.com/login/oauth/access_token",
    json(200, { error: "authorization_pending" }),
    json(200, {
      access_token: "gho_16C7e42F292c6912E7710c838347Ae178B4a",
      token_type: "bearer",
      scope: "repo,gist",
    }),
  );
  server.on("https://api.github.com/user", json(200, { login: "octocat", id: 583231 }));

  const code = await client.initiateDeviceFlow();
  const [noScopes] = server.callsTo("https://github.com/login/device/code");
  assert.deepEqual(noScopes?.form, { client_id: "Iv1.github-client" });
  await client.initiateDeviceFlow({ scopes: ["repo", "gist"] });
  const [, withScopes] = server.callsTo("https://github.com/login/device/code");
  assert.equal(withScopes?.form?.scope, "repo gist");

  const token = await client.acquireTokenByDeviceFlow(code);
  assert.deepEqual(token.scopes, ["repo", "gist"]);
  assert.equal(token.account.username, "octocat");
  assert.equal(token.account.homeAccountId, "583231");
  assert.equal(token.expiresAt, undefined);
  assert.deepEqual(gets(server), ["https://api.github.com/user"]);
  assert.equal(
    server.callsTo("https://api.github.com/user")[0]?.headers.get("authorization"),
    "Bearer gho_16C7e42F292c6912E7710c838347Ae178B4a",
  );
  assert.deepEqual(server.unexpected, []);
  for (const call of server.calls.filter((c) => c.method === "POST")) {
    assert.equal(call.headers.get("accept"), "application/json", call.url);
    assert.ok(call.form && !("client_secret" in call.form));
  }
  assert.equal(server.callsTo("https://github.com/login/oauth/access_token").length, 2);
});

Deno.test("DeviceFlowClient accepts Google's verification_url and sends the client secret when polling", async () => {
  const { client, server } = makeClient({
    provider: "google",
    clientId: "123-tv.apps.googleusercontent.com",
    clientSecret: "GOCSPX-google-secret",
  });
  assert.equal(client.authority, "https://accounts.google.com");
  server.on(
    "https://oauth2.googleapis.com/device/code",
    json(200, {
      device_code: "AH-1Ng3google-device-code",
      user_code: "GQVQ-JKEC",
      verification_url: "https://www.google.com/device",
      expires_in: 1800,
      interval: 5,
    }),
  );
  server.on(
    "https://oauth2.googleapis.com/token",
    json(428, { error: "authorization_pending", error_description: "Precondition Required" }),
    json(403, { error: "slow_down", error_description: "Forbidden" }),
    json(200, {
      access_token: "ya29.google-access",
      expires_in: 3599,
      scope: "openid https://www.googleapis.com/auth/userinfo.email",
      token_type: "Bearer",
      id_token: unsignedJwt({
        iss: "https://accounts.google.com",
        aud: "123-tv.apps.googleusercontent.com",
        sub: "10769150350006150715113082367",
        email: "ada@gmail.com",
      }),
    }),
  );
  const code = await client.initiateDeviceFlow({ scopes: ["email"] });
  assert.equal(code.verificationUri, "https://www.google.com/device");
  const token = await client.acquireTokenByDeviceFlow(code);
  assert.equal(token.accessToken, "ya29.google-access");
  assert.equal(token.account.username, "ada@gmail.com");
  const polls = server.callsTo("https://oauth2.googleapis.com/token", "POST");
  assert.equal(polls.length, 3);
  for (const poll of polls) assert.equal(poll.form?.client_secret, "GOCSPX-google-secret");
  // pending at 5 s, slow_down at 10 s, then the interval is 10 s.
  assert.deepEqual(polls.map((p) => p.time - polls[0]!.time), [0, 5 * SECOND, 15 * SECOND]);
  assert.deepEqual(gets(server), []);
});

Deno.test("DeviceFlowClient skips discovery when the endpoints are given", async () => {
  const clock = new FakeClock();
  const server = new ScriptedFetch(clock);
  const client = new DeviceFlowClient({
    clientId: "explicit-client",
    authority: "https://id.example.com",
    endpoints: {
      deviceAuthorization: "https://id.example.com/oauth/device",
      token: "https://id.example.com/oauth/token",
    },
    fetch: server.fetch,
    clock,
  });
  server.on("https://id.example.com/oauth/device", json(200, deviceBody()));
  server.on("https://id.example.com/oauth/token", json(200, { access_token: "at-explicit" }));
  const code = await client.initiateDeviceFlow();
  await client.acquireTokenByDeviceFlow(code);
  assert.deepEqual(gets(server), []);
  assert.deepEqual(server.calls.map((c) => c.url), [
    "https://id.example.com/oauth/device",
    "https://id.example.com/oauth/token",
  ]);
});

Deno.test("guessProvider() knows the Entra hosts, B2C, GitHub and Google", () => {
  const cases: [string, Provider][] = [
    ["https://login.microsoftonline.com/common", "entra"],
    ["https://login.microsoftonline.us/contoso.onmicrosoft.us", "entra"],
    ["https://login.chinacloudapi.cn/contoso.partner.onmschina.cn", "entra"],
    ["https://login-us.microsoftonline.com/organizations", "entra"],
    ["https://contoso.b2clogin.com/contoso.onmicrosoft.com/B2C_1_signin", "entra"],
    ["https://contoso.ciamlogin.com/contoso.onmicrosoft.com", "entra"],
    ["https://LOGIN.MICROSOFTONLINE.COM/contoso.com", "entra"],
    ["https://github.com", "github"],
    ["https://accounts.google.com", "google"],
    ["https://keycloak.example.com/realms/dev", "oidc"],
    ["https://login.microsoftonline.com.evil.example/common", "oidc"],
    ["https://notb2clogin.com/x", "oidc"],
  ];
  for (const [url, provider] of cases) {
    assert.equal(guessProvider(new URL(url)), provider, url);
  }
});
