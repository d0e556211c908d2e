import assert from "node:assert/strict";
import { DeviceFlowClient } from "../src/client/client.ts";
import { InvalidResponseError } from "../src/errors.ts";
import { MAX_BODY_BYTES } from "../src/http.ts";
import type { Provider } from "../src/types.ts";
import { FakeClock } from "./support/fake_clock.ts";
import {
  clientInfo,
  json,
  rejection,
  ScriptedFetch,
  unsignedJwt,
} from "./support/scripted_fetch.ts";

const ISSUER = "https://id.example.com";
const DEVICE = `${ISSUER}/device`;
const TOKEN = `${ISSUER}/token`;
const CLIENT_ID = "responses-client";
const SECOND = 1000;

const DEVICE_BODY = {
  device_code: "GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS",
  user_code: "WDJB-MJHT",
  verification_uri: "https://id.example.com/activate",
  expires_in: 1800,
  interval: 5,
};

function makeClient(options: { provider?: Provider; clientSecret?: string } = {}) {
  const clock = new FakeClock();
  const server = new ScriptedFetch(clock);
  const client = new DeviceFlowClient({
    clientId: CLIENT_ID,
    endpoints: { deviceAuthorization: DEVICE, token: TOKEN, issuer: ISSUER },
    fetch: server.fetch,
    clock,
    ...options,
  });
  return { clock, server, client };
}

/** Answers the device authorization request with `body` and returns what the client made of it. */
function initiate(body: unknown) {
  const { client, server, clock } = makeClient();
  server.on(DEVICE, json(200, body));
  return { promise: client.initiateDeviceFlow({ scopes: ["api.read"] }), server, clock };
}

/** A whole sign-in whose token endpoint answers `tokenBody`. */
async function signIn(
  tokenBody: Record<string, unknown>,
  options: { provider?: Provider; scopes?: string[] } = {},
) {
  const { client, server, clock } = makeClient(
    options.provider ? { provider: options.provider } : {},
  );
  server.on(DEVICE, json(200, DEVICE_BODY));
  server.on(TOKEN, json(200, tokenBody));
  const code = await client.initiateDeviceFlow({ scopes: options.scopes ?? ["api.read"] });
  const t0 = clock.now();
  return { result: client.acquireTokenByDeviceFlow(code), t0, server };
}

async function invalidResponse(promise: Promise<unknown>): Promise<InvalidResponseError> {
  const error = await rejection(promise);
  assert.ok(error instanceof InvalidResponseError, `expected InvalidResponseError, got ${error}`);
  assert.equal(error.code, "invalid_response");
  return error;
}

// ------------------------------------------------------------------ device authorization

Deno.test("initiateDeviceFlow() accepts Google's verification_url", async () => {
  const { verification_uri: _, ...rest } = DEVICE_BODY;
  const { promise } = initiate({ ...rest, verification_url: "https://www.google.com/device" });
  const code = await promise;
  assert.equal(code.verificationUri, "https://www.google.com/device");
  assert.equal(code.verificationUriComplete, undefined);
});

Deno.test("initiateDeviceFlow() accepts expires_in and interval as numeric strings", async () => {
  const { promise, clock } = initiate({ ...DEVICE_BODY, expires_in: "900", interval: "7" });
  const code = await promise;
  assert.equal(code.expiresAt.getTime(), clock.now() + 900 * SECOND);
  assert.equal(code.interval, 7);
});

Deno.test("initiateDeviceFlow() defaults the interval to 5 s", async () => {
  const { interval: _, ...rest } = DEVICE_BODY;
  const code = await initiate(rest).promise;
  assert.equal(code.interval, 5);
});

Deno.test("initiateDeviceFlow() returns every field of a complete response", async () => {
  const { promise, server } = initiate({
    ...DEVICE_BODY,
    verification_uri_complete: "https://id.example.com/activate?user_code=WDJB-MJHT",
  });
  const code = await promise;
  assert.equal(code.deviceCode, DEVICE_BODY.device_code);
  assert.equal(code.userCode, "WDJB-MJHT");
  assert.equal(code.verificationUri, "https://id.example.com/activate");
  assert.equal(code.verificationUriComplete, "https://id.example.com/activate?user_code=WDJB-MJHT");
  assert.deepEqual(code.scopes, ["api.read", "openid", "profile", "offline_access"]);
  const [call] = server.callsTo(DEVICE, "POST");
  assert.deepEqual(call?.form, {
    client_id: CLIENT_ID,
    scope: "api.read openid profile offline_access",
  });
});

const REQUIRED_FIELDS: Record<string, { missing: true; empty: unknown; wrong: unknown }> = {
  user_code: { missing: true, empty: "", wrong: 12345678 },
  device_code: { missing: true, empty: "", wrong: { code: "x" } },
  verification_uri: { missing: true, empty: "", wrong: ["https://id.example.com/activate"] },
  expires_in: { missing: true, empty: "", wrong: true },
};

