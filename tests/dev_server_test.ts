import assert from "node:assert/strict";
import { Buffer } from "node:buffer";

import { approveDeviceCode } from "./support/approve.ts";
import { type DevServer, type DevServerOptions, startDevServer } from "./support/dev_server.ts";

const DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";
const SCOPE = "openid profile email offline_access";

interface DeviceAuthorization {
  device_code: string;
  user_code: string;
  verification_uri: string;
  verification_uri_complete: string;
  expires_in: number;
  interval?: number;
  message?: string;
}

async function withServer(
  options: DevServerOptions,
  test: (server: DevServer) => Promise<void>,
): Promise<void> {
  const server = await startDevServer(options);
  try {
    await test(server);
  } finally {
    await server.close();
  }
}

/** POSTs a form and returns the status and the JSON body. */
async function postForm(
  url: string,
  params: Record<string, string>,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(params),
  });
  return { status: response.status, body: await response.json() };
}

async function authorizeDevice(
  server: DevServer,
  path = "/device/auth",
): Promise<DeviceAuthorization> {
  const { status, body } = await postForm(`${server.issuer}${path}`, {
    client_id: server.clientId,
    scope: SCOPE,
  });
  assert.equal(status, 200, JSON.stringify(body));
  return body as unknown as DeviceAuthorization;
}

function poll(server: DevServer, deviceCode: string, grantType = DEVICE_CODE_GRANT) {
  return postForm(`${server.issuer}/token`, {
    client_id: server.clientId,
    grant_type: grantType,
    device_code: deviceCode,
  });
}

function refresh(server: DevServer, refreshToken: string) {
  return postForm(`${server.issuer}/token`, {
    client_id: server.clientId,
    grant_type: "refresh_token",
    refresh_token: refreshToken,
  });
}

function jwtPayload(jwt: unknown): Record<string, unknown> {
  assert.equal(typeof jwt, "string");
  const [, payload = ""] = (jwt as string).split(".");
  return JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
}

