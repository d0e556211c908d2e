/**
 * `deviceflow decode`: a JWT's header, claims and dates, from an argument or
 * stdin; clear refusals of opaque tokens and garbage.
 */

import assert from "node:assert/strict";
import { runMain } from "./support/cli_harness.ts";
import { runProcess, runWithIo } from "./support/signed_in.ts";

function base64url(value: unknown): string {
  const binary = String.fromCharCode(...new TextEncoder().encode(JSON.stringify(value)));
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

const HEADER = { alg: "RS256", typ: "JWT", kid: "key-1" };
const CLAIMS = {
  iss: "https://issuer.example",
  sub: "alice",
  aud: ["api", "other"],
  exp: 1893456000, // 2030-01-01T00:00:00Z
  nbf: 1700000000.5,
  iat: 1700000000,
  name: "Ålice ✓",
};
const JWT = `${base64url(HEADER)}.${base64url(CLAIMS)}.c2lnbmF0dXJlLW5vdC1jaGVja2Vk`;

const EXPECTED = {
  header: HEADER,
  claims: CLAIMS,
  dates: {
    exp: "2030-01-01T00:00:00.000Z",
    nbf: "2023-11-14T22:13:20.500Z",
    iat: "2023-11-14T22:13:20.000Z",
  },
  signatureVerified: false,
};

Deno.test("decode prints a JWT's header and claims, with exp, nbf and iat as dates", async () => {
  const result = await runMain(["decode", JWT]);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(JSON.parse(result.stdout), EXPECTED);
  assert.equal(result.stderr, "Note: the signature was not verified\n");
  assert.ok(!result.stdout.includes("c2lnbmF0dXJl"), "the signature was printed");
});

Deno.test("decode reads the token from stdin with no argument or with -", async () => {
  for (const args of [["decode"], ["decode", "-"]]) {
    const result = await runWithIo(args, `${JWT}\n`);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), EXPECTED);
  }
  // As in: deviceflow token | deviceflow decode
  const piped = await runProcess(["decode"], `${JWT}\n`);
  assert.equal(piped.code, 0, piped.stderr);
  assert.deepEqual(JSON.parse(piped.stdout), EXPECTED);
  assert.match(piped.stderr, /signature was not verified/);
});

Deno.test("decode takes what 'token --output header' prints", async () => {
  const result = await runWithIo(["decode"], `Authorization: Bearer ${JWT}\n`);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(JSON.parse(result.stdout).claims.sub, "alice");
});

Deno.test("decode leaves out dates that are not numbers", async () => {
  const jwt = `${base64url({ alg: "none" })}.${base64url({ sub: "x", exp: "soon", iat: 1e20 })}.`;
  const result = await runMain(["decode", jwt]);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(JSON.parse(result.stdout).dates, {});
});

Deno.test("decode exits 1 with a clear line for an opaque token", async () => {
  for (
    const token of ["gho_16C7e42F292c6912E7710c838347Ae178B4a", "ya29.a0AfH6SMBx-opaque.token"]
  ) {
    const result = await runMain(["decode", token]);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, "");
    assert.equal(
      result.stderr,
      "deviceflow: decode: this is an opaque token, not a JWT: only the server that issued it can read what it stands for\n",
    );
  }
});

Deno.test("decode exits 1 for garbage, a damaged JWT and a JWE; 2 when there is no token", async () => {
  const cases: [string, RegExp][] = [
    ["not a token at all!", /this is not a token: it has characters/],
    [`${base64url(HEADER)}.bm90IGpzb24.sig`, /not a valid JWT: its header or claims are not/],
    [`${base64url({ alg: "RSA-OAEP", enc: "A256GCM" })}.a.b.c.d`, /encrypted JWT \(JWE\)/],
  ];
  for (const [token, pattern] of cases) {
    const result = await runMain(["decode", token]);
    assert.equal(result.code, 1, token);
    assert.equal(result.stdout, "");
    assert.match(result.stderr, pattern);
    assert.equal(result.stderr.split("\n").length, 2, result.stderr);
  }
  const empty = await runWithIo(["decode"], "  \n");
  assert.equal(empty.code, 2);
  assert.match(empty.stderr, /no token given/);
  const two = await runMain(["decode", JWT, JWT]);
  assert.equal(two.code, 2);
});