for (const [name, cases] of Object.entries(REQUIRED_FIELDS)) {
  Deno.test(`initiateDeviceFlow() rejects a missing, empty or wrong-typed ${name}, naming it`, async () => {
    const variants: [string, Record<string, unknown>][] = [
      ["missing", Object.fromEntries(Object.entries(DEVICE_BODY).filter(([k]) => k !== name))],
      ["empty", { ...DEVICE_BODY, [name]: cases.empty }],
      ["wrong-typed", { ...DEVICE_BODY, [name]: cases.wrong }],
    ];
    for (const [what, body] of variants) {
      const error = await invalidResponse(initiate(body).promise);
      assert.ok(
        error.message.includes(`"${name}"`),
        `${what} ${name}: the message does not name it: ${error.message}`,
      );
      assert.match(error.message, /id\.example\.com/);
    }
  });
}

Deno.test("initiateDeviceFlow() rejects a zero or negative expires_in", async () => {
  for (const expires of [0, -5, "-5"]) {
    const error = await invalidResponse(initiate({ ...DEVICE_BODY, expires_in: expires }).promise);
    assert.match(error.message, /"expires_in"/);
  }
});

Deno.test("initiateDeviceFlow() rejects a verification_uri that is not http or https", async () => {
  for (const uri of ["javascript:alert(1)", "file:///etc/passwd", "/activate"]) {
    const error = await invalidResponse(
      initiate({ ...DEVICE_BODY, verification_uri: uri }).promise,
    );
    assert.match(error.message, /"verification_uri"/, uri);
  }
});

Deno.test("initiateDeviceFlow() rejects a verification_uri with control characters or spaces", async () => {
  for (
    const uri of [
      "https://id.example.com/activate\x1b[2J",
      "https://id.example.com/activate\nNow open https://evil.example",
      "https://id.example.com/activate and https://evil.example",
    ]
  ) {
    const error = await invalidResponse(
      initiate({ ...DEVICE_BODY, verification_uri: uri }).promise,
    );
    assert.match(error.message, /"verification_uri"/, JSON.stringify(uri));
    assert.ok(!error.message.includes("\x1b"));
  }
});

Deno.test("initiateDeviceFlow() rejects a user_code with control characters", async () => {
  for (
    const userCode of ["WDJB\x1b[31m-MJHT", "WDJB-MJHT\nOpen https://evil.example", "AB\x07CD"]
  ) {
    const error = await invalidResponse(
      initiate({ ...DEVICE_BODY, user_code: userCode }).promise,
    );
    assert.match(error.message, /"user_code"/, JSON.stringify(userCode));
    assert.ok(!error.message.includes("\x1b"));
  }
});

Deno.test("initiateDeviceFlow() strips ANSI escapes from the server's message", async () => {
  const code = await initiate({
    ...DEVICE_BODY,
    message:
      "\x1b[2J\x1b[31mTo sign in, use a web browser to open https://id.example.com/activate\x1b[0m",
  }).promise;
  assert.equal(
    code.message,
    "To sign in, use a web browser to open https://id.example.com/activate",
  );
});

Deno.test("initiateDeviceFlow() composes a message with the address and the code when the server sends none", async () => {
  const code = await initiate(DEVICE_BODY).promise;
  assert.ok(code.message.includes("https://id.example.com/activate"), code.message);
  assert.ok(code.message.includes("WDJB-MJHT"), code.message);
});

Deno.test("initiateDeviceFlow() refuses a body over 1 MiB announced by Content-Length, without reading it", async () => {
  const { client, server } = makeClient();
  let pulls = 0;
  server.on(DEVICE, () =>
    new Response(
      new ReadableStream<Uint8Array>({
        pull(controller) {
          pulls++;
          controller.enqueue(new Uint8Array(64 * 1024).fill(0x20));
        },
      }, { highWaterMark: 0 }),
      {
        status: 200,
        headers: {
          "content-type": "application/json",
          "content-length": String(MAX_BODY_BYTES + 1),
        },
      },
    ));
  const error = await invalidResponse(client.initiateDeviceFlow());
  assert.match(error.message, /larger than 1 MiB/);
  assert.equal(pulls, 0);
});

Deno.test("initiateDeviceFlow() refuses a streamed body over 1 MiB without Content-Length", async () => {
  const { client, server } = makeClient();
  let sent = 0;
  let cancelled = false;
  const chunk = new Uint8Array(64 * 1024).fill(0x20);
  server.on(DEVICE, () => {
    const response = new Response(
      new ReadableStream<Uint8Array>({
        pull(controller) {
          // 8 MiB in all: without the limit the client would read it whole.
          if (sent >= 8 * MAX_BODY_BYTES) return controller.close();
          sent += chunk.byteLength;
          controller.enqueue(chunk.slice());
        },
        cancel() {
          cancelled = true;
        },
      }, { highWaterMark: 0 }),
      { status: 200, headers: { "content-type": "application/json" } },
    );
    assert.equal(response.headers.get("content-length"), null);
    return response;
  });
  const error = await invalidResponse(client.initiateDeviceFlow());
  assert.match(error.message, /larger than 1 MiB/);
  assert.ok(sent <= MAX_BODY_BYTES + 2 * chunk.byteLength, `read ${sent} bytes`);
  assert.ok(cancelled, "the body stream was not cancelled");
});