Deno.test("dev server completes the device flow and rotates refresh tokens", async () => {
  await withServer({}, async (server) => {
    assert.match(server.issuer, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(server.clientId, "deviceflow-dev");

    const discovery = await fetch(`${server.issuer}/.well-known/openid-configuration`);
    const metadata = await discovery.json();
    assert.equal(metadata.issuer, server.issuer);
    assert.equal(metadata.device_authorization_endpoint, `${server.issuer}/device/auth`);
    assert.equal(metadata.token_endpoint, `${server.issuer}/token`);
    assert.equal(metadata.revocation_endpoint, `${server.issuer}/token/revocation`);
    assert.equal(metadata.userinfo_endpoint, `${server.issuer}/me`);
    assert.ok(metadata.grant_types_supported.includes(DEVICE_CODE_GRANT));

    const device = await authorizeDevice(server);
    assert.equal(device.verification_uri, `${server.issuer}/device`);
    assert.match(device.user_code, /^[B-DF-HJ-NP-TV-XZ]{4}-[B-DF-HJ-NP-TV-XZ]{4}$/);
    assert.equal(device.expires_in, 600);
    assert.equal(device.interval, undefined, "oidc-provider sends no interval by itself");

    const pending = await poll(server, device.device_code);
    assert.deepEqual([pending.status, pending.body.error], [400, "authorization_pending"]);

    await approveDeviceCode(device.verification_uri, device.user_code);

    const tokens = await poll(server, device.device_code);
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    assert.equal(tokens.body.token_type, "Bearer");
    assert.equal(tokens.body.scope, SCOPE);
    assert.equal(typeof tokens.body.access_token, "string");
    assert.equal(typeof tokens.body.refresh_token, "string");
    const idToken = jwtPayload(tokens.body.id_token);
    assert.equal(idToken.iss, server.issuer);
    assert.equal(idToken.aud, server.clientId);
    assert.equal(idToken.sub, "alice");
    assert.equal(idToken.preferred_username, "alice");
    assert.equal(idToken.email, "alice@example.com");
    assert.equal(idToken.name, "Alice");

    const userinfo = await fetch(metadata.userinfo_endpoint, {
      headers: { authorization: `Bearer ${tokens.body.access_token}` },
    });
    assert.equal(userinfo.status, 200);
    assert.equal((await userinfo.json()).sub, "alice");

    const refreshed = await refresh(server, tokens.body.refresh_token as string);
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
    assert.equal(typeof refreshed.body.access_token, "string");
    assert.notEqual(refreshed.body.access_token, tokens.body.access_token);
    assert.equal(typeof refreshed.body.refresh_token, "string");
    assert.notEqual(refreshed.body.refresh_token, tokens.body.refresh_token);

    const reused = await refresh(server, tokens.body.refresh_token as string);
    assert.deepEqual([reused.status, reused.body.error], [400, "invalid_grant"]);

    // oidc-provider treats a replayed device code as theft and revokes the grant.
    const replayed = await poll(server, device.device_code);
    assert.deepEqual([replayed.status, replayed.body.error], [400, "invalid_grant"]);
    const revoked = await refresh(server, refreshed.body.refresh_token as string);
    assert.deepEqual([revoked.status, revoked.body.error], [400, "invalid_grant"]);
  });
});

Deno.test("approveDeviceCode() accepts verification_uri_complete and a chosen login", async () => {
  await withServer(
    { accounts: { bob: { password: "hunter2", name: "Bob B." } } },
    async (server) => {
      // A failed login leaves its code in flight, as a browser tab would, so use another.
      const attempt = await authorizeDevice(server);
      await assert.rejects(
        approveDeviceCode(attempt.verification_uri_complete, attempt.user_code, {
          login: "bob",
          password: "wrong",
        }),
        /step "log in" failed: HTTP 401/,
      );
      await assert.rejects(
        approveDeviceCode(attempt.verification_uri, attempt.user_code, { login: "mallory" }),
        /the user code was not accepted/,
      );

      const device = await authorizeDevice(server);

      await approveDeviceCode(device.verification_uri_complete, device.user_code, {
        login: "bob",
        password: "hunter2",
      });
      const tokens = await poll(server, device.device_code);
      assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
      const idToken = jwtPayload(tokens.body.id_token);
      assert.deepEqual(
        [idToken.sub, idToken.name, idToken.email],
        ["bob", "Bob B.", "bob@example.com"],
      );
    },
  );
});

Deno.test("approveDeviceCode() stops with the reason when its signal aborts", async () => {
  await withServer({}, async (server) => {
    const device = await authorizeDevice(server);
    const reason = new Error("user gave up");
    await assert.rejects(
      approveDeviceCode(device.verification_uri, device.user_code, {
        signal: AbortSignal.abort(reason),
      }),
      (error) => error === reason,
    );
    assert.equal(server.count({ path: "/device" }), 0);
  });
});

Deno.test("a denied device code polls as access_denied", async () => {
  await withServer({}, async (server) => {
    const device = await authorizeDevice(server);
    await approveDeviceCode(device.verification_uri, device.user_code, { deny: true });

    const denied = await poll(server, device.device_code);
    assert.deepEqual([denied.status, denied.body.error], [400, "access_denied"]);
    // The code is used up: a second person cannot approve it afterwards.
    await assert.rejects(
      approveDeviceCode(device.verification_uri, device.user_code),
      /step "submit user code" failed: the user code was not accepted/,
    );
  });
});

Deno.test("a device code expires after deviceCodeTtl seconds", async () => {
  await withServer({ deviceCodeTtl: 2 }, async (server) => {
    const device = await authorizeDevice(server);
    assert.equal(device.expires_in, 2);
    const pending = await poll(server, device.device_code);
    assert.equal(pending.body.error, "authorization_pending");

    await new Promise((resolve) => setTimeout(resolve, 2100));

    const expired = await poll(server, device.device_code);
    assert.deepEqual([expired.status, expired.body.error], [400, "expired_token"]);
    await assert.rejects(
      approveDeviceCode(device.verification_uri, device.user_code),
      /the user code was not accepted/,
    );
  });
});

Deno.test("an unknown client_id gets invalid_client", async () => {
  await withServer({}, async (server) => {
    const authorization = await postForm(`${server.issuer}/device/auth`, {
      client_id: "nobody",
      scope: SCOPE,
    });
    assert.deepEqual([authorization.status, authorization.body.error], [401, "invalid_client"]);

    const token = await postForm(`${server.issuer}/token`, {
      client_id: "nobody",
      grant_type: DEVICE_CODE_GRANT,
      device_code: "whatever",
    });
    assert.deepEqual([token.status, token.body.error], [401, "invalid_client"]);
  });
});

Deno.test("slowDown 'enforce' answers early polls with slow_down and adds 5 s", async () => {
  await withServer({ interval: 1, slowDown: "enforce" }, async (server) => {
    const device = await authorizeDevice(server);
    assert.equal(device.interval, 1);

    const first = await poll(server, device.device_code);
    assert.equal(first.body.error, "authorization_pending");
    await new Promise((resolve) => setTimeout(resolve, 200));
    const second = await poll(server, device.device_code);
    assert.deepEqual([second.status, second.body.error], [400, "slow_down"]);
    // The interval is now 6 s, so waiting the announced 1 s is not enough any more.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const third = await poll(server, device.device_code);
    assert.equal(third.body.error, "slow_down");

    // Each device code has its own interval.
    const other = await authorizeDevice(server);
    assert.equal((await poll(server, other.device_code)).body.error, "authorization_pending");
  });
});

Deno.test("slowDown N answers the first N polls of each code with slow_down", async () => {
  await withServer({ slowDown: 1 }, async (server) => {
    for (let i = 0; i < 2; i++) {
      const device = await authorizeDevice(server);
      assert.equal(device.interval, undefined);
      assert.equal((await poll(server, device.device_code)).body.error, "slow_down");
      assert.equal((await poll(server, device.device_code)).body.error, "authorization_pending");
    }
  });
});

Deno.test("slowDown 'never' (the default) lets clients poll as fast as they like", async () => {
  await withServer({ interval: 5 }, async (server) => {
    const device = await authorizeDevice(server);
    assert.equal(device.interval, 5);
    for (let i = 0; i < 3; i++) {
      assert.equal((await poll(server, device.device_code)).body.error, "authorization_pending");
    }
  });
});

Deno.test("msalCompat accepts POST /devicecode and grant_type=device_code", async () => {
  await withServer({ msalCompat: true, interval: 2 }, async (server) => {
    const device = await authorizeDevice(server, "/devicecode");
    assert.equal(device.interval, 2);
    assert.equal(device.verification_uri, `${server.issuer}/device`);
    assert.match(device.message ?? "", new RegExp(`enter the code ${device.user_code}`));

    const pending = await poll(server, device.device_code, "device_code");
    assert.equal(pending.body.error, "authorization_pending");
    await approveDeviceCode(device.verification_uri, device.user_code);
    const tokens = await poll(server, device.device_code, "device_code");
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    assert.equal(typeof tokens.body.access_token, "string");

    assert.equal(server.count({ path: "/devicecode" }), 1);
    assert.equal(server.count({ grantType: "device_code" }), 2);
    assert.equal(server.polls(device.device_code).length, 2);
  });

  await withServer({}, async (server) => {
    const alias = await fetch(`${server.issuer}/devicecode`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ client_id: server.clientId }),
    });
    await alias.body?.cancel();
    assert.equal(alias.status, 404);
    const device = await authorizeDevice(server);
    const shortGrant = await poll(server, device.device_code, "device_code");
    assert.deepEqual([shortGrant.status, shortGrant.body.error], [400, "unsupported_grant_type"]);
  });
});

