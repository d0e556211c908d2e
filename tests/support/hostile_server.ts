/**
 * A hostile authorization server, on the scriptable fake server: every
 * string it sends may carry terminal escapes (OSC 52 writes the clipboard,
 * CSI moves the cursor), 8-bit C1 controls, bidi overrides, zero-width
 * characters and line breaks that try to forge a line of output. With the
 * checks that what the CLI wrote is safe.
 *
 * @module
 */

import assert from "node:assert/strict";
import { discoveryDocument, type FakeReply, type FakeServer, json } from "./fake_server.ts";

/** Text that tries every trick: clipboard write, screen clear, C1 CSI, RTL override, zero-width, DEL, a forged line. */
export const HOSTILE =
  "\x1b]52;c;ZXZpbA==\x07\x1b[2J\u009b31m\u202eevil\u2066\u200b\x7f\r\nFAKE: forged line";

/**
 * The characters that must never reach stdout or stderr raw (a newline may),
 * written out here rather than taken from the code under test.
 */
// deno-lint-ignore no-control-regex
const UNSAFE = new RegExp(
  "[\\x00-\\x09\\x0b-\\x1f\\x7f-\\x9f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2060-\\u2069\\ufeff]",
);

/**
 * Asserts that text written by the CLI has nothing a terminal would act on.
 *
 * @param text What was written.
 * @param where Which output, for the message.
 */
export function assertTerminalSafe(text: string, where: string): void {
  const found = text.match(UNSAFE);
  assert.equal(
    found,
    null,
    `${where}: ${JSON.stringify(found?.[0])} reached the output in ${JSON.stringify(text)}`,
  );
}

/**
 * Asserts that every line is a JSON object and that the raw text carries no
 * unsafe character (C1 and bidi are escaped in JSON too).
 *
 * @param text What was written.
 * @param where Which output, for the message.
 * @returns The parsed lines.
 */
export function jsonLines(text: string, where: string): Record<string, unknown>[] {
  assertTerminalSafe(text, where);
  return text.split("\n").filter(Boolean).map((line) => {
    const value = JSON.parse(line);
    assert.equal(typeof value, "object", `${where}: ${line}`);
    return value as Record<string, unknown>;
  });
}

/** base64url of UTF-8, as JWTs encode their parts. */
function part(value: unknown): string {
  return new TextEncoder().encode(JSON.stringify(value)).toBase64({
    alphabet: "base64url",
    omitPadding: true,
  });
}

/**
 * An ID token (unsigned: the client does not check signatures) with the
 * claims a valid one has, and `claims` over them.
 *
 * @param issuer The issuer (the fake server's URL).
 * @param clientId The audience.
 * @param claims Claims to add or replace.
 * @returns The JWT.
 */
export function idToken(
  issuer: string,
  clientId: string,
  claims: Record<string, unknown> = {},
): string {
  const now = Math.floor(Date.now() / 1000);
  const all = {
    iss: issuer,
    aud: clientId,
    sub: "subject-1",
    iat: now,
    exp: now + 3600,
    ...claims,
  };
  return `${part({ alg: "RS256", typ: "JWT" })}.${part(all)}.c2lnbmF0dXJl`;
}

/** What the hostile server sends; each part replaces the well-behaved default. */
export interface HostileScript {
  /** Fields over a valid device authorization response. */
  device?: Record<string, unknown>;
  /** The token endpoint's answers (a script: the last repeats). */
  token?: FakeReply | FakeReply[];
  /** Fields over the discovery document. */
  discovery?: Record<string, unknown>;
  /** The userinfo answer. */
  userinfo?: FakeReply;
  /** The revocation answer. */
  revoke?: FakeReply;
}

/** The client ID the hostile server's sign-ins use. */
export const HOSTILE_CLIENT = "hostile-client";

/**
 * A valid token response, with `fields` over it.
 *
 * @param fields Fields to add or replace.
 * @returns The reply.
 */
export function tokenResponse(fields: Record<string, unknown> = {}): FakeReply {
  return json(200, {
    access_token: "at-hostile-0123456789",
    token_type: "Bearer",
    expires_in: 3600,
    refresh_token: "rt-hostile-0123456789",
    ...fields,
  });
}

/**
 * Routes the hostile server's endpoints.
 *
 * @param server The fake server.
 * @param script What to send.
 */
export function serveHostile(server: FakeServer, script: HostileScript = {}): void {
  server.route(
    "GET",
    "/.well-known/openid-configuration",
    json(200, discoveryDocument(server.url, script.discovery)),
  );
  server.route(
    "POST",
    "/device",
    json(200, {
      device_code: "dc-hostile-0123456789",
      user_code: "HOST-ILE1",
      verification_uri: `${server.url}/verify`,
      expires_in: 600,
      interval: 1,
      ...script.device,
    }),
  );
  server.route("POST", "/token", script.token ?? tokenResponse());
  server.route(
    "GET",
    "/userinfo",
    script.userinfo ?? json(200, { sub: "u1", preferred_username: "user1" }),
  );
  server.route("POST", "/revoke", script.revoke ?? { status: 200, body: "" });
}

/**
 * The options that point the CLI at the hostile server.
 *
 * @param server The fake server.
 * @param cache The cache file.
 * @returns The arguments.
 */
export function hostileArgs(server: FakeServer, cache: string): string[] {
  return [
    "--authority",
    server.url,
    "--client-id",
    HOSTILE_CLIENT,
    "--cache",
    cache,
    "--no-default-scopes",
  ];
}