// ------------------------------------------------------------------ token response

Deno.test("acquireTokenByDeviceFlow() rejects a token response without access_token, naming it", async () => {
  const { result } = await signIn({ token_type: "Bearer", expires_in: 3600 });
  const error = await invalidResponse(result);
  assert.match(error.message, /"access_token"/);
});

Deno.test("acquireTokenByDeviceFlow() accepts expires_in as a string", async () => {
  const { result, t0 } = await signIn({ access_token: "at-string-expiry", expires_in: "3600" });
  const token = await result;
  // The token arrives on the first poll, 5 s after the code.
  assert.equal(token.expiresAt?.getTime(), t0 + 5 * SECOND + 3600 * SECOND);
  assert.equal(token.tokenType, "Bearer");
});

Deno.test("acquireTokenByDeviceFlow() splits GitHub's comma-separated scopes", async () => {
  const { result } = await signIn({
    access_token: "gho_comma_scopes",
    token_type: "bearer",
    scope: "repo,read:org,gist",
  });
  assert.deepEqual((await result).scopes, ["repo", "read:org", "gist"]);
});

Deno.test("acquireTokenByDeviceFlow() reports the requested scopes when the response has no scope", async () => {
  const { result } = await signIn({ access_token: "at-no-scope" }, {
    scopes: ["api.read api.write"],
  });
  assert.deepEqual((await result).scopes, [
    "api.read",
    "api.write",
    "openid",
    "profile",
    "offline_access",
  ]);
});

Deno.test("acquireTokenByDeviceFlow() decodes the ID token's claims into the account", async () => {
  const idToken = unsignedJwt({
    iss: ISSUER,
    aud: CLIENT_ID,
    sub: "user-123",
    preferred_username: "ada@example.com",
    tid: "tenant-9",
  });
  const token = await (await signIn({ access_token: "at-with-id", id_token: idToken })).result;
  assert.equal(token.idToken, idToken);
  assert.equal(token.idTokenClaims?.sub, "user-123");
  assert.equal(token.idTokenClaims?.preferred_username, "ada@example.com");
  assert.equal(token.account.username, "ada@example.com");
  assert.equal(token.account.homeAccountId, "user-123");
  assert.equal(token.account.tenantId, "tenant-9");
  assert.equal(token.account.clientId, CLIENT_ID);
});

Deno.test("acquireTokenByDeviceFlow() rejects an ID token for another audience", async () => {
  const idToken = unsignedJwt({ iss: ISSUER, aud: "someone-else", sub: "user-123" });
  const error = await invalidResponse(
    (await signIn({ access_token: "at-wrong-aud", id_token: idToken })).result,
  );
  assert.match(error.message, /aud/);
});

Deno.test("acquireTokenByDeviceFlow() rejects an ID token from another issuer", async () => {
  const idToken = unsignedJwt({ iss: "https://evil.example", aud: CLIENT_ID, sub: "user-123" });
  const error = await invalidResponse(
    (await signIn({ access_token: "at-wrong-iss", id_token: idToken })).result,
  );
  assert.match(error.message, /iss/);
  assert.match(error.message, /evil\.example/);
});

Deno.test("acquireTokenByDeviceFlow() rejects an id_token that is not a JWT", async () => {
  const error = await invalidResponse(
    (await signIn({ access_token: "at-opaque-id", id_token: "opaque-not-a-jwt" })).result,
  );
  assert.match(error.message, /"id_token"/);
});

Deno.test("acquireTokenByDeviceFlow() reads Entra's client_info, refresh_in and foci", async () => {
  const { result, t0 } = await signIn({
    access_token: "at-entra-shape",
    token_type: "Bearer",
    expires_in: 3599,
    ext_expires_in: 3599,
    refresh_in: 1800,
    refresh_token: "rt-entra-shape-family",
    scope: "User.Read profile openid email",
    client_info: clientInfo("00000000-0000-0000-66f3-3332eca7ea81", "9188040d-6c67-4c5b-b112"),
    foci: "1",
    id_token: unsignedJwt({
      iss: ISSUER,
      aud: CLIENT_ID,
      sub: "pairwise-sub",
      preferred_username: "ada@contoso.com",
    }),
  }, { provider: "entra", scopes: ["User.Read"] });
  const token = await result;
  const issuedAt = t0 + 5 * SECOND;
  assert.equal(
    token.account.homeAccountId,
    "00000000-0000-0000-66f3-3332eca7ea81.9188040d-6c67-4c5b-b112",
  );
  assert.equal(token.account.tenantId, "9188040d-6c67-4c5b-b112");
  assert.equal(token.account.username, "ada@contoso.com");
  assert.equal(token.refreshAt?.getTime(), issuedAt + 1800 * SECOND);
  assert.equal(token.expiresAt?.getTime(), issuedAt + 3599 * SECOND);
  assert.equal(token.familyId, "1");
  assert.equal(token.refreshToken, "rt-entra-shape-family");
});