Deno.test("revokeAllGrants() makes refresh tokens invalid", async () => {
  await withServer({}, async (server) => {
    const device = await authorizeDevice(server);
    await approveDeviceCode(device.verification_uri, device.user_code);
    const tokens = await poll(server, device.device_code);
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));

    await server.revokeAllGrants();

    const refreshed = await refresh(server, tokens.body.refresh_token as string);
    assert.deepEqual([refreshed.status, refreshed.body.error], [400, "invalid_grant"]);
    const userinfo = await fetch(`${server.issuer}/me`, {
      headers: { authorization: `Bearer ${tokens.body.access_token}` },
    });
    await userinfo.body?.cancel();
    assert.equal(userinfo.status, 401);
  });
});

Deno.test("the request log records every request in order with its status", async () => {
  await withServer({}, async (server) => {
    const device = await authorizeDevice(server);
    await poll(server, device.device_code);
    const other = await authorizeDevice(server);
    await poll(server, other.device_code);
    await poll(server, device.device_code);
    await refresh(server, "not-a-token");

    assert.deepEqual(
      server.requests.map((r) => [r.method, r.path, r.grantType ?? null, r.status]),
      [
        ["POST", "/device/auth", null, 200],
        ["POST", "/token", DEVICE_CODE_GRANT, 400],
        ["POST", "/device/auth", null, 200],
        ["POST", "/token", DEVICE_CODE_GRANT, 400],
        ["POST", "/token", DEVICE_CODE_GRANT, 400],
        ["POST", "/token", "refresh_token", 400],
      ],
    );
    const times = server.requests.map((r) => r.time);
    assert.deepEqual(times, [...times].sort((a, b) => a - b));
    assert.equal(server.requests.at(-1)?.deviceCode, undefined);

    assert.equal(server.polls().length, 3);
    assert.deepEqual(server.polls(device.device_code).map((r) => r.deviceCode), [
      device.device_code,
      device.device_code,
    ]);
    assert.equal(server.polls("unknown").length, 0);
    assert.equal(server.count({ path: "/token" }), 4);
    assert.equal(server.count({ grantType: DEVICE_CODE_GRANT }), 3);
    assert.equal(server.count({ path: "/token", grantType: "refresh_token" }), 1);
    assert.equal(server.count({ path: "/device/auth" }), 2);
    assert.equal(server.count({}), 6);
  });
});

Deno.test("close() stops the server", async () => {
  const server = await startDevServer();
  await server.close();
  await server.close();
  await assert.rejects(fetch(`${server.issuer}/.well-known/openid-configuration`), TypeError);
});
